package faults

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
	"github.com/o2cb-ra/o2cb-ra/internal/retry"
	"github.com/o2cb-ra/o2cb-ra/internal/rundir"
	"github.com/o2cb-ra/o2cb-ra/internal/testenv"
)

// roSample is one status sample of the read-only test.
type roSample struct {
	at         time.Time // when the answer came
	state      hbclient.State
	other      hbclient.State // the other region's state
	retries    int
	retrying   bool
	retryAt    time.Time // zero if none shown
	generation string
}

// fileLines counts the lines of a daemon log file.
func fileLines(t *testing.T, path string) int {
	t.Helper()
	return len(logTail(t, path, 0))
}

// logTail returns the lines of a daemon log file after the first skip,
// each as its level and message.
func logTail(t *testing.T, path string, skip int) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("daemon log: %v", err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(b) == 0 {
		lines = nil
	}
	var out []string
	for _, l := range lines[min(skip, len(lines)):] {
		if m := regexp.MustCompile(`level=(\w+) msg="([^"]*)"`).FindStringSubmatch(l); m != nil {
			l = m[1] + " " + m[2]
		}
		out = append(out, l)
	}
	return out
}

// roFor is how long the test keeps the device read-only: four retries
// (1 s, 2 s, 4 s, 8 s apart after each ended) fit in it.
const roFor = 30 * time.Second

func TestReadOnlyRegionBacksOff(t *testing.T) {
	f := record(t, "device",
		"global mode, 200 ms interval, dead threshold 31, two regions on one node; the device of one (a real loop device) is set read-only with blockdev --setro for 30 s, then writable again (--setrw); status sampled every 200 ms",
		"the region fails and is failed in every sample from then on, never starting, while the daemon retries it 1 s after the failure, then each time twice as long after the last retry ended; a new generation only per retry; fewer than 10 daemon log lines in the 30 s; the other region steady throughout; after --setrw the region is steady again at its next retry")
	testenv.RequireCommand(t, "blockdev")
	dir := t.TempDir()
	bad, good := newVolume(t, f, dir, false), newVolume(t, f, dir, false)
	bad.Device = testenv.LoopDevice(t, bad.Image, 512)
	c := newCluster(t, dir, 1, true, bad, good)
	n1 := c.node(1)
	const iv = 200 * time.Millisecond
	params := []string{"heartbeat_interval_ms=200", "dead_threshold=31"}
	if r := n1.agent("o2cb", "start", params...); r.Code != 0 {
		t.Fatalf("o2cb start = %d: %s", r.Code, r.Stderr)
	}
	logPath := filepath.Join(n1.Run, rundir.LogName)
	if _, err := os.Stat("/dev/log"); err == nil {
		t.Fatalf("the machine has syslog (/dev/log): the daemon logs there, not to %s, and this test counts the lines of that file", logPath)
	}
	testenv.WaitFor(t, 20*iv, "both regions steady", func() bool {
		return n1.region(bad.UUID).State == hbclient.StateSteady && n1.region(good.UUID).State == hbclient.StateSteady
	})

	sample := func() roSample {
		st := n1.status()
		s := roSample{at: time.Now(), state: "absent", other: "absent"}
		for _, r := range st.Regions {
			switch r.UUID {
			case bad.UUID:
				s.state, s.retries, s.retrying, s.generation = r.State, r.Retries, r.Retrying, r.Generation
				if r.RetryAt != "" {
					at, err := time.Parse(hbclient.RetryTimeFormat, r.RetryAt)
					if err != nil {
						t.Fatalf("retry_at %q: %v", r.RetryAt, err)
					}
					s.retryAt = at
				}
			case good.UUID:
				s.other = r.State
			}
		}
		return s
	}
	linesBefore := fileLines(t, logPath)
	gen0 := n1.region(bad.UUID).Generation
	testenv.Run(t, "blockdev", "--setro", bad.Device)
	roAt := time.Now()
	var samples []roSample
	for time.Since(roAt) < roFor {
		time.Sleep(iv)
		samples = append(samples, sample())
	}
	linesRO := fileLines(t, logPath) - linesBefore
	last := samples[len(samples)-1]
	testenv.Run(t, "blockdev", "--setrw", bad.Device)
	rwAt := time.Now()

	// Every sample failed from the first failed one on; the other
	// region steady throughout.
	first := -1
	for i, s := range samples {
		if first < 0 && s.state == hbclient.StateFailed {
			first = i
		}
		if first >= 0 && s.state != hbclient.StateFailed {
			t.Errorf("sample %d, %v after the fault (%v after the failure): state %s, want failed", i,
				s.at.Sub(roAt).Round(time.Millisecond), s.at.Sub(samples[first].at).Round(time.Millisecond), s.state)
		}
		if s.other != hbclient.StateSteady {
			t.Errorf("sample %d, %v after the fault: the other region is %s, want steady", i, s.at.Sub(roAt).Round(time.Millisecond), s.other)
		}
	}
	if first < 0 {
		t.Fatalf("the region on the read-only device never failed in %d samples over %v", len(samples), roFor)
	}
	failedAfter := samples[first].at.Sub(roAt)
	f.observe(t, "region failed %v after --setro; then failed in all %d of %d samples, the other region steady in all",
		failedAfter.Round(time.Millisecond), len(samples)-first, len(samples))

	// The schedule. Retry k (0: the failure) ended between the last
	// sample showing it under way and the first showing the next one
	// due; the pause from that end to the retry_at shown must be
	// Pause(k). Each retry began at that retry_at, not before.
	const tol = 100 * time.Millisecond // a status answer's age, retry_at's milliseconds
	gens := map[string]bool{gen0: true}
	retries := last.retries
	var began []string
	for k := 0; k <= retries; k++ {
		var endLo, endHi, due time.Time // end in (endLo, endHi]
		var beginAt time.Time
		for i, s := range samples {
			if i < first {
				endLo = s.at // still steady: the failure is later
				continue
			}
			if s.generation != "" {
				gens[s.generation] = true
			}
			switch {
			case s.retries == k && s.retrying:
				endLo = s.at
			case s.retries == k && !s.retryAt.IsZero() && endHi.IsZero():
				endHi, due = s.at, s.retryAt
			case s.retries == k+1 && beginAt.IsZero():
				beginAt = s.at
			}
		}
		if due.IsZero() {
			if k == retries {
				break // ended after the last sample, or the last retry is under way
			}
			t.Errorf("no sample showed when retry %d was due", k+1)
			continue
		}
		pause := retry.Backoff{}.Pause(k)
		if got := due.Sub(endHi); got > pause+tol {
			t.Errorf("retry %d due %v after a sample that already showed the previous end, want at most the pause %v", k+1, got, pause)
		}
		if !endLo.IsZero() {
			if got := due.Sub(endLo); got < pause-tol {
				t.Errorf("retry %d due %v after a sample that still showed the previous one under way, want at least the pause %v", k+1, got, pause)
			}
		}
		if !beginAt.IsZero() {
			if beginAt.Before(due.Add(-tol)) {
				t.Errorf("retry %d seen begun at %v, before its retry_at %v", k+1, beginAt.Format("15:04:05.000"), due.Format("15:04:05.000"))
			}
			began = append(began, fmt.Sprintf("%.1fs", due.Sub(roAt).Seconds()))
		}
	}
	delete(gens, "")
	if len(gens) > 1+retries {
		t.Errorf("%d generations in the samples for %d retries, want at most %d (the first and one per retry)", len(gens), retries, 1+retries)
	}
	// 1 s, 2 s, 4 s, 8 s after failures of about 6 s and retries of
	// 1.8 s: 4 retries within the 30 s.
	if retries < 3 || retries > 5 {
		t.Errorf("%d retries in %v, want 3 to 5 on the 1 s, 2 s, 4 s, 8 s backoff", retries, roFor)
	}
	f.observe(t, "%d retries in the 30 s, begun at %s after --setro (each at the retry_at shown), %d generations seen (the first and one per retry)",
		retries, strings.Join(began, ", "), len(gens))
	if linesRO >= 10 {
		b, _ := os.ReadFile(logPath)
		t.Errorf("the daemon wrote %d log lines in the %v read-only, want fewer than 10:\n%s", linesRO, roFor, b)
	}
	f.observe(t, "daemon log (%s): %d lines in the 30 s read-only: %s", rundir.LogName, linesRO,
		strings.Join(logTail(t, logPath, linesBefore)[:linesRO], " / "))

	// Writable again: steady at the next retry, failed until then.
	bound, retry := healBound(t, n1.region(bad.UUID), iv, 31)
	other := ""
	back := testenv.WaitFor(t, bound+loadSlack, "the region steady again after --setrw", func() bool {
		s := sample()
		if s.state != hbclient.StateFailed && s.state != hbclient.StateSteady && other == "" {
			other = fmt.Sprintf("%s %v after --setrw", s.state, time.Since(rwAt).Round(time.Millisecond))
		}
		return s.state == hbclient.StateSteady
	})
	if other != "" {
		t.Errorf("the region was %s, want failed until the retry is steady", other)
	}
	r := n1.region(bad.UUID)
	if r.Retries != 0 || r.RetryAt != "" || gens[r.Generation] {
		t.Errorf("recovered region: %+v, want steady with a new generation and no retry left", r)
	}
	if !strings.Contains(n1.log(), "heartbeat region restarted after a failure") {
		t.Errorf("the daemon log does not say the region came back")
	}
	f.observe(t, "--setrw with %s: steady again %v later (bound %v); %d daemon log lines from --setro to the recovery",
		retry, back.Round(time.Millisecond), bound.Round(time.Millisecond), fileLines(t, logPath)-linesBefore)
}
