package ocfs2

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/testenv"
)

// Paths ending in ".hang" or ".child" are left to the child. In the
// probing child this test binary becomes, a ".hang" path blocks, as a read of a hung device does, until a file of the same name
// plus ".release" exists (a minute at most). Package variables are set
// before any init function runs: the hook is in place when init starts
// the child.
var _ = func() bool {
	hereHook = func(p string) bool { return strings.HasSuffix(p, ".hang") || strings.HasSuffix(p, ".child") }
	childHook = func(p string) {
		if !strings.HasSuffix(p, ".hang") {
			return
		}
		for end := time.Now().Add(time.Minute); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
			if _, err := os.Stat(p + ".release"); err == nil {
				return
			}
		}
	}
	// A child for a ".slowstart.child" path starts 600 ms late, as on a
	// loaded machine.
	if len(os.Args) > 2 && os.Args[1] == childMarker && strings.HasSuffix(os.Args[len(os.Args)-1], ".slowstart.child") {
		time.Sleep(600 * time.Millisecond)
	}
	return true
}()

// probeHere is Probe as it was, all in this process (it blocks for as
// long as the read): the reference for the results of Probe.
func probeHere(path string) (*Superblock, error) {
	f, size, err := openDevice(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sb, err := ReadSuperblock(f, size)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return sb, nil
}

// volumes writes n copies of a real image, each with its own UUID, named
// by names in dir, and returns their UUIDs.
func volumes(t *testing.T, dir string, names ...string) []string {
	t.Helper()
	data, err := os.ReadFile(testenv.MkfsOCFS2(t, testenv.Image{Dir: t.TempDir()}))
	if err != nil {
		t.Fatal(err)
	}
	var uuids []string
	for i, n := range names {
		b := slices.Clone(data[:64<<10])
		b[2*4096+offSbUUID+15] = byte(i + 1) // no meta-ecc: the UUID may change
		p := filepath.Join(dir, n)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		sb, err := probeHere(p)
		if err != nil {
			t.Fatal(err)
		}
		uuids = append(uuids, sb.UUID)
	}
	return uuids
}

// hermetic is a search of extra only: empty /dev, partitions and sysfs.
func hermetic(t *testing.T, timeout time.Duration, extra ...string) ScanOptions {
	root := t.TempDir()
	parts := filepath.Join(root, "partitions")
	if err := os.WriteFile(parts, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return ScanOptions{Extra: extra, ProcPartitions: parts, DevDir: root, SysBlock: root, Timeout: timeout}
}

// probeChildren returns the pids of this process's probing children whose
// command line names path.
func probeChildren(t *testing.T, path string) []int {
	t.Helper()
	return testenv.FindProcesses(t, func(p testenv.Proc) bool {
		return len(p.Args) > 2 && p.Args[0] == childName && p.Args[1] == childMarker && slices.Contains(p.Args, path) &&
			parentOf(p.PID) == os.Getpid()
	})
}

// parentOf returns the parent pid of pid, 0 if it is gone.
func parentOf(pid int) int {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0
	}
	// pid (comm) state ppid ...: comm may hold spaces, not ")".
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

// TestSearchHungDevice searches a list holding a device that never
// answers (the child blocks on it): Scan, FindByUUID and Probe answer
// after their timeout, not after the device, with what the other devices
// hold, and name the hung one; the children left behind end once it
// answers.
func TestSearchHungDevice(t *testing.T) {
	dir := t.TempDir()
	uuids := volumes(t, dir, "dev.hang", "good.img")
	hung, good := filepath.Join(dir, "dev.hang"), filepath.Join(dir, "good.img")
	const timeout = 300 * time.Millisecond
	// The child holds the hung device for a minute: an answer after 5 s
	// waited for it.
	const bound = 5 * time.Second
	released := false
	release := func() {
		if !released {
			released = true
			os.WriteFile(hung+".release", nil, 0o644)
		}
	}
	t.Cleanup(release)
	timed := func(what string, fn func()) {
		t.Helper()
		begin := time.Now()
		fn()
		if took := time.Since(begin); took > bound {
			t.Errorf("%s took %v with a hung device, want an answer after the %v timeout (well within %v)", what, took, timeout, bound)
		} else {
			t.Logf("%s answered in %v", what, took.Round(time.Millisecond))
		}
	}

	opts := hermetic(t, timeout, hung, good)
	timed("Scan", func() {
		found, err := Scan(opts)
		if len(found) != 1 || found[0].Device != good || found[0].UUID != uuids[1] {
			t.Errorf("Scan = %v, want only %s with %s", found, good, uuids[1])
		}
		if !errors.Is(err, ErrNoAnswer) || !strings.Contains(err.Error(), hung) {
			t.Errorf("Scan error = %v, want %v naming %s", err, ErrNoAnswer, hung)
		}
	})
	var warned []error
	opts.Warn = func(err error) { warned = append(warned, err) }
	timed("FindByUUID(on the healthy device)", func() {
		if p, err := FindByUUID(uuids[1], opts); p != good || err != nil {
			t.Errorf("FindByUUID(%s) = %q, %v; want %s", uuids[1], p, err, good)
		}
		if len(warned) != 1 || !errors.Is(warned[0], ErrNoAnswer) || !strings.Contains(warned[0].Error(), hung) {
			t.Errorf("FindByUUID warned %v, want one warning naming %s", warned, hung)
		}
	})
	timed("FindByUUID(on the hung device)", func() {
		p, err := FindByUUID(uuids[0], opts)
		if !errors.Is(err, ErrUUIDNotFound) || !errors.Is(err, ErrNoAnswer) || !strings.Contains(err.Error(), hung) {
			t.Errorf("FindByUUID(%s) = %q, %v; want %v and %v naming %s", uuids[0], p, err, ErrUUIDNotFound, ErrNoAnswer, hung)
		}
	})
	timed("Probe", func() {
		sb, err := Probe(hung)
		if !errors.Is(err, ErrNoAnswer) || !strings.Contains(err.Error(), hung) {
			t.Errorf("Probe(%s) = %v, %v; want %v naming it", hung, sb, err, ErrNoAnswer)
		}
	})
	// The healthy device first: found as soon as it answers, without
	// waiting for the hung one.
	warned = nil
	first := hermetic(t, time.Minute, good, hung)
	first.Warn = opts.Warn
	timed("FindByUUID(healthy device first)", func() {
		if p, err := FindByUUID(uuids[1], first); p != good || err != nil || len(warned) != 0 {
			t.Errorf("FindByUUID(%s) = %q, %v, warned %v; want %s, no warning", uuids[1], p, err, warned, good)
		}
	})

	// Each of the four calls that timed out left a child reading the
	// hung device. The last one found the healthy device first: it leaves
	// one only when it had handed the hung device to a child before the
	// healthy one answered in this process, which depends on timing.
	pids := probeChildren(t, hung)
	if len(pids) < 4 || len(pids) > 5 {
		t.Errorf("probing children still reading %s: %v, want one for each of the 4 calls that timed out (and perhaps the last's)", hung, pids)
	}
	release()
	testenv.WaitFor(t, 20*time.Second, "the children left behind end", func() bool {
		for _, pid := range pids {
			if parentOf(pid) == os.Getpid() {
				return false
			}
		}
		return true
	})
}

// TestProbeErrors checks that Probe's results and errors, made in this
// process or in the child (the ".child" paths), read the same: the
// superblock, the message, and errors.Is sees the same sentinels and
// errno.
func TestProbeErrors(t *testing.T) {
	dir := t.TempDir()
	uuids := volumes(t, dir, "vol.img", "vol.child")
	for _, name := range []string{"zeros.img", "zeros.child"} {
		os.WriteFile(filepath.Join(dir, name), make([]byte, 64<<10), 0o644)
	}
	for i, name := range []string{"vol.img", "vol.child"} {
		sb, err := Probe(filepath.Join(dir, name))
		if err != nil || sb.UUID != uuids[i] || sb.Label != "o2cbtest" || sb.blockBits != 12 || sb.clusterBits != 12 {
			t.Errorf("Probe(%s) = %+v, %v; want UUID %s, label o2cbtest, 4 KiB blocks and clusters", name, sb, err, uuids[i])
		}
	}
	for _, tc := range []struct {
		path string
		is   error
	}{
		{filepath.Join(dir, "zeros.img"), ErrNotOCFS2},
		{filepath.Join(dir, "zeros.child"), ErrNotOCFS2},
		{filepath.Join(dir, "missing"), fs.ErrNotExist},
		{dir, ErrNotOCFS2}, // a directory
	} {
		_, err := Probe(tc.path)
		_, here := probeHere(tc.path)
		if !errors.Is(err, tc.is) || here == nil || err.Error() != here.Error() {
			t.Errorf("Probe(%s) = %v, want %v wrapping %v", tc.path, err, here, tc.is)
		}
	}
}

// TestProbeChildSlowStart: a child that takes more than the timeout to
// start still gets half the timeout to read, within twice the timeout.
func TestProbeChildSlowStart(t *testing.T) {
	dir := t.TempDir()
	uuids := volumes(t, dir, "vol.slowstart.child")
	begin := time.Now()
	sb, err := Probe(filepath.Join(dir, "vol.slowstart.child"))
	took := time.Since(begin)
	if err != nil || sb.UUID != uuids[0] {
		t.Errorf("Probe(vol.slowstart.child) = %v, %v after %v; want UUID %s", sb, err, took, uuids[0])
	}
	if took > 2*DefaultProbeTimeout+time.Second {
		t.Errorf("Probe(vol.slowstart.child) took %v, want within about %v", took, 2*DefaultProbeTimeout)
	}
	t.Logf("answered after %v", took.Round(time.Millisecond))
}

// BenchmarkProbe is the cost of a probe through the child, against
// BenchmarkProbeHere, the read in this process.
func BenchmarkProbe(b *testing.B) {
	p := volumesB(b)
	for b.Loop() {
		if _, err := Probe(p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkProbeHere(b *testing.B) {
	p := volumesB(b)
	for b.Loop() {
		if _, err := probeHere(p); err != nil {
			b.Fatal(err)
		}
	}
}

func volumesB(b *testing.B) string {
	p := testenv.MkfsOCFS2(b, testenv.Image{Dir: b.TempDir()})
	return p
}
