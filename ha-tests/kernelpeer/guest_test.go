package kernelpeer

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/qemuguest"
	"github.com/o2cb-ra/o2cb-ra/internal/testenv"
)

//go:embed init.sh
var initScript []byte

// guestModules are the modules the guest needs (FACTS section 7); their
// dependencies are added and built-in ones left out.
var guestModules = []string{"virtio_pci", "virtio_blk", "configfs", "ocfs2_nodemanager"}

var (
	kernelOnce sync.Once
	kernelDir  string // removed by TestMain
	theKernel  *qemuguest.Kernel
	kernelErr  error
)

// findKernelDeb returns the kernel package to boot, or "" if none.
func findKernelDeb() string { return qemuguest.FindKernelDeb() }

// requireGuest skips (or fails under CI) when qemu, busybox or the kernel
// package is missing, and returns the unpacked kernel.
func requireGuest(t *testing.T) *qemuguest.Kernel {
	t.Helper()
	testenv.RequireRoot(t)
	testenv.RequireCommand(t, "qemu-system-x86_64", "dpkg", "mkfs.ocfs2")
	if _, err := os.Stat("/bin/busybox"); err != nil {
		testenv.Unavailable(t, "needs /bin/busybox from busybox-static (run.sh installs it)")
	}
	if out, err := exec.Command("/bin/busybox", "--help").CombinedOutput(); err != nil || !bytes.Contains(out, []byte("insmod")) {
		testenv.Unavailable(t, "needs a busybox with insmod (busybox-static)")
	}
	deb := findKernelDeb()
	if deb == "" {
		testenv.Unavailable(t, qemuguest.NoKernelDeb)
	}
	if _, err := os.Stat(deb); err != nil {
		testenv.Unavailable(t, fmt.Sprintf("kernel package: %v", err))
	}
	kernelOnce.Do(func() { theKernel, kernelErr = unpackKernel(deb) })
	if kernelErr != nil {
		t.Fatal(kernelErr)
	}
	return theKernel
}

// unpackKernel unpacks deb with dpkg -x into a directory TestMain removes.
func unpackKernel(deb string) (*qemuguest.Kernel, error) {
	dir, err := os.MkdirTemp("", "kernelpeer-kernel-")
	if err != nil {
		return nil, err
	}
	kernelDir = dir
	return qemuguest.Unpack(deb, dir)
}

// guestConfig is what the guest's /init needs to know.
type guestConfig struct {
	Cluster    string
	UUID       string
	StartBlock uint64 // in 512-byte units
	Threshold  int
}

// buildInitramfs writes a gzip-compressed newc cpio archive to path with
// busybox, the modules and /init.
func buildInitramfs(path string, k *qemuguest.Kernel, gc guestConfig) ([]string, error) {
	mods, err := k.Modules(guestModules)
	if err != nil {
		return nil, err
	}
	busybox, err := os.ReadFile("/bin/busybox")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, m := range mods {
		names = append(names, m.Name)
	}
	conf := fmt.Sprintf("CLUSTER=%s\nUUID=%s\nSTART_BLOCK=%d\nBLOCKS=255\nTHRESHOLD=%d\nMODULES='%s'\n",
		gc.Cluster, gc.UUID, gc.StartBlock, gc.Threshold, strings.Join(names, " "))

	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	z := gzip.NewWriter(f)
	w := qemuguest.NewCPIO(z)
	for _, d := range []string{"bin", "dev", "proc", "sys", "tmp", "modules"} {
		w.Add(d, syscall.S_IFDIR|0o755, nil, 0, 0)
	}
	w.Add("dev/console", syscall.S_IFCHR|0o600, nil, 5, 1)
	w.Add("init", syscall.S_IFREG|0o755, initScript, 0, 0)
	w.Add("kp.conf", syscall.S_IFREG|0o644, []byte(conf), 0, 0)
	w.Add("bin/busybox", syscall.S_IFREG|0o755, busybox, 0, 0)
	w.Add("bin/sh", syscall.S_IFLNK|0o777, []byte("busybox"), 0, 0)
	for _, m := range mods {
		w.Add("modules/"+m.Name+".ko", syscall.S_IFREG|0o644, m.Data, 0, 0)
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	if err := z.Close(); err != nil {
		return nil, err
	}
	return names, f.Close()
}

// guestState is what the guest last reported.
type guestState struct {
	ready   bool
	global  []int // /sys/kernel/debug/o2hb/livenodes
	region  []int // /sys/kernel/debug/o2hb/<UUID>/livenodes
	done    map[string]doneReport
	exited  bool
	exitErr error
	errLine string
	kmsg    []string // KMSG lines of the last kmsg command
}

type doneReport struct {
	rc int
	ms int // as the guest measured it
	at time.Time
}

// guest is a running qemu with our initramfs.
type guest struct {
	t *testing.T
	m *qemuguest.Machine

	mu      sync.Mutex
	st      guestState
	changed chan struct{} // closed and replaced on every report
}

// bootGuest starts qemu on img and waits for the guest's READY line.
func bootGuest(t *testing.T, k *qemuguest.Kernel, img string, gc guestConfig) *guest {
	t.Helper()
	dir := t.TempDir()
	initrd := filepath.Join(dir, "initrd.gz")
	mods, err := buildInitramfs(initrd, k, gc)
	if err != nil {
		t.Fatalf("initramfs: %v", err)
	}
	t.Logf("guest: kernel %s (%s) booted as %s, modules %v", k.Release, filepath.Base(k.Deb), k.BootHow, mods)
	g := &guest{t: t, changed: make(chan struct{})}
	g.st.done = map[string]doneReport{}
	g.m, err = qemuguest.Start(qemuguest.Options{Kernel: k, Initrd: initrd, Dir: dir,
		Args:   []string{"-drive", "file=" + img + ",format=raw,if=virtio,cache=none"},
		OnLine: g.line, OnExit: g.exit})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		g.kill()
		if t.Failed() || os.Getenv(qemuguest.EnvShowConsole) != "" {
			g.dump()
		}
	})
	took, err := g.wait(60*time.Second, func(s *guestState) bool { return s.ready })
	if err != nil {
		t.Fatalf("guest did not boot: %v", err)
	}
	t.Logf("guest booted: /init ready %v after qemu started", took.Round(time.Millisecond))
	return g
}

// line parses one line of the guest's channel (its ttyS1).
func (g *guest) line(line string, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	f := strings.Fields(line)
	if len(f) < 2 || f[0] != "KP" {
		return
	}
	switch f[1] {
	case "READY":
		g.st.ready = true
	case "LIVE":
		for _, kv := range f[2:] {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "g":
				g.st.global = parseNodes(v)
			case "r":
				g.st.region = parseNodes(v)
			}
		}
	case "DONE":
		if len(f) == 5 {
			rc, _ := strconv.Atoi(f[3])
			ms, _ := strconv.Atoi(f[4])
			g.st.done[f[2]] = doneReport{rc: rc, ms: ms, at: now}
		}
	case "KMSG":
		g.st.kmsg = append(g.st.kmsg, strings.TrimPrefix(line, "KP KMSG "))
	case "ERR":
		g.st.errLine = line
	}
	close(g.changed)
	g.changed = make(chan struct{})
}

// exit records that qemu exited.
func (g *guest) exit(err error) {
	g.mu.Lock()
	g.st.exited, g.st.exitErr = true, err
	close(g.changed)
	g.changed = make(chan struct{})
	g.mu.Unlock()
}

func parseNodes(s string) []int {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if n, err := strconv.Atoi(f); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// wait waits until cond holds for the guest's state and returns how long
// that took; it fails early when the guest exits or reports an error.
func (g *guest) wait(d time.Duration, cond func(*guestState) bool) (time.Duration, error) {
	begin := time.Now()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		g.mu.Lock()
		ok := cond(&g.st)
		st, ch := g.st, g.changed
		g.mu.Unlock()
		if ok {
			return time.Since(begin), nil
		}
		if st.errLine != "" {
			return time.Since(begin), fmt.Errorf("guest reported: %s", st.errLine)
		}
		if st.exited {
			return time.Since(begin), fmt.Errorf("qemu exited: %v", st.exitErr)
		}
		select {
		case <-ch:
		case <-timer.C:
			return time.Since(begin), fmt.Errorf("not within %v", d)
		}
	}
}

// waitLive waits until the kernel's global live nodes are want.
func (g *guest) waitLive(d time.Duration, what string, want ...int) time.Duration {
	g.t.Helper()
	took, err := g.wait(d, func(s *guestState) bool { return slices.Equal(s.global, want) })
	if err != nil {
		g.t.Fatalf("%s: guest livenodes never became %v (now %v): %v", what, want, g.live(), err)
	}
	return took
}

// live returns the kernel's global live nodes as last reported.
func (g *guest) live() []int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.st.global)
}

// do sends a command and waits for its DONE line; it returns the guest's
// own measure of how long the command took.
func (g *guest) do(cmd string, d time.Duration) time.Duration {
	g.t.Helper()
	g.send(cmd)
	return g.waitDone(cmd, d)
}

// send sends a command to the guest's /init.
func (g *guest) send(cmd string) {
	g.t.Helper()
	g.mu.Lock()
	delete(g.st.done, cmd)
	g.mu.Unlock()
	if err := g.m.Send(cmd); err != nil {
		g.t.Fatalf("guest command %q: %v", cmd, err)
	}
}

// waitDone waits for the DONE line of a command sent and returns the
// guest's own measure of how long the command took.
func (g *guest) waitDone(cmd string, d time.Duration) time.Duration {
	g.t.Helper()
	var rep doneReport
	_, err := g.wait(d, func(s *guestState) bool {
		r, ok := s.done[cmd]
		rep = r
		return ok
	})
	if err != nil {
		g.t.Fatalf("guest command %q: %v", cmd, err)
	}
	if rep.rc != 0 {
		g.t.Fatalf("guest command %q failed with status %d (see the console)", cmd, rep.rc)
	}
	return time.Duration(rep.ms) * time.Millisecond
}

// kmsg returns the o2hb lines of the guest's kernel log.
func (g *guest) kmsg() []string {
	g.t.Helper()
	g.mu.Lock()
	g.st.kmsg = nil
	g.mu.Unlock()
	g.do("kmsg", 20*time.Second)
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.st.kmsg)
}

// kill stops qemu by its pid and waits for it.
func (g *guest) kill() {
	if err := g.m.Kill(); err != nil {
		g.t.Error(err)
	}
}

// consoleText returns the kernel's console so far.
func (g *guest) consoleText() string { return g.m.ConsoleText() }

// dump logs the guest's console and the channel's transcript.
func (g *guest) dump() {
	g.t.Logf("guest channel (ttyS1), seconds since qemu started:\n%s", g.m.Transcript())
	g.t.Logf("guest console (ttyS0):\n%s", g.consoleText())
}
