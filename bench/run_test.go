package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestRunFlags(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"-h"}, 0, "-only"},
		{[]string{"-no-such-flag"}, 2, "flag provided but not defined: -no-such-flag"},
		{[]string{"-quick=maybe"}, 2, "invalid boolean value"},
		{[]string{"-only", "join,laod32"}, 2, `-only: unknown scenario "laod32" (known: join, load32, agents, tmpfs, breakdown, load256, hung, scale255, scale32x64)`},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(tc.args, &stdout, &stderr); code != tc.code || !strings.Contains(stderr.String(), tc.stderr) {
			t.Errorf("run(%q) = %d, stderr %q; want %d, stderr with %q", tc.args, code, stderr.String(), tc.code, tc.stderr)
		}
		if stdout.Len() != 0 {
			t.Errorf("run(%q) wrote %q to stdout, want nothing", tc.args, stdout.String())
		}
	}
}

func TestOptionsWant(t *testing.T) {
	all := scenarios
	for _, tc := range []struct {
		o    options
		want string // the scenarios that run, in the order of all
	}{
		{options{tmpfs: true}, "join load32 agents tmpfs breakdown load256 hung"},
		{options{tmpfs: false}, "join load32 agents breakdown load256 hung"},
		{options{only: "hung"}, "hung"},
		{options{only: "join,tmpfs", tmpfs: false}, "join tmpfs"},
	} {
		var got []string
		for _, s := range all {
			if tc.o.want(s) {
				got = append(got, s)
			}
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("%+v runs %q, want %q", tc.o, strings.Join(got, " "), tc.want)
		}
	}
}

// Samples go to the first cost any of their frames matches, whatever
// the frame's depth; a sample none matches is counted apart.
func TestCountCosts(t *testing.T) {
	script := `
	ffffffff81badcb0 _copy_to_iter
	ffffffff816d9903 __x64_sys_pread64
	            d00e internal/runtime/syscall/linux.Syscall6
	          1d145f github.com/o2cb-ra/o2cb-ra/internal/hbdisk.(*Region).iterate
	           8e981 runtime.goexit.abi0

	          4a3f10 memeqbody
	          1d145f github.com/o2cb-ra/o2cb-ra/internal/hbdisk.(*Region).iterate
	          1d5479 github.com/o2cb-ra/o2cb-ra/internal/hbdisk.(*Region).run

	          4a3f10 runtime.futex.abi0
	          1d145f runtime.sysmon
	          1d5479 runtime.mstart0

	          4a3f10 runtime.findRunnable
	          1d145f runtime.schedule

	ffffffff8224d141 asm_sysvec_apic_timer_interrupt
`
	counts, total := countCosts([]byte(script))
	if total != 5 {
		t.Fatalf("total = %d, want 5", total)
	}
	want := map[string]int{
		"pread of the 255 slots: the kernel's part":                          1,
		"slot checks: CRC32 of changed slots, comparison with the last read": 1,
		"runtime monitor thread (sysmon): takes back Ps from blocked calls":  1,
		"runtime scheduler: wake-ups, timers, idle threads (futex, epoll)":   1,
	}
	for i, c := range costs {
		if counts[i] != want[c.what] {
			t.Errorf("%s: %d samples, want %d", c.what, counts[i], want[c.what])
		}
	}
	if counts[len(costs)] != 1 {
		t.Errorf("unmatched: %d samples, want 1", counts[len(costs)])
	}
}

// eventTimes and regionTimes read the lines the daemon's region logger
// writes (slog's text handler): first down per region and peer, none
// before since; the last up where asked; the first line per region.
func TestEventTimes(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	r1 := log.With("region", "AAAA", "device", "/dev/x y", "node", 3)
	r2 := log.With("region", "BBBB", "device", "/dev/z", "node", 3)
	r1.Warn("node down", "peer", 7, "reason", "stopped writing")
	time.Sleep(5 * time.Millisecond) // the log has milliseconds
	since := time.Now()
	time.Sleep(5 * time.Millisecond)
	r1.Info("node up", "peer", 8)
	r1.Warn("node down", "peer", 8, "reason", "stopped writing")
	first := time.Now()
	time.Sleep(5 * time.Millisecond)
	r1.Warn("node down", "peer", 8, "reason", "again")
	r2.Warn("node down", "peer", 9, "reason", "clean stop", "generation", "0x0")
	got := eventTimes(buf.String(), "node down", since, false)
	if len(got) != 2 {
		t.Fatalf("eventTimes = %v, want region AAAA peer 8 and BBBB peer 9", got)
	}
	if d, ok := got[downKey{"AAAA", 8}]; !ok || d.Before(since.Truncate(time.Millisecond)) || d.After(first) {
		t.Errorf("AAAA peer 8 down at %v (found %v), want the first line's time, between %v and %v", d, ok, since, first)
	}
	if _, ok := got[downKey{"BBBB", 9}]; !ok {
		t.Errorf("BBBB peer 9 missing: %v", got)
	}

	// Up again after the downs: the last up counts, and a UUID written
	// in lower case with dashes is the same region.
	r3 := log.With("region", "aaaa-bb", "node", 3)
	time.Sleep(5 * time.Millisecond)
	again := time.Now()
	r3.Info("node up", "peer", 8)
	ups := eventTimes(buf.String(), "node up", time.Time{}, true)
	if u, ok := ups[downKey{uuidKey("AAAABB"), 8}]; !ok || u.Before(again.Truncate(time.Millisecond)) {
		t.Errorf("AAAA-BB peer 8 last up at %v (found %v), want the line after %v", u, ok, again)
	}
	regions := regionTimes(buf.String(), "node up")
	if lt := regions["AAAABB"]; !lt.Equal(ups[downKey{"AAAABB", 8}]) {
		t.Errorf("regionTimes of AAAA-BB's node up = %v, want %v", lt, ups[downKey{"AAAABB", 8}])
	}
	if lt := regions["CCCC"]; !lt.IsZero() {
		t.Errorf("regionTimes of a region without the line = %v, want the zero time", lt)
	}
	if u, ok := ups[downKey{"AAAA", 8}]; !ok || u.After(first) {
		t.Errorf("AAAA peer 8 up at %v (found %v), want its one up line before %v", u, ok, first)
	}
}

// benchName drops the -N suffix go test adds for GOMAXPROCS, and only
// that: the 32 in IterationFile255x32 stays.
func TestBenchName(t *testing.T) {
	for in, want := range map[string]string{
		"BenchmarkIterationFile255-2":     "BenchmarkIterationFile255",
		"BenchmarkIterationFile255":       "BenchmarkIterationFile255",
		"BenchmarkIterationFile255x32-16": "BenchmarkIterationFile255x32",
		"BenchmarkIterationFile255x32":    "BenchmarkIterationFile255x32",
		"BenchmarkA-b":                    "BenchmarkA-b",
	} {
		if got := benchName(in); got != want {
			t.Errorf("benchName(%q) = %q, want %q", in, got, want)
		}
	}
}
