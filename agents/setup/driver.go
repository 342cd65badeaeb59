package setup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/o2cb-ra/o2cb-ra/internal/ocf"
	"github.com/o2cb-ra/o2cb-ra/internal/ocfs2"
)

// Executable is the running o2cb-ra binary, symlinks resolved.
func Executable() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(exe)
}

// FindDriver finds the layout driver <layout>_hb_ctl: first beside the
// running executable, then in PATH. Missing: OCF_ERR_INSTALLED.
func FindDriver(layout string) (string, error) {
	if strings.ContainsAny(layout, "/ \t") || layout == "" {
		return "", ocf.Errorf(ocf.ErrConfigured, "layout %q is not a layout name", layout)
	}
	name := layout + "_hb_ctl"
	if exe, err := Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", ocf.Errorf(ocf.ErrInstalled, "layout driver %s not found beside o2cb-ra or in PATH", name)
	}
	return p, nil
}

// DriverEnv is the environment of a layout driver call: ours plus the run
// directory and device list of this resource.
func (s *Setup) DriverEnv(extra ...string) []string {
	env := append(os.Environ(), "O2CB_RUN_DIR="+s.RunDir)
	if s.Devices != "" {
		env = append(env, "O2CB_HB_DEVICES="+strings.Join(ocfs2.SplitDeviceList(s.Devices), ":"))
	}
	return append(env, extra...)
}

// RunDriver runs the layout driver with args and returns its error with
// the driver's message.
func (s *Setup) RunDriver(ctx context.Context, driver string, env []string, args ...string) error {
	cmd := exec.CommandContext(ctx, driver, args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		// The driver's own one-line reason, without its name: exit
		// reasons are short (Pacemaker keeps 128 characters).
		msg := strings.TrimSpace(string(out))
		msg = strings.TrimPrefix(msg, filepath.Base(driver)+": ")
		if msg == "" {
			msg = fmt.Sprintf("%s %s: %v", filepath.Base(driver), strings.Join(args, " "), err)
		}
		if ctx.Err() != nil {
			msg += fmt.Sprintf(" (%v)", context.Cause(ctx))
		}
		return errors.New(msg)
	}
	return nil
}

// Short is a region UUID's first 8 hex digits, as exit reasons name it.
func Short(uuid string) string { return uuid[:min(8, len(uuid))] }

// Shorten replaces every full UUID of regions in msg with its short form.
func Shorten(msg string, uuids ...string) string {
	for _, u := range uuids {
		if len(u) > 8 {
			msg = strings.ReplaceAll(msg, u, Short(u))
		}
	}
	return msg
}

// ScanOptions is the device search of this resource: its devices first,
// and a warning logged for a device that did not answer while the region
// was found on another.
func (s *Setup) ScanOptions(c *ocf.Context) ocfs2.ScanOptions {
	return ocfs2.ScanOptions{
		Extra: ocfs2.SplitDeviceList(s.Devices),
		Warn:  func(err error) { c.Log.Warn("a device of the search did not answer", "err", err) },
	}
}

// SearchError is the OCF error of a failed device search for a region
// at validate-all's depth 10: a volume that is not there is a matter of
// configuration (OCF_ERR_CONFIGURED); a device that did not answer may
// hold it, and is this node's trouble (OCF_ERR_GENERIC), not the
// resource's everywhere.
func SearchError(format string, err error, a ...any) error {
	code := ocf.ErrConfigured
	if errors.Is(err, ocfs2.ErrNoAnswer) {
		code = ocf.ErrGeneric
	}
	return ocf.Errorf(code, format, append(a, err)...)
}
