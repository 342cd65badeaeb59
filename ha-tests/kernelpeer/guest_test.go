package kernelpeer

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"debug/elf"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
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

	"github.com/o2cb-ra/o2cb-ra/internal/testenv"
)

//go:embed init.sh
var initScript []byte

// EnvKernelDeb names the linux-image .deb to boot; without it the newest
// linux-image-*.deb in CacheDir is used.
const EnvKernelDeb = "O2CB_TEST_KERNEL_DEB"

// EnvShowConsole, when set, prints the guest's console also when the
// test passes (it is always printed on failure).
const EnvShowConsole = "O2CB_TEST_GUEST_CONSOLE"

// CacheDir is where run.sh keeps the downloaded kernel package.
const CacheDir = "/var/cache/o2cb-ra-tests"

// guestModules are the modules the guest needs (FACTS section 7); their
// dependencies are added and built-in ones left out.
var guestModules = []string{"virtio_pci", "virtio_blk", "configfs", "ocfs2_nodemanager"}

// kernel is an unpacked kernel package.
type kernel struct {
	release string // e.g. 6.1.0-56-amd64
	deb     string
	vmlinuz string
	boot    string // what qemu boots: vmlinuz or the vmlinux inside it
	bootHow string
	modDir  string // lib/modules/<release>
}

var (
	kernelOnce sync.Once
	kernelDir  string // removed by TestMain
	theKernel  *kernel
	kernelErr  error
)

// findKernelDeb returns the kernel package to boot, or "" if none.
func findKernelDeb() string {
	if p := os.Getenv(EnvKernelDeb); p != "" {
		return p
	}
	debs, _ := filepath.Glob(filepath.Join(CacheDir, "linux-image-*-amd64*.deb"))
	slices.Sort(debs)
	if len(debs) == 0 {
		return ""
	}
	return debs[len(debs)-1]
}

// requireGuest skips (or fails under CI) when qemu, busybox or the kernel
// package is missing, and returns the unpacked kernel.
func requireGuest(t *testing.T) *kernel {
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
		testenv.Unavailable(t, fmt.Sprintf("no kernel package: set %s or put linux-image-*-amd64*.deb in %s (run.sh downloads it)", EnvKernelDeb, CacheDir))
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
func unpackKernel(deb string) (*kernel, error) {
	dir, err := os.MkdirTemp("", "kernelpeer-kernel-")
	if err != nil {
		return nil, err
	}
	kernelDir = dir
	if out, err := exec.Command("dpkg", "-x", deb, dir).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("dpkg -x %s: %v\n%s", deb, err, out)
	}
	rels, _ := filepath.Glob(filepath.Join(dir, "lib/modules/*"))
	if len(rels) != 1 {
		return nil, fmt.Errorf("%s: want one lib/modules/<release>, found %v", deb, rels)
	}
	k := &kernel{release: filepath.Base(rels[0]), deb: deb, modDir: rels[0]}
	k.vmlinuz = filepath.Join(dir, "boot", "vmlinuz-"+k.release)
	if _, err := os.Stat(k.vmlinuz); err != nil {
		return nil, fmt.Errorf("%s: no kernel image: %v", deb, err)
	}
	k.boot, k.bootHow = k.vmlinuz, "bzImage"
	vmlinux := filepath.Join(dir, "vmlinux")
	if err := extractPVH(k.vmlinuz, vmlinux); err == nil {
		k.boot, k.bootHow = vmlinux, "vmlinux, PVH entry"
	} else {
		k.bootHow += " (" + err.Error() + ")"
	}
	return k, nil
}

// extractPVH unpacks the ELF kernel inside a bzImage into out when it has
// a PVH entry point (Xen ELF note XEN_ELFNOTE_PHYS32_ENTRY), which qemu
// boots directly. Under TCG that saves the 5 s the boot stub spends
// decompressing the xz payload.
func extractPVH(bzImage, out string) error {
	b, err := os.ReadFile(bzImage)
	if err != nil {
		return err
	}
	var elfData []byte
	if i := bytes.Index(b, []byte("\xfd7zXZ\x00")); i >= 0 {
		cmd := exec.Command("xz", "-dc", "--single-stream")
		cmd.Stdin = bytes.NewReader(b[i:])
		if elfData, err = cmd.Output(); err != nil {
			return fmt.Errorf("xz payload: %v", err)
		}
	} else if i := bytes.Index(b, []byte("\x1f\x8b\x08\x00")); i >= 0 {
		z, err := gzip.NewReader(bytes.NewReader(b[i:]))
		if err != nil {
			return err
		}
		z.Multistream(false)
		if elfData, err = io.ReadAll(z); err != nil {
			return fmt.Errorf("gzip payload: %v", err)
		}
	} else {
		return errors.New("no xz or gzip payload")
	}
	f, err := elf.NewFile(bytes.NewReader(elfData))
	if err != nil {
		return fmt.Errorf("payload: %v", err)
	}
	if !hasPVHNote(f) {
		return errors.New("no PVH entry note")
	}
	return os.WriteFile(out, elfData, 0o644)
}

// hasPVHNote reports whether an ELF kernel has the Xen note of type 18
// (XEN_ELFNOTE_PHYS32_ENTRY) in a PT_NOTE segment.
func hasPVHNote(f *elf.File) bool {
	for _, p := range f.Progs {
		if p.Type != elf.PT_NOTE {
			continue
		}
		b, err := io.ReadAll(p.Open())
		if err != nil {
			continue
		}
		for len(b) >= 12 {
			nameSz, descSz, typ := f.ByteOrder.Uint32(b), f.ByteOrder.Uint32(b[4:]), f.ByteOrder.Uint32(b[8:])
			off := 12 + (int(nameSz)+3)&^3
			end := off + (int(descSz)+3)&^3
			if end > len(b) || off > len(b) {
				break
			}
			if typ == 18 && string(bytes.TrimRight(b[12:12+nameSz], "\x00")) == "Xen" {
				return true
			}
			b = b[end:]
		}
	}
	return false
}

// module is one loadable module as it goes into the initramfs.
type module struct {
	name string
	data []byte // uncompressed .ko
}

// modules returns the .ko files for names and their dependencies, in
// load order, leaving out modules built into the kernel. The package has
// no modules.dep (depmod writes it at install), so dependencies come
// from each module's .modinfo "depends=".
func (k *kernel) modules(names []string) ([]module, error) {
	norm := func(s string) string { return strings.ReplaceAll(s, "-", "_") }
	builtin := map[string]bool{}
	if b, err := os.ReadFile(filepath.Join(k.modDir, "modules.builtin")); err == nil {
		for _, l := range strings.Fields(string(b)) {
			builtin[norm(strings.TrimSuffix(filepath.Base(l), ".ko"))] = true
		}
	}
	files := map[string]string{}
	err := filepath.WalkDir(filepath.Join(k.modDir, "kernel"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		base := d.Name()
		if i := strings.Index(base, ".ko"); i > 0 {
			files[norm(base[:i])] = p
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out []module
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(string, []string) error
	visit = func(name string, path []string) error {
		name = norm(name)
		switch {
		case state[name] == 2 || builtin[name]:
			return nil
		case state[name] == 1:
			return fmt.Errorf("module dependency cycle: %v", append(path, name))
		}
		state[name] = 1
		p, ok := files[name]
		if !ok {
			return fmt.Errorf("module %s (needed by %v) is neither built in nor in %s", name, path, k.deb)
		}
		data, err := readModule(p)
		if err != nil {
			return err
		}
		deps, err := moduleDepends(data)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		for _, d := range deps {
			if err := visit(d, append(path, name)); err != nil {
				return err
			}
		}
		state[name] = 2
		out = append(out, module{name: name, data: data})
		return nil
	}
	for _, n := range names {
		if err := visit(n, nil); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// readModule returns a module file uncompressed: busybox insmod loads
// plain .ko files only.
func readModule(p string) ([]byte, error) {
	var tool []string
	switch {
	case strings.HasSuffix(p, ".ko"):
		return os.ReadFile(p)
	case strings.HasSuffix(p, ".ko.gz"):
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		z, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		return io.ReadAll(z)
	case strings.HasSuffix(p, ".ko.xz"):
		tool = []string{"xz", "-dc", p}
	case strings.HasSuffix(p, ".ko.zst"):
		tool = []string{"zstd", "-dcq", p}
	default:
		return nil, fmt.Errorf("%s: unknown module compression", p)
	}
	out, err := exec.Command(tool[0], tool[1:]...).Output()
	if err != nil {
		return nil, fmt.Errorf("%s: %v", strings.Join(tool, " "), err)
	}
	return out, nil
}

// moduleDepends reads "depends=" from a module's .modinfo section.
func moduleDepends(ko []byte) ([]string, error) {
	f, err := elf.NewFile(bytes.NewReader(ko))
	if err != nil {
		return nil, err
	}
	s := f.Section(".modinfo")
	if s == nil {
		return nil, errors.New("no .modinfo section")
	}
	b, err := s.Data()
	if err != nil {
		return nil, err
	}
	for _, kv := range bytes.Split(b, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte("depends=")); ok {
			if len(v) == 0 {
				return nil, nil
			}
			return strings.Split(string(v), ","), nil
		}
	}
	return nil, nil
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
func buildInitramfs(path string, k *kernel, gc guestConfig) ([]string, error) {
	mods, err := k.modules(guestModules)
	if err != nil {
		return nil, err
	}
	busybox, err := os.ReadFile("/bin/busybox")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, m := range mods {
		names = append(names, m.name)
	}
	conf := fmt.Sprintf("CLUSTER=%s\nUUID=%s\nSTART_BLOCK=%d\nBLOCKS=255\nTHRESHOLD=%d\nMODULES='%s'\n",
		gc.Cluster, gc.UUID, gc.StartBlock, gc.Threshold, strings.Join(names, " "))

	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	z := gzip.NewWriter(f)
	w := &cpioWriter{w: z}
	for _, d := range []string{"bin", "dev", "proc", "sys", "tmp", "modules"} {
		w.add(d, syscall.S_IFDIR|0o755, nil, 0, 0)
	}
	w.add("dev/console", syscall.S_IFCHR|0o600, nil, 5, 1)
	w.add("init", syscall.S_IFREG|0o755, initScript, 0, 0)
	w.add("kp.conf", syscall.S_IFREG|0o644, []byte(conf), 0, 0)
	w.add("bin/busybox", syscall.S_IFREG|0o755, busybox, 0, 0)
	w.add("bin/sh", syscall.S_IFLNK|0o777, []byte("busybox"), 0, 0)
	for _, m := range mods {
		w.add("modules/"+m.name+".ko", syscall.S_IFREG|0o644, m.data, 0, 0)
	}
	w.add("TRAILER!!!", 0, nil, 0, 0)
	if w.err != nil {
		return nil, w.err
	}
	if err := z.Close(); err != nil {
		return nil, err
	}
	return names, f.Close()
}

// cpioWriter writes the "newc" cpio format the kernel unpacks.
type cpioWriter struct {
	w   io.Writer
	n   int64
	ino int
	err error
}

func (c *cpioWriter) write(b []byte) {
	if c.err != nil {
		return
	}
	var n int
	n, c.err = c.w.Write(b)
	c.n += int64(n)
}

func (c *cpioWriter) pad() {
	if r := c.n % 4; r != 0 {
		c.write(make([]byte, 4-r))
	}
}

func (c *cpioWriter) add(name string, mode uint32, data []byte, rdevMajor, rdevMinor int) {
	c.ino++
	nlink := 1
	if mode&syscall.S_IFMT == syscall.S_IFDIR {
		nlink = 2
	}
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		c.ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rdevMajor, rdevMinor, len(name)+1, 0)
	c.write([]byte(hdr))
	c.write(append([]byte(name), 0))
	c.pad()
	c.write(data)
	c.pad()
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
	t       *testing.T
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	console string // the kernel's console (ttyS0)
	begin   time.Time

	mu         sync.Mutex
	st         guestState
	changed    chan struct{} // closed and replaced on every report
	transcript strings.Builder
	exitedCh   chan struct{}
}

// bootGuest starts qemu on img and waits for the guest's READY line.
func bootGuest(t *testing.T, k *kernel, img string, gc guestConfig) *guest {
	t.Helper()
	dir := t.TempDir()
	initrd := filepath.Join(dir, "initrd.gz")
	mods, err := buildInitramfs(initrd, k, gc)
	if err != nil {
		t.Fatalf("initramfs: %v", err)
	}
	t.Logf("guest: kernel %s (%s) booted as %s, modules %v", k.release, filepath.Base(k.deb), k.bootHow, mods)
	g := &guest{t: t, console: filepath.Join(dir, "console.log"), changed: make(chan struct{}), exitedCh: make(chan struct{})}
	g.st.done = map[string]doneReport{}
	g.cmd = exec.Command("qemu-system-x86_64",
		"-accel", "tcg", "-cpu", "max", "-m", "512", "-smp", "1",
		"-nodefaults", "-no-reboot", "-display", "none", "-monitor", "none",
		"-kernel", k.boot, "-initrd", initrd,
		"-append", "console=ttyS0 loglevel=6 panic=-1 oops=panic",
		"-drive", "file="+img+",format=raw,if=virtio,cache=none",
		"-serial", "file:"+g.console,
		"-serial", "stdio")
	g.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stderr, err := os.Create(filepath.Join(dir, "qemu.stderr"))
	if err != nil {
		t.Fatal(err)
	}
	g.cmd.Stderr = stderr
	if g.stdin, err = g.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := g.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	g.begin = time.Now()
	if err := g.cmd.Start(); err != nil {
		t.Fatalf("qemu: %v", err)
	}
	go g.read(stdout)
	t.Cleanup(func() {
		g.kill()
		stderr.Close()
		if t.Failed() || os.Getenv(EnvShowConsole) != "" {
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

// read parses the guest's channel (qemu's stdout, the guest's ttyS1).
func (g *guest) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		now := time.Now()
		g.mu.Lock()
		fmt.Fprintf(&g.transcript, "%8.3fs %s\n", now.Sub(g.begin).Seconds(), line)
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "KP" {
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
		g.mu.Unlock()
	}
	err := g.cmd.Wait()
	g.mu.Lock()
	g.st.exited, g.st.exitErr = true, err
	fmt.Fprintf(&g.transcript, "%8.3fs qemu exited: %v\n", time.Since(g.begin).Seconds(), err)
	close(g.changed)
	g.changed = make(chan struct{})
	g.mu.Unlock()
	close(g.exitedCh)
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
	if _, err := fmt.Fprintf(g.stdin, "%s\n", cmd); err != nil {
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
	if g.cmd.Process == nil {
		return
	}
	select {
	case <-g.exitedCh:
		return
	default:
	}
	g.cmd.Process.Kill()
	select {
	case <-g.exitedCh:
	case <-time.After(10 * time.Second):
		g.t.Errorf("qemu (pid %d) did not exit after SIGKILL", g.cmd.Process.Pid)
	}
}

// consoleText returns the kernel's console so far.
func (g *guest) consoleText() string {
	b, _ := os.ReadFile(g.console)
	return string(b)
}

// dump logs the guest's console and the channel's transcript.
func (g *guest) dump() {
	g.mu.Lock()
	tr := g.transcript.String()
	g.mu.Unlock()
	g.t.Logf("guest channel (ttyS1), seconds since qemu started:\n%s", tr)
	g.t.Logf("guest console (ttyS0):\n%s", g.consoleText())
}
