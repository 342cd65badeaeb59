package o2cbfs

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Modules is what Load asks modprobe for, in dependency order (modprobe
// resolves the rest: ocfs2_stack_o2cb pulls in ocfs2_dlm and
// ocfs2_nodemanager, ocfs2 pulls in jbd2 and quota_tree).
var Modules = []string{"configfs", "ocfs2_nodemanager", "ocfs2_stackglue", "ocfs2_stack_o2cb", "ocfs2_dlmfs", "ocfs2"}

// required are the modules without which the stack cannot run: dlmfs is
// for ocfs2-tools' cluster-aware tools, and mount loads ocfs2 itself.
var required = map[string]bool{"configfs": true, "ocfs2_nodemanager": true, "ocfs2_stackglue": true, "ocfs2_stack_o2cb": true}

// Magic numbers statfs reports for the pseudo-filesystems.
const (
	configfsMagic = 0x62656570
	dlmfsMagic    = 0x76a9f425
	debugfsMagic  = 0x64626720
)

func (k Kernel) loaded(module string) bool { return k.exists(modulesDir + "/" + module) }

func (k Kernel) modprobe(args ...string) error {
	if k.Modprobe != nil {
		return k.Modprobe(args...)
	}
	out, err := exec.Command("modprobe", args...).CombinedOutput()
	if err != nil {
		if msg := strings.TrimSpace(string(out)); msg != "" {
			return fmt.Errorf("modprobe %s: %v: %s", strings.Join(args, " "), err, msg)
		}
		return fmt.Errorf("modprobe %s: %v", strings.Join(args, " "), err)
	}
	return nil
}

// Available reports whether the o2cb stack can run here: its modules are
// loaded, or modprobe finds them (modprobe -n, which loads nothing). The
// reason says which, or why not.
func (k Kernel) Available() (bool, string) {
	if k.loaded("ocfs2_nodemanager") && k.loaded("ocfs2_stack_o2cb") {
		return true, "the o2cb modules are loaded"
	}
	if err := k.modprobe("-n", "-q", "ocfs2_stack_o2cb"); err != nil {
		return false, "the o2cb modules are not loaded and modprobe cannot load them: " + err.Error()
	}
	return true, "modprobe can load the o2cb modules"
}

// Load loads the modules, mounts configfs (and dlmfs at /dlm, which
// ocfs2-tools' mkfs, tunefs and fsck lock through; and debugfs, where the
// kernel shows its live nodes), selects the o2cb stack and checks the
// interface revision. What is already done is left as it is. warn is
// told of what failed but is not needed (dlmfs, debugfs, ocfs2.ko).
func (k Kernel) Load(warn func(msg string, err error)) error {
	for _, m := range Modules {
		if k.loaded(m) {
			continue
		}
		if err := k.modprobe("-q", m); err != nil {
			if required[m] {
				return fmt.Errorf("%w: %v", ErrNoStack, err)
			}
			warn("module "+m+" not loaded", err)
		}
	}
	if err := k.mountFS("configfs", "configfs", ConfigfsDir, configfsMagic); err != nil {
		return err
	}
	if err := k.mountFS("ocfs2_dlmfs", "ocfs2_dlmfs", DlmfsDir, dlmfsMagic); err != nil {
		warn("dlmfs not mounted at "+DlmfsDir+": ocfs2-tools' cluster-aware tools will not work", err)
	}
	if err := k.mountFS("debugfs", "debugfs", DebugfsDir, debugfsMagic); err != nil {
		warn("debugfs not mounted at "+DebugfsDir+": status cannot show the kernel's own view", err)
	}
	if err := k.checkRevision(); err != nil {
		return err
	}
	return k.selectStack()
}

// mountFS mounts fstype at dir unless a filesystem with that magic is
// mounted there already.
func (k Kernel) mountFS(fstype, source, dir string, magic int64) error {
	p := k.path(dir)
	var st unix.Statfs_t
	if err := unix.Statfs(p, &st); err == nil && int64(st.Type) == magic {
		return nil
	}
	if k.Root != "" {
		return &Error{Op: "mount " + fstype + " on", Path: dir, Err: errors.New("not mounted (test root)")}
	}
	if err := os.MkdirAll(p, 0o755); err != nil {
		return &Error{Op: "mount " + fstype + " on", Path: dir, Err: unwrapPath(err)}
	}
	if err := unix.Mount(source, p, fstype, 0, ""); err != nil && !errors.Is(err, syscall.EBUSY) {
		return &Error{Op: "mount " + fstype + " on", Path: dir, Err: err}
	}
	return nil
}

func (k Kernel) checkRevision() error {
	n, err := k.readInt(revisionFile)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNoStack, err)
	}
	if n > APIVersion {
		return &Error{Op: "read", Path: revisionFile, Err: fmt.Errorf("interface revision %d, newer than the %d this agent knows", n, APIVersion)}
	}
	return nil
}

// selectStack makes o2cb the cluster stack. The kernel refuses (EBUSY) a
// change while another stack has a volume mounted.
func (k Kernel) selectStack() error {
	cur, err := k.read(stackFile)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNoStack, err)
	}
	if cur == Stack {
		return nil
	}
	if err := k.write(stackFile, Stack+"\n"); err != nil {
		if isErrno(err, syscall.EBUSY) {
			err.(*Error).Hint = "the " + cur + " stack is in use"
		}
		return err
	}
	return nil
}

// Plugins lists the loaded cluster stack plugins (e.g. o2cb).
func (k Kernel) Plugins() []string {
	s, _ := k.read(pluginsFile)
	return strings.Fields(s)
}

// SetHbCtlPath sets the program the kernel runs at umount (ocfs2_hb_ctl
// -K -u UUID) and returns the one it ran before.
func (k Kernel) SetHbCtlPath(p string) (old string, err error) {
	old, err = k.read(hbCtlPath)
	if err != nil || old == p {
		return old, err
	}
	return old, k.write(hbCtlPath, p)
}

// Mount is a mounted OCFS2 volume.
type Mount struct {
	Device string // as mounted, e.g. /dev/vda
	Dir    string
}

// Mounts lists the OCFS2 volumes mounted in this mount namespace.
func (k Kernel) Mounts() ([]Mount, error) {
	f, err := os.Open(k.path(mountinfo))
	if err != nil {
		return nil, &Error{Op: "read", Path: mountinfo, Err: unwrapPath(err)}
	}
	defer f.Close()
	var out []Mount
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		// 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		pf, qf := strings.Fields(pre), strings.Fields(post)
		if len(pf) < 5 || len(qf) < 2 || qf[0] != "ocfs2" {
			continue
		}
		out = append(out, Mount{Device: unescape(qf[1]), Dir: unescape(pf[4])})
	}
	if err := sc.Err(); err != nil {
		return nil, &Error{Op: "read", Path: mountinfo, Err: err}
	}
	return out, nil
}

// unescape undoes mountinfo's octal escapes (\040 for a space).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOct(s[i+1]) && isOct(s[i+2]) && isOct(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOct(c byte) bool { return c >= '0' && c <= '7' }
