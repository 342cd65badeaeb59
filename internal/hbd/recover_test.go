package hbd

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/backend"
	"github.com/o2cb-ra/o2cb-ra/internal/backend/memsource"
	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
	"github.com/o2cb-ra/o2cb-ra/internal/hbdisk"
	"github.com/o2cb-ra/o2cb-ra/internal/retry"
)

// TestNewRefusesBadBackoff: the daemon checks its retry backoff (the
// schedule itself is package retry's).
func TestNewRefusesBadBackoff(t *testing.T) {
	conf := writeClusterConf(t, t.TempDir(), "global", 1)
	if _, err := New(Config{ClusterConf: conf, NodeName: "n1", Retry: retry.Backoff{First: time.Minute, Max: time.Second}}); err == nil ||
		!strings.Contains(err.Error(), "retry backoff") {
		t.Errorf("New with a backoff whose cap is below its first pause = %v, want an error naming the retry backoff", err)
	}
}

// readOnly puts a switchable read-only fault in front of one region's
// device (a memsource.Source's Open), as blockdev --setro does to a block
// device: opening it fails with EROFS, writes through a handle opened
// before fail with EPERM, reads work. It records when the device is
// opened.
type readOnly struct {
	uuid  string
	on    atomic.Bool
	mu    sync.Mutex
	opens []time.Time
}

func (f *readOnly) open(spec backend.Spec, dev hbdisk.Device) (hbdisk.Device, error) {
	if spec.UUID != f.uuid {
		return dev, nil
	}
	f.mu.Lock()
	f.opens = append(f.opens, time.Now())
	f.mu.Unlock()
	if f.on.Load() {
		return nil, &fs.PathError{Op: "open", Path: spec.Device, Err: syscall.EROFS}
	}
	return roDevice{dev, f, spec.Device}, nil
}

// firstOpenAfter returns the first open strictly after t.
func (f *readOnly) firstOpenAfter(t time.Time) (time.Time, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, o := range f.opens {
		if o.After(t) {
			return o, true
		}
	}
	return time.Time{}, false
}

type roDevice struct {
	hbdisk.Device
	f    *readOnly
	path string
}

func (d roDevice) WriteAt(p []byte, off int64) (int, error) {
	if d.f.on.Load() {
		return 0, &fs.PathError{Op: "write", Path: d.path, Err: syscall.EPERM}
	}
	return d.Device.WriteAt(p, off)
}

// logRecord is one record a recorder kept.
type logRecord struct {
	at    time.Time
	level slog.Level
	msg   string
	attrs map[string]string
}

func (r logRecord) String() string {
	return fmt.Sprintf("%s %s %q %v", r.at.Format("15:04:05.000"), r.level, r.msg, r.attrs)
}

// recorder is a log handler that keeps every record, debug ones too.
type recorder struct {
	mu    *sync.Mutex
	recs  *[]logRecord
	attrs []slog.Attr
}

func newRecorder() recorder { return recorder{mu: new(sync.Mutex), recs: new([]logRecord)} }

func (h recorder) Enabled(context.Context, slog.Level) bool { return true }
func (h recorder) WithGroup(string) slog.Handler            { return h }
func (h recorder) WithAttrs(as []slog.Attr) slog.Handler {
	return recorder{h.mu, h.recs, append(slices.Clone(h.attrs), as...)}
}

func (h recorder) Handle(_ context.Context, r slog.Record) error {
	rec := logRecord{at: r.Time, level: r.Level, msg: r.Message, attrs: map[string]string{}}
	for _, a := range h.attrs {
		rec.attrs[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool { rec.attrs[a.Key] = a.Value.String(); return true })
	h.mu.Lock()
	*h.recs = append(*h.recs, rec)
	h.mu.Unlock()
	return nil
}

// since returns the records after t.
func (h recorder) since(t time.Time) []logRecord {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []logRecord
	for _, r := range *h.recs {
		if r.at.After(t) {
			out = append(out, r)
		}
	}
	return out
}

// retryDaemon is a daemon of node n1 in this process on the regions of
// src, whose devices open through fault; it serves no socket (the
// synctest bubble must not wait on the network) and is shut down when
// the test ends.
func retryDaemon(t *testing.T, conf string, src *memsource.Source, fault *readOnly, log recorder, backoff retry.Backoff) *Daemon {
	t.Helper()
	src.Open = fault.open
	return memDaemon(t, conf, "n1", src, func(c *Config) { c.Logger, c.Retry = slog.New(log), backoff })
}

func regionOf(st *hbclient.Status, uuid string) hbclient.RegionStatus {
	for _, r := range st.Regions {
		if r.UUID == uuid {
			return r
		}
	}
	return hbclient.RegionStatus{State: "absent"}
}

// A cluster region on a device that stays read-only is failed in every
// status sample from its failure on, while the daemon retries it on the
// default schedule (1 s doubling to 60 s): a new generation for each
// retry and none between, one debug line per retry, no line from the
// retries' engines. The other region stays steady. Once the device is
// writable again, the next retry brings the region back, steady without
// ever showing starting.
func TestReadOnlyRegionRetriesBackingOff(t *testing.T) {
	bad, good := memUUID1, memUUID2
	conf := writeClusterConf(t, t.TempDir(), "global", 1, bad, good)
	const retriesToSee = 8 // the last three at the 60 s cap
	synctest.Test(t, func(t *testing.T) {
		src := memsource.New()
		src.Add(bad, nil)
		src.Add(good, nil)
		fault := &readOnly{uuid: bad}
		log := newRecorder()
		d := retryDaemon(t, conf, src, fault, log, retry.Backoff{})
		for _, u := range []string{bad, good} {
			if _, err := d.StartRegion(t.Context(), u, "", hbclient.OwnerGlobal, false); err != nil {
				t.Fatalf("start %s: %v", u, err)
			}
		}
		gen0 := regionOf(d.Status(), bad).Generation

		fault.on.Store(true)
		roAt := time.Now()
		step := testInterval / 2
		var failedAt time.Time
		gens := map[string]bool{gen0: true}
		samples, badSamples := 0, 0
		var last hbclient.RegionStatus
		for {
			time.Sleep(step)
			st := d.Status()
			b, g := regionOf(st, bad), regionOf(st, good)
			samples++
			gens[b.Generation] = true
			if g.State != hbclient.StateSteady {
				t.Fatalf("%v after the device became read-only: the other region is %s, want steady", time.Since(roAt), g.State)
			}
			first := false
			if failedAt.IsZero() && b.State == hbclient.StateFailed {
				failedAt, first = time.Now(), true
			}
			if !failedAt.IsZero() {
				badSamples++
				if b.State != hbclient.StateFailed {
					t.Fatalf("%v after the region failed: state %s (%+v), want failed while the device is read-only",
						time.Since(failedAt), b.State, b)
				}
				if !strings.Contains(b.Error, "read-only file system") && !strings.Contains(b.Error, "operation not permitted") {
					t.Fatalf("failed region's error %q names neither EROFS nor EPERM", b.Error)
				}
				if strings.HasPrefix(b.Error, "region "+bad) {
					t.Fatalf("failed region's error %q names the region, which status has beside it", b.Error)
				}
				// The sample at the very instant of the failure may
				// come before the daemon has seen it.
				if first && b.Retries == 0 && !b.Retrying && b.RetryAt == "" {
					continue
				}
				if b.Retrying == (b.NextRetry != nil) || b.Retrying == (b.RetryAt != "") || b.RetryBlocked != "" {
					t.Fatalf("failed region: retrying %v, next_retry_s %v, retry_at %q, blocked %q: want a retry under way or one due, not both",
						b.Retrying, b.NextRetry, b.RetryAt, b.RetryBlocked)
				}
				if b.NextRetry != nil {
					at, err := time.Parse(hbclient.RetryTimeFormat, b.RetryAt)
					if err != nil {
						t.Fatalf("retry_at %q: %v", b.RetryAt, err)
					}
					if left := time.Until(at).Seconds(); left-*b.NextRetry > 0.001 || *b.NextRetry-left > 0.001 {
						t.Fatalf("next_retry_s %.3f, want retry_at %s minus now = %.3f", *b.NextRetry, b.RetryAt, left)
					}
				}
			}
			last = b
			if b.Retries == retriesToSee && !b.Retrying {
				break
			}
			if time.Since(roAt) > 10*time.Minute {
				t.Fatalf("%d retries after %v, want %d by now", b.Retries, time.Since(roAt), retriesToSee)
			}
		}
		if failedAt.IsZero() || failedAt.Sub(roAt) > (testThreshold+1)*testInterval {
			t.Fatalf("region failed %v after the device became read-only, want within the write timeout", failedAt.Sub(roAt))
		}
		// One new generation per retry, none in between ("": a retry's
		// engine made, its start not begun).
		delete(gens, "")
		if len(gens) != 1+retriesToSee {
			t.Errorf("%d generations seen over %d retries, want %d (the first and one per retry)", len(gens), retriesToSee, 1+retriesToSee)
		}

		// The schedule, from the log and the device's opens: retry 1
		// begins Pause(0) after the failure, retry k+1 Pause(k) after
		// retry k failed.
		recs := log.since(roAt)
		var failure logRecord
		var retried []logRecord
		for _, r := range recs {
			switch {
			case r.msg == "heartbeat region failed; the daemon retries it, backing off, while this node is seen in another region":
				failure = r
			case r.msg == "retry of a failed heartbeat region failed":
				retried = append(retried, r)
			}
		}
		if failure.at.IsZero() || len(retried) != retriesToSee {
			t.Fatalf("log: failure %v, %d failed retries, want the failure and %d retries logged:\n%v", failure, len(retried), retriesToSee, recs)
		}
		mark := failure.at
		var begun []string
		for k, r := range retried {
			began, ok := fault.firstOpenAfter(mark)
			if want := mark.Add(d.cfg.Retry.Pause(k)); !ok || !began.Equal(want) {
				t.Errorf("retry %d began %v after the previous end, want %v", k+1, began.Sub(mark), d.cfg.Retry.Pause(k))
			}
			if r.level != slog.LevelDebug || r.attrs["retry"] != fmt.Sprint(k+1) || r.attrs["next_in"] != d.cfg.Retry.Pause(k+1).String() {
				t.Errorf("retry %d logged %v, want debug with retry=%d next_in=%v", k+1, r, k+1, d.cfg.Retry.Pause(k+1))
			}
			begun = append(begun, fmt.Sprintf("%.1fs", began.Sub(failure.at).Seconds()))
			mark = r.at
		}
		t.Logf("read-only for %v: %d samples, %d of them failed (all since the failure %v after the fault), retries began at %s after the failure",
			time.Since(roAt).Round(time.Millisecond), samples, badSamples, failedAt.Sub(roAt), strings.Join(begun, ", "))

		// The device becomes writable: the next retry (due at the
		// retry_at shown) brings the region back.
		due, err := time.Parse(hbclient.RetryTimeFormat, last.RetryAt)
		if err != nil {
			t.Fatalf("retry_at %q after retry %d: %v", last.RetryAt, retriesToSee, err)
		}
		fault.on.Store(false)
		healed := time.Now()
		for {
			time.Sleep(step)
			b := regionOf(d.Status(), bad)
			if b.State == hbclient.StateSteady {
				break
			}
			if b.State != hbclient.StateFailed {
				t.Fatalf("%v after the device healed: state %s, want failed until the retry is steady", time.Since(healed), b.State)
			}
			if time.Now().After(due.Add(hbdisk.SteadyReads * testInterval)) {
				t.Fatalf("still %s %v after the retry due at %s", b.State, time.Since(due), last.RetryAt)
			}
		}
		back := time.Now()
		// Let the retry's start end (startEnded logs it) before reading
		// the log: with no device call to wait for, status may see the
		// engine steady first.
		synctest.Wait()
		if began, _ := fault.firstOpenAfter(healed); began.Sub(due).Abs() > time.Millisecond {
			t.Errorf("the recovering retry began at %v, want at the retry_at shown, %v", began, due)
		}
		b := regionOf(d.Status(), bad)
		if b.Retries != 0 || b.RetryAt != "" || b.NextRetry != nil || b.Retrying || b.Error != "" || gens[b.Generation] {
			t.Errorf("recovered region: %+v, want steady with a new generation and no retry or error left", b)
		}
		if b.Failures != 1 || b.Restarts != 1 || b.Collisions != 0 {
			t.Errorf("recovered region: %d failures, %d restarts, %d collisions; want 1, 1, 0", b.Failures, b.Restarts, b.Collisions)
		}
		t.Logf("device writable again: steady %v later (retry %d due %v after the heal)", back.Sub(healed).Round(time.Millisecond),
			retriesToSee+1, due.Sub(healed).Round(time.Millisecond))

		// At most one line per state change, the debug lines of the
		// retries apart; nothing from the retries' engines.
		var loud []logRecord
		for _, r := range log.since(roAt) {
			if r.level > slog.LevelDebug {
				loud = append(loud, r)
			}
			if r.msg == "starting heartbeat" || r.msg == "heartbeat steady" {
				t.Errorf("a retry's engine logged: %v", r)
			}
		}
		// I/O errors (the write, then the reopen too), the failure, the
		// recovery.
		if len(loud) > 4 {
			t.Errorf("%d log lines above debug from the fault to the recovery, want at most 4:\n%v", len(loud), loud)
		}
		if n := len(loud); n == 0 || loud[n-1].msg != "heartbeat region restarted after a failure" || loud[n-1].attrs["retries"] != fmt.Sprint(retriesToSee+1) {
			t.Errorf("last line %v, want the recovery after %d retries", loud, retriesToSee+1)
		}
	})
}

// With its node seen in no other region, a failed cluster region is not
// retried (the cluster manager recovers the node) and status says why;
// an owner's start is then its retry. In local mode nothing retries.
// The backoff is shortened through the configuration.
func TestRetryPolicyAndStatus(t *testing.T) {
	uuid := memUUID1
	img := memsource.Device(uuid)
	short := retry.Backoff{First: 200 * time.Millisecond, Max: 400 * time.Millisecond}
	for _, mode := range []string{"global", "local"} {
		t.Run(mode, func(t *testing.T) {
			conf := writeClusterConf(t, t.TempDir(), mode, 1, uuid)
			synctest.Test(t, func(t *testing.T) {
				src := memsource.New()
				src.Add(uuid, nil)
				fault := &readOnly{uuid: uuid}
				log := newRecorder()
				d := retryDaemon(t, conf, src, fault, log, short)
				owner := hbclient.OwnerGlobal
				if mode == "local" {
					owner = "service:/mnt"
				}
				if _, err := d.StartRegion(t.Context(), uuid, img, owner, false); err != nil {
					t.Fatal(err)
				}
				gen := regionOf(d.Status(), uuid).Generation
				fault.on.Store(true)
				roAt := time.Now()
				time.Sleep(20 * short.Max)
				r := regionOf(d.Status(), uuid)
				if r.State != hbclient.StateFailed || r.Generation != gen || r.Retries != 0 || r.RetryAt != "" || r.Retrying {
					t.Errorf("%s mode, node seen nowhere else: %+v; want failed, never retried, same generation", mode, r)
				}
				wantBlocked := ""
				if mode == "global" {
					wantBlocked = "this node is seen in no other steady region: the cluster manager must recover it"
				}
				if r.RetryBlocked != wantBlocked {
					t.Errorf("retry_blocked = %q, want %q", r.RetryBlocked, wantBlocked)
				}
				if mode == "global" {
					n := 0
					for _, rec := range log.since(roAt) {
						if rec.msg == "failed heartbeat region not retried yet" {
							n++
						}
					}
					if n != 1 {
						t.Errorf("%d lines say the region is not retried, want 1 over %d checks", n, 20*short.Max/short.First)
					}
				}
				// An owner's start on the read-only device fails; the
				// region stays failed (in global mode it was one more
				// retry).
				if _, err := d.StartRegion(t.Context(), uuid, img, owner, false); err == nil {
					t.Fatal("owner's start on a read-only device succeeded")
				} else {
					t.Logf("owner's start on the read-only device: %v", err)
				}
				r = regionOf(d.Status(), uuid)
				if r.State != hbclient.StateFailed || r.Generation == gen {
					t.Errorf("after a failed owner's start: %+v, want failed with the start's new generation", r)
				}
				if mode == "global" && r.Retries != 1 {
					t.Errorf("after a failed owner's start: %d retries, want 1: %+v\n%v", r.Retries, r, log.since(roAt))
				}
				// Writable again: an owner's start brings it back.
				fault.on.Store(false)
				if _, err := d.StartRegion(t.Context(), uuid, img, owner, false); err != nil {
					t.Fatalf("owner's start on the healed device: %v", err)
				}
				r = regionOf(d.Status(), uuid)
				if r.State != hbclient.StateSteady || r.Retries != 0 || r.RetryBlocked != "" || r.Error != "" {
					t.Errorf("after the owner's start on the healed device: %+v, want steady, no retry left", r)
				}
			})
		})
	}
}
