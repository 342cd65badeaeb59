// Package setup is what both agents know of this node's o2cb setup: the
// parameters they share, cluster.conf read with its errors mapped to OCF
// exit codes, and the node's heartbeat daemon.
package setup

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/o2cb-ra/o2cb-ra/internal/clusterconf"
	"github.com/o2cb-ra/o2cb-ra/internal/hbd"
	"github.com/o2cb-ra/o2cb-ra/internal/ocf"
	"github.com/o2cb-ra/o2cb-ra/internal/ocfs2"
)

// Params are the parameters of both agents; runDirGroup is run_dir's
// unique-group ("" for none).
func Params(runDirGroup string) []ocf.Param {
	return []ocf.Param{
		{Name: "cluster", Type: ocf.String, Short: "o2cb cluster name",
			Long: "Name of the o2cb cluster in cluster.conf. Empty: the only cluster the file defines."},
		{Name: "cluster_conf", Type: ocf.String, Default: clusterconf.DefaultPath, EnvVar: "O2CB_CLUSTER_CONF",
			Short: "cluster configuration file", Long: "Path of the o2cb cluster configuration (the format of ocfs2-tools' o2cb)."},
		{Name: "node_name", Type: ocf.String, EnvVar: "O2CB_NODE_NAME", Short: "this node's name in cluster.conf",
			Long: "Name of this node in cluster.conf. Empty: the host name, matched without its domain as ocfs2-tools does."},
		{Name: "run_dir", Type: ocf.String, Default: hbd.DefaultRunDir, EnvVar: "O2CB_RUN_DIR", UniqueGroup: runDirGroup,
			Short: "daemon run directory", Long: "Directory of the heartbeat daemon's socket, pid file and state. It must be owned by root and not writable by others."},
		{Name: "devices", Type: ocf.String, EnvVar: "O2CB_HB_DEVICES", Short: "extra devices searched for regions",
			Long: "Device paths or globs, separated by spaces or colons, searched first when a region's device is found by its UUID (e.g. file-backed regions, or to prefer multipath devices). The rest of the search is /dev/mapper/* and the devices of /proc/partitions."},
	}
}

// Setup is the node's configuration as an action sees it.
type Setup struct {
	Conf    *clusterconf.Config
	Cluster *clusterconf.Cluster
	Node    clusterconf.Node
	Mode    clusterconf.Mode
	Regions []clusterconf.Region // global mode: the regions to start
	RunDir  string
	Devices string
	Client  *hbd.Client
}

// Load reads cluster.conf for an action. Its errors carry the exit codes
// of DESIGN 6.1: a missing file OCF_ERR_INSTALLED (OCF_NOT_RUNNING in a
// monitor), a bad file or cluster OCF_ERR_CONFIGURED, this node missing
// OCF_ERR_ARGS.
func Load(c *ocf.Context) (*Setup, error) {
	path := c.Params.String("cluster_conf")
	s := &Setup{RunDir: c.Params.String("run_dir"), Devices: c.Params.String("devices")}
	s.Client = hbd.NewClient(s.RunDir)
	conf, err := clusterconf.Load(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if c.Action == "monitor" {
			return nil, ocf.Errorf(ocf.NotRunning, "%v", err)
		}
		return nil, ocf.Errorf(ocf.ErrInstalled, "%v", err)
	case err != nil:
		return nil, ocf.Errorf(ocf.ErrConfigured, "%v", err)
	}
	s.Conf = conf
	if s.Cluster, err = conf.Cluster(c.Params.String("cluster")); err != nil {
		return nil, ocf.Errorf(ocf.ErrConfigured, "%v", err)
	}
	hb, err := s.Cluster.Heartbeat()
	if err != nil {
		return nil, ocf.Errorf(ocf.ErrConfigured, "%v", err)
	}
	s.Mode, s.Regions = hb.Mode, hb.Regions
	if name := c.Params.String("node_name"); name != "" {
		s.Node, err = s.Cluster.Node(name)
	} else {
		host, herr := os.Hostname()
		if herr != nil {
			return nil, ocf.Errorf(ocf.ErrGeneric, "host name: %v", herr)
		}
		s.Node, err = s.Cluster.LocalNode(host)
	}
	if err != nil {
		return nil, ocf.Errorf(ocf.ErrArgs, "%v", err)
	}
	return s, nil
}

// RequireRoot fails an action that needs root with OCF_ERR_PERM.
func RequireRoot(c *ocf.Context) error {
	if os.Geteuid() != 0 {
		return ocf.Errorf(ocf.ErrPerm, "%s needs root (running as uid %d)", c.Action, os.Geteuid())
	}
	return nil
}

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

// DaemonRunning reports whether the daemon answers a ping.
func (s *Setup) DaemonRunning(ctx context.Context) (bool, error) {
	_, err := s.Client.Do(ctx, hbd.Request{Op: hbd.OpPing})
	if errors.Is(err, hbd.ErrNotRunning) {
		return false, nil
	}
	return err == nil, err
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
