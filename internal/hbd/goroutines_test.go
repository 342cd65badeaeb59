package hbd

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/backend/memsource"
	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
	"github.com/o2cb-ra/o2cb-ra/internal/hbdisk"
	"github.com/o2cb-ra/o2cb-ra/internal/hbdisk/memdisk"
	"github.com/o2cb-ra/o2cb-ra/internal/retry"
	"github.com/o2cb-ra/o2cb-ra/internal/rundir"
)

// daemonGoroutines returns the stacks of the goroutines the daemon or the
// server started: those running one of their methods, but for the
// caller's and those of the tests, which call them.
func daemonGoroutines() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
	for i, g := range strings.Split(string(buf), "\n\n") {
		ours := strings.Contains(g, "internal/hbd.(*Daemon)") || strings.Contains(g, "internal/hbd.(*Server)")
		if i > 0 && ours && !strings.Contains(g, "internal/hbd.Test") {
			out = append(out, g)
		}
	}
	return out
}

// slowOn is a log handler that takes a second over the records of one
// message: a goroutine of the daemon that logs it is still running
// when the others have ended.
type slowOn struct {
	slog.Handler
	msg string
}

func (h slowOn) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == h.msg {
		time.Sleep(time.Second)
	}
	return h.Handler.Handle(ctx, r)
}

func (h slowOn) WithAttrs(as []slog.Attr) slog.Handler { return slowOn{h.Handler.WithAttrs(as), h.msg} }
func (h slowOn) WithGroup(name string) slog.Handler    { return slowOn{h.Handler.WithGroup(name), h.msg} }

// Shutdown returns only once every goroutine of the daemon has ended:
// the watches of steady regions, a start under way (which still logs
// that it did not start, slowly), the retries of a failed cluster
// region, the watch of a region in collision. (The bubble itself fails
// if a goroutine outlives the test.)
func TestShutdownLeavesNoGoroutine(t *testing.T) {
	steady, failing, collided, unsettled := memUUID1, memUUID2, memUUID(1), memUUID(2)
	conf := writeClusterConf(t, t.TempDir(), "global", 2, steady, failing, collided, unsettled)
	synctest.Test(t, func(t *testing.T) {
		src := memsource.New()
		disks := map[string]*memdisk.Disk{}
		for _, u := range []string{steady, failing, collided, unsettled} {
			disks[u] = src.Add(u, nil)
		}
		fault := &readOnly{uuid: failing}
		src.Open = fault.open
		slow := slowOn{testLogger(t).Handler(), "heartbeat region did not start"}
		d := memDaemon(t, conf, "n1", src, func(c *Config) {
			c.Logger, c.Retry = slog.New(slow), retry.Backoff{First: time.Second, Max: time.Second}
		})
		for _, u := range []string{steady, failing, collided} {
			if _, err := d.StartRegion(t.Context(), u, "", hbclient.OwnerGlobal, false); err != nil {
				t.Fatalf("start %s: %v", u, err)
			}
		}
		// A failed region the daemon retries.
		fault.on.Store(true)
		time.Sleep((testThreshold + 2) * testInterval)
		if r := regionOf(d.Status(), failing); r.State != hbclient.StateFailed || (r.Retries == 0 && r.RetryAt == "") {
			t.Fatalf("read-only region: %+v, want failed and retried", r)
		}
		// A region in collision: a foreign writer in our slot, writing
		// four times an interval for up to three intervals (one write at
		// the instant of our own could be overwritten before we read).
		foreign := make([]byte, memsource.Geometry.BlockBytes)
		for i := uint64(1); i <= 12 && regionOf(d.Status(), collided).State != hbclient.StateCollision; i++ {
			hbdisk.Slot(foreign).Encode(hbdisk.Block{Seq: i, Node: 1, Generation: 0xfeedface})
			disks[collided].WriteRaw(foreign, memsource.Geometry.SlotOffset(1))
			time.Sleep(testInterval / 4)
		}
		if r := regionOf(d.Status(), collided); r.State != hbclient.StateCollision {
			t.Fatalf("region with a foreign writer: %+v, want collision", r)
		}
		// A start under way: not steady before two intervals.
		starting := make(chan error, 1)
		var wg sync.WaitGroup
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_, err := d.StartRegion(ctx, unsettled, "", hbclient.OwnerGlobal, false)
			starting <- err
		})
		time.Sleep(testInterval / 2)
		if len(daemonGoroutines()) == 0 {
			t.Fatal("no goroutine of the daemon runs before Shutdown: the test sees none")
		}

		d.Shutdown(context.Background())
		if gs := daemonGoroutines(); len(gs) != 0 {
			t.Errorf("%d goroutines of the daemon left after Shutdown:\n%s", len(gs), strings.Join(gs, "\n\n"))
		}
		wg.Wait()
		if err := <-starting; err == nil {
			t.Errorf("the start under way at Shutdown succeeded")
		}
		if _, err := d.StartRegion(t.Context(), steady, "", hbclient.OwnerGlobal, false); !errors.Is(err, ErrStopping) {
			t.Errorf("start after Shutdown = %v, want ErrStopping", err)
		}
	})
}

// Serve returns only once the goroutines of the server have ended: one
// per connection and its hang-up watch, the watch of ctx, and the
// daemon's.
func TestServeLeavesNoGoroutine(t *testing.T) {
	src := memsource.New()
	src.Add(memUUID1, nil)
	conf := writeClusterConf(t, t.TempDir(), "local", 2)
	run := filepath.Join(t.TempDir(), "run")
	d, err := New(Config{RunDir: run, ClusterConf: conf, NodeName: "n1", Interval: testInterval, DeadThreshold: testThreshold,
		Source: src, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	s, err := Listen(d)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	c := hbclient.NewClient(run)
	if _, err := c.Do(t.Context(), hbclient.Request{Op: hbclient.OpStart, UUID: memUUID1, Owner: "service:/a", Consumer: true}); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, err := c.Status(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	// A client that says nothing yet, connected when the daemon stops.
	idle, err := net.Dial("unix", filepath.Join(run, rundir.SocketName))
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	time.Sleep(testInterval / 2)
	idle.Write([]byte(`{"v":1,"op":"ping"}` + "\n"))
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if gs := daemonGoroutines(); len(gs) != 0 {
		t.Errorf("%d goroutines of the server or the daemon left after Serve:\n%s", len(gs), strings.Join(gs, "\n\n"))
	}
}
