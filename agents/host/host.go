// Package host is what the agents ask of the machine they run on, as
// hooks: the effective user (actions that change what runs need root)
// and the host name (this node's name in cluster.conf when node_name is
// empty). OS is the machine itself; tests run the agents in-process as
// any user with hooks of their own.
//
//	a := o2cb.New(host.Host{Euid: func() int { return 0 }, Hostname: func() (string, error) { return "n1", nil }})
//	code := a.Main([]string{"validate-all"}, ocf.MapEnv{...}, stdout, stderr)
package host

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/o2cb-ra/o2cb-ra/internal/o2cbfs"
	"github.com/o2cb-ra/o2cb-ra/internal/ocf"
)

// Host is the machine as an agent sees it. A nil hook is this machine's
// own: the zero Host is OS().
type Host struct {
	Euid     func() int             // the effective user id
	Hostname func() (string, error) // the kernel's host name
	// Kernel is the kernel's o2cb stack; the zero value is this machine's.
	Kernel o2cbfs.Kernel
	// Attrd runs Pacemaker's attrd_updater with args; nil runs the
	// machine's.
	Attrd func(ctx context.Context, args ...string) ([]byte, error)
}

// AttrdUpdater runs attrd_updater with args, by the Attrd hook.
func (h Host) AttrdUpdater(ctx context.Context, args ...string) ([]byte, error) {
	if h.Attrd != nil {
		return h.Attrd(ctx, args...)
	}
	return exec.CommandContext(ctx, "attrd_updater", args...).CombinedOutput()
}

// OS is this machine.
func OS() Host { return Host{Euid: os.Geteuid, Hostname: os.Hostname} }

// HostName is the host name, by the Hostname hook.
func (h Host) HostName() (string, error) {
	if h.Hostname == nil {
		return os.Hostname()
	}
	return h.Hostname()
}

// RequireRoot fails an action that needs root with OCF_ERR_PERM.
func (h Host) RequireRoot(c *ocf.Context) error {
	euid := h.Euid
	if euid == nil {
		euid = os.Geteuid
	}
	if uid := euid(); uid != 0 {
		return ocf.Errorf(ocf.ErrPerm, "%s needs root (running as uid %d)", c.Action, uid)
	}
	return nil
}

// Executable is the running o2cb-ra binary, symlinks resolved: the
// daemon is launched from it and layout drivers are found beside it.
func Executable() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(exe)
}
