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
		// EIO on reads and writes: two lines once; then EROFS on
		// writes alone: one line once.
		if got := logs.count("heartbeat I/O error"); got != 3 {
			t.Errorf("%d I/O error warnings for 15 failing iterations, want 3 (read and write errors once, then the new write error once)", got)
		}
		if got := logs.count("heartbeat I/O works again"); got != 1 {
			t.Errorf("%d recovery lines, want 1", got)
		}
		if st.State != Steady {
			t.Errorf("state %s after writes work again, want steady", st.State)
		}
	})
}
