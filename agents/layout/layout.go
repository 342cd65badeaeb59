// Package layout is the agents' side of the layout-driver contract. A
// region's layout names a driver, <layout>_hb_ctl, that maps the
// region's UUID to what heartbeats on it; the agents find it beside
// o2cb-ra or in PATH (Find) and run it as
//
//	<layout>_hb_ctl -S|-K -u UUID [OWNER]
//
// with the resource's run directory and devices in its environment
// (Env: O2CB_RUN_DIR, O2CB_HB_DEVICES, and O2CB_HEARTBEAT_OWNER for the
// cluster's own regions). A failed call is an *Error: the driver's one
// line of text. The ocfs2 layout's driver is ocfs2_hb_ctl; its regions
// are found by UUID with this resource's devices searched first
// (ScanOptions), and a failed search is an exit code (SearchError).
package layout

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/o2cb-ra/o2cb-ra/agents/host"
	"github.com/o2cb-ra/o2cb-ra/agents/reason"
	"github.com/o2cb-ra/o2cb-ra/internal/ocf"
	"github.com/o2cb-ra/o2cb-ra/internal/ocfs2"
)

// Find finds the layout driver <layout>_hb_ctl: first beside the
// running executable, then in PATH. Missing: OCF_ERR_INSTALLED.
func Find(layout string) (string, error) {
	if strings.ContainsAny(layout, "/ \t") || layout == "" {
		return "", ocf.Errorf(ocf.ErrConfigured, "layout %q is not a layout name", layout)
	}
	name := layout + "_hb_ctl"
	if exe, err := host.Executable(); err == nil {
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

// Env is the environment of a driver call: the agent's (env) plus the
// run directory and device list of this resource, then extra.
func Env(env ocf.Env, runDir, devices string, extra ...string) []string {
	out := append(ocf.Environ(env), "O2CB_RUN_DIR="+runDir)
	if devices != "" {
		out = append(out, "O2CB_HB_DEVICES="+strings.Join(ocfs2.SplitDeviceList(devices), ":"))
	}
	return append(out, extra...)
}

// Error is a failed driver call on a region.
type Error struct {
	UUID string // the region of the call
	Text string // the driver's reason, without its name
}

func (e *Error) Error() string { return e.Text }

// Reason is the failure as an exit reason names it: the region by its
// short form, once, then the driver's text with the region's UUID
// shortened wherever it appears (the driver writes text, and may name
// the region as "region <UUID>: ", as ocfs2_hb_ctl passes the daemon's
// error on: that naming is dropped).
func (e *Error) Reason() string {
	text := strings.Replace(e.Text, "region "+e.UUID+": ", "", 1)
	if len(e.UUID) > 8 {
		text = strings.ReplaceAll(text, e.UUID, reason.Short(e.UUID))
	}
	return reason.Region(e.UUID, text)
}

// Run runs driver with action (-S or -K) on region uuid, with args after
// it (the owner), and env as its environment; its failure is an *Error.
func Run(ctx context.Context, driver string, env []string, action, uuid string, args ...string) error {
	args = append([]string{action, "-u", uuid}, args...)
	cmd := exec.CommandContext(ctx, driver, args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err == nil {
		return nil
	}
	// The driver's own one-line reason, without its name: exit reasons
	// are short (Pacemaker keeps 128 characters).
	msg := strings.TrimSpace(string(out))
	msg = strings.TrimPrefix(msg, filepath.Base(driver)+": ")
	if msg == "" {
		msg = fmt.Sprintf("%s %s: %v", filepath.Base(driver), strings.Join(args, " "), err)
	}
	if ctx.Err() != nil {
		msg += fmt.Sprintf(" (%v)", context.Cause(ctx))
	}
	return &Error{UUID: uuid, Text: msg}
}

// ScanOptions is the device search of a resource with the devices
// parameter devices: its devices first, and a warning logged for a
// device that did not answer while the region was found on another.
func ScanOptions(c *ocf.Context, devices string) ocfs2.ScanOptions {
	return ocfs2.ScanOptions{
		Extra: ocfs2.SplitDeviceList(devices),
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
