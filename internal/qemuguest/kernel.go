package qemuguest

import (
	"bytes"
	"compress/gzip"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// Kernel is an unpacked kernel package.
type Kernel struct {
	Release string // e.g. 6.1.0-56-amd64
	Deb     string // the package it came from
	Vmlinuz string
	Boot    string // what qemu boots: Vmlinuz or the vmlinux inside it
	BootHow string // how it boots, for the log
	ModDir  string // lib/modules/<release>
}

// The suites' settings: EnvKernelDeb names the linux-image .deb to boot
// (without it the newest linux-image-*.deb in CacheDir, where run.sh
// keeps the one it downloads); EnvShowConsole, when set, logs the
// guests' consoles also when a test passes (always on failure).
const (
	EnvKernelDeb   = "O2CB_TEST_KERNEL_DEB"
	EnvShowConsole = "O2CB_TEST_GUEST_CONSOLE"
	CacheDir       = "/var/cache/o2cb-ra-tests"
)

// NoKernelDeb is what a suite says when FindKernelDeb finds nothing.
var NoKernelDeb = fmt.Sprintf("no kernel package: set %s or put linux-image-*-amd64*.deb in %s (run.sh downloads it)", EnvKernelDeb, CacheDir)

// FindKernelDeb returns EnvKernelDeb's value when set, else the newest
// linux-image-*-amd64*.deb in CacheDir, else "".
func FindKernelDeb() string {
	env, cacheDir := EnvKernelDeb, CacheDir
	if p := os.Getenv(env); p != "" {
		return p
	}
	debs, _ := filepath.Glob(filepath.Join(cacheDir, "linux-image-*-amd64*.deb"))
	slices.Sort(debs)
	if len(debs) == 0 {
		return ""
	}
	return debs[len(debs)-1]
}

// Unpack unpacks deb with dpkg -x into dir (which the caller removes) and
// extracts the PVH-bootable vmlinux when the kernel has one.
func Unpack(deb, dir string) (*Kernel, error) {
	if out, err := exec.Command("dpkg", "-x", deb, dir).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("dpkg -x %s: %v\n%s", deb, err, out)
	}
	rels, _ := filepath.Glob(filepath.Join(dir, "lib/modules/*"))
	if len(rels) != 1 {
		return nil, fmt.Errorf("%s: want one lib/modules/<release>, found %v", deb, rels)
	}
	k := &Kernel{Release: filepath.Base(rels[0]), Deb: deb, ModDir: rels[0]}
	k.Vmlinuz = filepath.Join(dir, "boot", "vmlinuz-"+k.Release)
	if _, err := os.Stat(k.Vmlinuz); err != nil {
		return nil, fmt.Errorf("%s: no kernel image: %v", deb, err)
	}
	k.Boot, k.BootHow = k.Vmlinuz, "bzImage"
	vmlinux := filepath.Join(dir, "vmlinux")
	if err := ExtractPVH(k.Vmlinuz, vmlinux); err == nil {
		k.Boot, k.BootHow = vmlinux, "vmlinux, PVH entry"
	} else {
		k.BootHow += " (" + err.Error() + ")"
	}
	return k, nil
}

// ExtractPVH unpacks the ELF kernel inside a bzImage into out when it has
// a PVH entry point (Xen ELF note XEN_ELFNOTE_PHYS32_ENTRY), which qemu
// boots directly. Under TCG that saves the 5 s the boot stub spends
// decompressing the xz payload.
func ExtractPVH(bzImage, out string) error {
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

// Module is one loadable module as it goes into the initramfs.
type Module struct {
	Name string
	Data []byte // uncompressed .ko
}

// Modules returns the .ko files for names and their dependencies, in
// load order, leaving out modules built into the kernel. The package has
// no modules.dep (depmod writes it at install), so dependencies come
// from each module's .modinfo "depends=".
func (k *Kernel) Modules(names []string) ([]Module, error) {
	norm := func(s string) string { return strings.ReplaceAll(s, "-", "_") }
	builtin := map[string]bool{}
	if b, err := os.ReadFile(filepath.Join(k.ModDir, "modules.builtin")); err == nil {
		for _, l := range strings.Fields(string(b)) {
			builtin[norm(strings.TrimSuffix(filepath.Base(l), ".ko"))] = true
		}
	}
	files := map[string]string{}
	err := filepath.WalkDir(filepath.Join(k.ModDir, "kernel"), func(p string, d fs.DirEntry, err error) error {
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
	var out []Module
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
			return fmt.Errorf("module %s (needed by %v) is neither built in nor in %s", name, path, k.Deb)
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
		out = append(out, Module{Name: name, Data: data})
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
