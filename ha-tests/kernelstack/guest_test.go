package kernelstack

import (
	"bufio"
	"bytes"
	"crypto/rand"
	_ "embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
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

// guestModules are the modules the guests load, in this order after
// their dependencies; built-in ones are left out.
var guestModules = []string{"virtio_pci", "virtio_blk", "virtio_net",
	"configfs", "ocfs2_nodemanager", "ocfs2_dlm", "ocfs2_stackglue", "ocfs2_stack_o2cb",
	"ocfs2_dlmfs", "jbd2", "quota_tree", "ocfs2", "dm_mod", "dm_multipath", "dm_round_robin"}

// Where things go in the guest: our binaries as make install lays them
// out (the OCF agents are links to o2cb-ra, /sbin/ocfs2_hb_ctl, the
// kernel's umount upcall, is ours), ocfs2-tools' programs with their
// shared libraries.
const (
	guestOurLibexec   = "/usr/lib/o2cb-ra"
	guestOurHbCtl     = guestOurLibexec + "/ocfs2_hb_ctl"
	guestToolsHbCtl   = "/usr/lib/ocfs2-tools/ocfs2_hb_ctl"
	guestKernelHbCtl  = "/sbin/ocfs2_hb_ctl"
	guestOCFProvider  = "/usr/lib/ocf/resource.d/ocfs2"
	hostMountOCFS2    = "/sbin/mount.ocfs2"
	hostToolsHbCtl    = "/sbin/ocfs2_hb_ctl"
	hostO2CB          = "/sbin/o2cb"
	hostDmsetup       = "/sbin/dmsetup" // to suspend a device: a hung one
	guestClusterConf  = "/etc/ocfs2/cluster.conf"
	guestSubnet       = "169.254.77."
	guestPrefixLength = 24
)

var (
	kernelOnce sync.Once
	kernelDir  string // removed by TestMain
	theKernel  *qemuguest.Kernel
	kernelErr  error

	binOnce sync.Once
	binDir  string // removed by TestMain
	binErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	for _, d := range []string{kernelDir, binDir} {
		if d != "" {
			os.RemoveAll(d)
		}
	}
	os.Exit(code)
}

// requireRig skips (or fails under CI) when qemu, busybox, ocfs2-tools or
// the kernel package is missing, and returns the unpacked kernel.
func requireRig(t *testing.T) *qemuguest.Kernel {
	t.Helper()
	testenv.RequireRoot(t)
	testenv.RequireCommand(t, "qemu-system-x86_64", "dpkg", "mkfs.ocfs2", "ldd")
	if out, err := exec.Command("/bin/busybox", "--list").CombinedOutput(); err != nil || !bytes.Contains(out, []byte("insmod")) || !bytes.Contains(out, []byte("base64")) {
		testenv.Unavailable(t, "needs /bin/busybox with insmod and base64 (busybox-static; run.sh installs it)")
	}
	for _, p := range []string{hostMountOCFS2, hostToolsHbCtl, hostO2CB, hostDmsetup} {
		if _, err := os.Stat(p); err != nil {
			testenv.Unavailable(t, fmt.Sprintf("needs %s (ocfs2-tools, dmsetup; run.sh installs them)", p))
		}
	}
	deb := qemuguest.FindKernelDeb()
	if deb == "" {
		testenv.Unavailable(t, qemuguest.NoKernelDeb)
	}
	if _, err := os.Stat(deb); err != nil {
		testenv.Unavailable(t, fmt.Sprintf("kernel package: %v", err))
	}
	kernelOnce.Do(func() {
		if kernelDir, kernelErr = os.MkdirTemp("", "kernelstack-kernel-"); kernelErr == nil {
			theKernel, kernelErr = qemuguest.Unpack(deb, kernelDir)
		}
	})
	if kernelErr != nil {
		t.Fatal(kernelErr)
	}
	return theKernel
}

// staticBinaries builds o2cb-ra and ocfs2_hb_ctl with CGO_ENABLED=0 once
// (the guest has no C library for them) and returns their directory.
func staticBinaries(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		goCmd, err := exec.LookPath("go") // go test puts GOROOT/bin first in PATH
		if err != nil {
			binErr = fmt.Errorf("no go command to build the binaries: %w", err)
			return
		}
		if binDir, binErr = os.MkdirTemp("", "kernelstack-bin-"); binErr != nil {
			return
		}
		const mod = "github.com/o2cb-ra/o2cb-ra/cmd/"
		cmd := exec.Command(goCmd, "build", "-trimpath", "-o", binDir+"/", mod+"o2cb-ra", mod+"ocfs2_hb_ctl")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("CGO_ENABLED=0 go build: %v\n%s", err, out)
			return
		}
		for _, b := range []string{"o2cb-ra", "ocfs2_hb_ctl"} {
			if libs, err := qemuguest.SharedLibs(filepath.Join(binDir, b)); err != nil || len(libs) != 0 {
				binErr = fmt.Errorf("%s is not static: %v %v", b, libs, err)
				return
			}
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binDir
}

// initramfs builds the files of a guest's initramfs.
type initramfs struct {
	w    *qemuguest.CPIO
	dirs map[string]bool
}

func (f *initramfs) dir(p string) {
	p = strings.TrimPrefix(path.Clean(p), "/")
	if p == "." || p == "" || f.dirs[p] {
		return
	}
	f.dir(path.Dir(p))
	f.dirs[p] = true
	f.w.Dir(p)
}

func (f *initramfs) file(p string, perm uint32, data []byte) {
	f.dir(path.Dir(p))
	f.w.File(strings.TrimPrefix(p, "/"), perm, data)
}

func (f *initramfs) symlink(p, target string) {
	f.dir(path.Dir(p))
	f.w.Symlink(strings.TrimPrefix(p, "/"), target)
}

// hostProgram copies a host program to guest path p with the shared
// libraries and loader it needs, at the paths ldd gives.
func (f *initramfs) hostProgram(host, p string, libs map[string]bool) error {
	b, err := os.ReadFile(host)
	if err != nil {
		return err
	}
	f.file(p, 0o755, b)
	deps, err := qemuguest.SharedLibs(host)
	if err != nil {
		return err
	}
	for _, l := range deps {
		if libs[l] {
			continue
		}
		libs[l] = true
		b, err := os.ReadFile(l)
		if err != nil {
			return err
		}
		f.file(l, 0o755, b)
	}
	return nil
}

// guestSpec is one guest of a rig.
type guestSpec struct {
	name    string // hostname and cluster node name: n1, n2
	num     int    // node number, the last octet of its address
	conf    []byte // /etc/ocfs2/cluster.conf
	images  []string
	netdev  string // the -netdev argument
	modules []qemuguest.Module
}

func (s guestSpec) addr() string { return guestSubnet + strconv.Itoa(s.num) }

// buildInitramfs writes s's initramfs to p, not compressed: under TCG
// the kernel takes seconds to inflate the tens of MiB the libraries and
// our static binaries weigh, and copies a plain archive at once.
func buildInitramfs(p string, s guestSpec, bins string) error {
	out, err := os.Create(p)
	if err != nil {
		return err
	}
	defer out.Close()
	z := bufio.NewWriterSize(out, 1<<20)
	f := &initramfs{w: qemuguest.NewCPIO(z), dirs: map[string]bool{}}
	for _, d := range []string{"bin", "sbin", "usr/bin", "usr/sbin", "dev", "proc", "sys", "tmp", "run", "mnt", "dlm", "modules"} {
		f.dir(d)
	}
	f.w.Add("dev/console", syscall.S_IFCHR|0o600, nil, 5, 1)
	f.file("/init", 0o755, initScript)
	var names []string
	for _, m := range s.modules {
		names = append(names, m.Name)
		f.file("/modules/"+m.Name+".ko", 0o644, m.Data)
	}
	f.file("/guest.conf", 0o644, fmt.Appendf(nil, "NAME=%s\nADDR=%s/%d\nMODULES='%s'\n",
		s.name, s.addr(), guestPrefixLength, strings.Join(names, " ")))
	f.file("/etc/hostname", 0o644, []byte(s.name+"\n"))
	f.file(guestClusterConf, 0o644, s.conf)
	f.symlink("/etc/mtab", "/proc/mounts")
	busybox, err := os.ReadFile("/bin/busybox")
	if err != nil {
		return err
	}
	f.file("/bin/busybox", 0o755, busybox)
	f.symlink("/bin/sh", "busybox")

	// Ours, static.
	for _, b := range []string{"o2cb-ra", "ocfs2_hb_ctl"} {
		data, err := os.ReadFile(filepath.Join(bins, b))
		if err != nil {
			return err
		}
		f.file(guestOurLibexec+"/"+b, 0o755, data)
	}
	f.symlink("/usr/sbin/o2cb-ra", guestOurLibexec+"/o2cb-ra")
	for _, a := range []string{"o2cb", "hbregion"} {
		f.symlink(guestOCFProvider+"/"+a, guestOurLibexec+"/o2cb-ra")
	}
	f.symlink(guestKernelHbCtl, guestOurHbCtl)

	// ocfs2-tools'.
	libs := map[string]bool{}
	if err := f.hostProgram(hostMountOCFS2, "/sbin/mount.ocfs2", libs); err != nil {
		return err
	}
	if err := f.hostProgram(hostToolsHbCtl, guestToolsHbCtl, libs); err != nil {
		return err
	}
	if err := f.hostProgram(hostO2CB, "/sbin/o2cb", libs); err != nil {
		return err
	}
	if err := f.hostProgram(hostDmsetup, "/sbin/dmsetup", libs); err != nil {
		return err
	}
	if err := f.w.Close(); err != nil {
		return err
	}
	if err := z.Flush(); err != nil {
		return err
	}
	return out.Close()
}

// freeUDPPorts returns n UDP ports free on 127.0.0.1 just now.
func freeUDPPorts(n int) ([]int, error) {
	var ports []int
	var conns []net.PacketConn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range n {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		conns = append(conns, c)
		ports = append(ports, c.LocalAddr().(*net.UDPAddr).Port)
	}
	return ports, nil
}

// dgramNetdevs returns the -netdev arguments of two guests linked to each
// other by UDP datagrams on 127.0.0.1.
func dgramNetdevs() ([2]string, error) {
	p, err := freeUDPPorts(2)
	if err != nil {
		return [2]string{}, err
	}
	nd := func(local, remote int) string {
		return fmt.Sprintf("dgram,id=n0,local.type=inet,local.host=127.0.0.1,local.port=%d,remote.type=inet,remote.host=127.0.0.1,remote.port=%d", local, remote)
	}
	return [2]string{nd(p[0], p[1]), nd(p[1], p[0])}, nil
}

// result is what a command did in a guest.
type result struct {
	out     string
	rc      int
	guestMS int           // the guest's own measure
	took    time.Duration // from sending to the end line
	end     time.Time     // when the end line arrived
}

type pending struct {
	out  []string
	done bool
	rc   int
	ms   int
	at   time.Time
}

// guest is a running qemu with the remote shell.
type guest struct {
	t    *testing.T
	spec guestSpec
	m    *qemuguest.Machine

	mu      sync.Mutex
	ready   []string // the READY line's fields
	readyAt time.Time
	errLine string
	exited  bool
	exitErr error
	cmds    map[string]*pending
	changed chan struct{} // closed and replaced on every event
}

// startGuest starts s's qemu (not waiting for it); t.Cleanup kills it.
func startGuest(t *testing.T, k *qemuguest.Kernel, s guestSpec, bins string) *guest {
	t.Helper()
	dir := t.TempDir()
	initrd := filepath.Join(dir, "initrd.cpio")
	if err := buildInitramfs(initrd, s, bins); err != nil {
		t.Fatalf("%s: initramfs: %v", s.name, err)
	}
	g := &guest{t: t, spec: s, cmds: map[string]*pending{}, changed: make(chan struct{})}
	var args []string
	for _, img := range s.images {
		args = append(args, "-drive", "file="+img+",format=raw,if=virtio,cache=none,file.locking=off")
	}
	args = append(args, "-netdev", s.netdev,
		"-device", fmt.Sprintf("virtio-net-pci,netdev=n0,mac=52:54:00:4f:32:%02x,romfile=", s.num))
	var err error
	g.m, err = qemuguest.Start(qemuguest.Options{Kernel: k, Initrd: initrd, Dir: dir, Args: args,
		OnLine: g.line, OnExit: g.exit})
	if err != nil {
		t.Fatalf("%s: %v", s.name, err)
	}
	t.Cleanup(func() {
		if err := g.m.Kill(); err != nil {
			t.Error(err)
		}
		if t.Failed() || os.Getenv(qemuguest.EnvShowConsole) != "" {
			g.dump()
		}
	})
	return g
}

func (g *guest) notify() {
	close(g.changed)
	g.changed = make(chan struct{})
}

func (g *guest) line(line string, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	f := strings.SplitN(line, " ", 3)
	if len(f) < 2 {
		return
	}
	if f[0] == "RS" {
		switch f[1] {
		case "READY":
			g.ready, g.readyAt = strings.Fields(line)[2:], now
		case "ERR":
			g.errLine = line
		}
		g.notify()
		return
	}
	p := g.cmds[f[0]]
	if p == nil || p.done {
		return
	}
	switch f[1] {
	case "O":
		if len(f) == 3 {
			p.out = append(p.out, f[2])
		} else {
			p.out = append(p.out, "")
		}
	case "E":
		e := strings.Fields(line)
		if len(e) != 4 {
			return
		}
		p.rc, _ = strconv.Atoi(e[2])
		p.ms, _ = strconv.Atoi(e[3])
		p.done, p.at = true, now
		g.notify()
	}
}

func (g *guest) exit(err error) {
	g.mu.Lock()
	g.exited, g.exitErr = true, err
	g.notify()
	g.mu.Unlock()
}

// wait waits until cond holds (under g.mu); it fails early when the
// guest exits or reports an error.
func (g *guest) wait(d time.Duration, cond func() bool) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		g.mu.Lock()
		ok, errLine, exited, exitErr, ch := cond(), g.errLine, g.exited, g.exitErr, g.changed
		g.mu.Unlock()
		switch {
		case ok:
			return nil
		case errLine != "":
			return fmt.Errorf("%s reported: %s", g.spec.name, errLine)
		case exited:
			return fmt.Errorf("%s: qemu exited: %v", g.spec.name, exitErr)
		}
		select {
		case <-ch:
		case <-timer.C:
			return fmt.Errorf("%s: not within %v", g.spec.name, d)
		}
	}
}

// waitReady waits for /init's READY line and returns how long after qemu
// started it came, and the guest's time spent loading modules.
func (g *guest) waitReady(d time.Duration) (boot, modules time.Duration, err error) {
	if err := g.wait(d, func() bool { return g.ready != nil }); err != nil {
		return 0, 0, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.ready) == 3 {
		ms, _ := strconv.Atoi(g.ready[2])
		modules = time.Duration(ms) * time.Millisecond
	}
	return g.readyAt.Sub(g.m.Begin), modules, nil
}

// exec runs script with sh -c in the guest and waits up to d for it.
func (g *guest) exec(script string, d time.Duration) (result, error) {
	b := make([]byte, 8)
	rand.Read(b)
	tok := "C" + hex.EncodeToString(b)
	g.mu.Lock()
	g.cmds[tok] = &pending{}
	g.mu.Unlock()
	enc := base64.StdEncoding.EncodeToString([]byte(script))
	begin := time.Now()
	for len(enc) > 0 {
		n := min(len(enc), 1024)
		if err := g.m.Send(tok + " " + enc[:n]); err != nil {
			return result{}, fmt.Errorf("%s: sending a command: %v", g.spec.name, err)
		}
		enc = enc[n:]
	}
	if err := g.m.Send(tok + " RUN"); err != nil {
		return result{}, fmt.Errorf("%s: sending a command: %v", g.spec.name, err)
	}
	err := g.wait(d, func() bool { return g.cmds[tok].done })
	g.mu.Lock()
	p := g.cmds[tok]
	delete(g.cmds, tok)
	g.mu.Unlock()
	r := result{out: strings.Join(p.out, "\n"), rc: p.rc, guestMS: p.ms, took: p.at.Sub(begin), end: p.at}
	if err != nil {
		return r, fmt.Errorf("%w; its output so far:\n%s", err, r.out)
	}
	return r, nil
}

// must runs script and fails the test unless it exits 0 within d.
func (g *guest) must(what, script string, d time.Duration) result {
	g.t.Helper()
	r, err := g.mustErr(what, script, d)
	if err != nil {
		g.t.Fatal(err)
	}
	return r
}

// mustErr is must for other goroutines: it returns the failure.
func (g *guest) mustErr(what, script string, d time.Duration) (result, error) {
	r, err := g.exec(script, d)
	if err != nil {
		return r, fmt.Errorf("%s: %s: %v", g.spec.name, what, err)
	}
	if r.rc != 0 {
		return r, fmt.Errorf("%s: %s: exit status %d; output:\n%s", g.spec.name, what, r.rc, r.out)
	}
	return r, nil
}

// both runs what on the two guests at once and fails the test if either
// fails; scripts are given per guest.
func both(t *testing.T, gs [2]*guest, what string, scripts [2]string, d time.Duration) [2]result {
	t.Helper()
	var res [2]result
	var errs [2]error
	var wg sync.WaitGroup
	for i := range gs {
		wg.Go(func() { res[i], errs[i] = gs[i].mustErr(what, scripts[i], d) })
	}
	wg.Wait()
	if err := errors.Join(errs[:]...); err != nil {
		t.Fatal(err)
	}
	return res
}

// kill kills the guest's qemu by its pid and returns when it is gone.
func (g *guest) kill() time.Time {
	g.t.Helper()
	at := time.Now()
	if err := g.m.Kill(); err != nil {
		g.t.Fatal(err)
	}
	return at
}

// alive reports whether qemu still runs.
func (g *guest) alive() bool {
	select {
	case <-g.m.Exited():
		return false
	default:
		return true
	}
}

func (g *guest) dump() {
	g.t.Logf("%s: channel (ttyS1), seconds since qemu started:\n%s", g.spec.name, g.m.Transcript())
	g.t.Logf("%s: console (ttyS0):\n%s", g.spec.name, g.m.ConsoleText())
	if s := g.m.Stderr(); s != "" {
		g.t.Logf("%s: qemu's stderr:\n%s", g.spec.name, s)
	}
}
