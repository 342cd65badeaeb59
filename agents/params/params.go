// Package params declares the parameters both agents share: where the
// node's cluster is configured (cluster_conf, cluster, node_name), where
// its heartbeat daemon runs (run_dir) and which devices a region search
// tries first (devices), and who writes the heartbeat (heartbeat_backend).
package params

import (
	"fmt"
	"slices"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/clusterconf"
	"github.com/o2cb-ra/o2cb-ra/internal/ocf"
	"github.com/o2cb-ra/o2cb-ra/internal/rundir"
)

// Shared are the parameters of both agents; runDirGroup is run_dir's
// unique-group ("" for none).
func Shared(runDirGroup string) []ocf.Param {
	return []ocf.Param{
		{Name: "cluster", Type: ocf.String, Short: "o2cb cluster name",
			Long: "Name of the o2cb cluster in cluster.conf. Empty: the only cluster the file defines."},
		{Name: "cluster_conf", Type: ocf.String, Default: clusterconf.DefaultPath, EnvVar: "O2CB_CLUSTER_CONF",
			Short: "cluster configuration file", Long: "Path of the o2cb cluster configuration (the format of ocfs2-tools' o2cb)."},
		{Name: "node_name", Type: ocf.String, EnvVar: "O2CB_NODE_NAME", Short: "this node's name in cluster.conf",
			Long: "Name of this node in cluster.conf. Empty: the host name, matched without its domain as ocfs2-tools does."},
		{Name: "run_dir", Type: ocf.String, Default: rundir.DefaultRunDir, EnvVar: "O2CB_RUN_DIR", UniqueGroup: runDirGroup,
			Short: "daemon run directory", Long: "Directory of the heartbeat daemon's socket, pid file and state. It must be owned by root and not writable by others."},
		{Name: "devices", Type: ocf.String, EnvVar: "O2CB_HB_DEVICES", Short: "extra devices searched for regions",
			Long: "Device paths or globs, separated by spaces or colons, searched first when a region's device is found by its UUID (e.g. file-backed regions, or to prefer multipath devices). The rest of the search is /dev/mapper/* and the devices of /proc/partitions."},
		BackendParam,
	}
}

// Backends of heartbeat_backend: kernel (the kernel's o2hb heartbeats;
// the node's daemon observes), userspace (our daemon heartbeats),
// observer (our daemon reads and reports and never writes: for a node
// without the kernel stack in a cluster whose regions kernel nodes use).
// auto is kernel where the o2cb modules are loaded or loadable, else
// userspace.
const (
	Auto      = "auto"
	Kernel    = "kernel"
	Userspace = "userspace"
	Observer  = "observer"
)

// EnvBackend is the environment variable that overrides
// heartbeat_backend's default, and that tells the layout driver and the
// daemon which backend runs.
const EnvBackend = "O2CB_HEARTBEAT_BACKEND"

// BackendParam is heartbeat_backend, shared by both agents.
var BackendParam = ocf.Param{Name: "heartbeat_backend", Type: ocf.String, Default: Auto, EnvVar: EnvBackend,
	Short: "who writes this node's heartbeat",
	Check: func(s string) error {
		if !slices.Contains([]string{Auto, Kernel, Userspace, Observer}, s) {
			return fmt.Errorf("%q: want auto, kernel, userspace or observer", s)
		}
		return nil
	},
	Long: "kernel: the kernel's o2cb stack (configfs, o2net, the kernel's heartbeat regions), which OCFS2 mounts need; the heartbeat daemon only observes. userspace: the heartbeat daemon writes the heartbeat (no mounts). observer: the daemon reads and reports, never writes; for nodes without the kernel stack in clusters of kernel nodes. auto: kernel where the o2cb modules are loaded or loadable (modprobe -n), else userspace."}

// TimeoutParam is heartbeat_timeout, the dead threshold in time.
var TimeoutParam = ocf.Param{Name: "heartbeat_timeout", Type: ocf.Time, Short: "time without a heartbeat before a node is dead",
	Long: "The dead threshold in time instead of iterations: a node whose heartbeat has not changed for this long is dead, and a write that takes this long fences this node. dead_threshold becomes heartbeat_timeout / heartbeat_interval_ms + 1, rounded up (60s at 2000 ms: 31, the kernel's default). Storage behind the regions must fail an I/O well before this: with multipath, more than no_path_retry × polling_interval plus 30 s, or the SCSI command timeout plus 30 s. validate-all at OCF_CHECK_LEVEL=10 warns, naming the device, when a layer can hold an I/O longer. Empty: dead_threshold applies. Setting both is an error unless they agree."}

// DeadThreshold is the dead threshold the o2cb resource asks for, in
// iterations: from heartbeat_timeout when it is set, else
// dead_threshold. CheckDeadThreshold has checked that they agree.
func DeadThreshold(c *ocf.Context) int {
	t, err := ocf.ParseTime(c.Params.String(TimeoutParam.Name))
	if !c.Params.IsSet(TimeoutParam.Name) || err != nil {
		return c.Params.Int("dead_threshold")
	}
	return thresholdOf(t, c.Params.Int("heartbeat_interval_ms"))
}

// thresholdOf is the dead threshold of timeout t at an interval of ms.
func thresholdOf(t time.Duration, ms int) int {
	iv := time.Duration(max(ms, 1)) * time.Millisecond
	return int((t+iv-1)/iv) + 1
}

// WriteTimeout is how long a heartbeat write may take before the node
// fences itself: (dead_threshold - 1) intervals, as the kernel's o2hb.
func WriteTimeout(c *ocf.Context) time.Duration {
	return time.Duration(DeadThreshold(c)-1) * time.Duration(c.Params.Int("heartbeat_interval_ms")) * time.Millisecond
}

// CheckDeadThreshold fails when dead_threshold and heartbeat_timeout are
// both set and disagree, or when heartbeat_timeout gives a threshold
// check refuses.
func CheckDeadThreshold(c *ocf.Context, check func(int) error) error {
	if !c.Params.IsSet(TimeoutParam.Name) {
		return nil
	}
	t, err := ocf.ParseTime(c.Params.String(TimeoutParam.Name))
	if err != nil {
		return ocf.Errorf(ocf.ErrConfigured, "parameter %s: %v", TimeoutParam.Name, err)
	}
	ms := c.Params.Int("heartbeat_interval_ms")
	n := thresholdOf(t, ms)
	if err := check(n); err != nil {
		return ocf.Errorf(ocf.ErrConfigured, "parameter %s=%s: %d iterations of %d ms: %v", TimeoutParam.Name, c.Params.String(TimeoutParam.Name), n, ms, err)
	}
	if c.Params.IsSet("dead_threshold") && c.Params.Int("dead_threshold") != n {
		return ocf.Errorf(ocf.ErrConfigured, "dead_threshold=%d and %s=%s disagree (%s at %d ms is %d iterations): set one of them",
			c.Params.Int("dead_threshold"), TimeoutParam.Name, c.Params.String(TimeoutParam.Name), c.Params.String(TimeoutParam.Name), ms, n)
	}
	return nil
}
