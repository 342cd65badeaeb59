package hbdisk

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
)

// syncBuffer is a log destination safe for the region's goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) count(msg string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Count(s.b.String(), "msg=\""+msg)
}

// countAll counts the lines holding every one of subs.
func (s *syncBuffer) countAll(subs ...string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for line := range strings.SplitSeq(s.b.String(), "\n") {
		all := line != ""
		for _, sub := range subs {
			all = all && strings.Contains(line, sub)
		}
		if all {
			n++
		}
	}
	return n
}

func TestRegionLogsIOErrorsOncePerChange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		disk := testDisk()
		var logs syncBuffer
		n := newTestRegion(t, disk.Device(), 2, []int{1, 2}, func(c *Config) {
			c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			c.DeadThreshold = 31 // long enough to see many failing iterations
		})
		startAll(t, n)
		synctest.Wait()
		before := n.r.Status().WriteErrors
		disk.FailWrites(syscall.EIO)
		disk.FailReads(syscall.EIO)
		time.Sleep(10 * tInterval)
		synctest.Wait()
		disk.FailReads(nil)
		disk.FailWrites(syscall.EROFS)
		time.Sleep(5 * tInterval)
		synctest.Wait()
		disk.FailWrites(nil)
		time.Sleep(5 * tInterval)
		synctest.Wait()
		st := n.r.Status()
		if got := st.WriteErrors - before; got < 14 {
			t.Errorf("WriteErrors grew by %d over 15 failing iterations, want every one counted", got)
		}
		// EIO on reads and writes: one line naming both, once; then
		// EROFS on writes alone: one line once.
		if got := logs.count("heartbeat I/O error"); got != 2 {
			t.Errorf("%d I/O error warnings for 15 failing iterations, want 2 (read and write errors once, then the new write error once)", got)
		}
		if got := logs.countAll("read_err=", "write_err="); got != 1 {
			t.Errorf("%d warnings name both the read and the write error, want 1 (the first)", got)
		}
		if got := logs.count("heartbeat I/O works again"); got != 1 {
			t.Errorf("%d recovery lines, want 1", got)
		}
		if st.State != Steady {
			t.Errorf("state %s after writes work again, want steady", st.State)
		}
	})
}
