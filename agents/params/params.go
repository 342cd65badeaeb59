// Package params declares the parameters both agents share: where the
// node's cluster is configured (cluster_conf, cluster, node_name), where
// its heartbeat daemon runs (run_dir) and which devices a region search
// tries first (devices), and who writes the heartbeat (heartbeat_backend).
package params

import (
	"fmt"
	"slices"

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
