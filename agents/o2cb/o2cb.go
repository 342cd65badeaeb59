// Package o2cb is the OCF agent ocf:ocfs2:o2cb: the o2cb cluster on this
// node. Start brings the kernel's o2cb stack online (package kstack) or,
// with the userspace backend, runs the node's heartbeat daemon, and in
// global heartbeat mode starts every heartbeat region of cluster.conf
// through its layout driver; monitor fails when this node's heartbeat is seen in too few
// regions (region_quorum); stop undoes start.
//
// The actions are in files of their own: start.go, stop.go, monitor.go
// and reload.go; the rules they apply are pure functions in quorum.go
// (which regions count, which are lost, whether enough remain) and
// regions.go (the global regions a start, reload or stop touches).
package o2cb

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/o2cb-ra/o2cb-ra/agents/clusterview"
	"github.com/o2cb-ra/o2cb-ra/agents/daemonctl"
	"github.com/o2cb-ra/o2cb-ra/agents/host"
	"github.com/o2cb-ra/o2cb-ra/agents/kstack"
	"github.com/o2cb-ra/o2cb-ra/agents/layout"
	"github.com/o2cb-ra/o2cb-ra/agents/params"
	"github.com/o2cb-ra/o2cb-ra/internal/clusterconf"
	"github.com/o2cb-ra/o2cb-ra/internal/hbdisk"
	"github.com/o2cb-ra/o2cb-ra/internal/ocf"
	"github.com/o2cb-ra/o2cb-ra/internal/ocfs2"
)

// Quorum rules of region_quorum.
const (
	QuorumAny      = "any"
	QuorumMajority = "majority"
	QuorumAll      = "all"
)

// checkInt makes a parameter's Check of a check of its integer (the
// parameter's type, Integer, is checked first).
func checkInt(check func(int) error) func(string) error {
	return func(s string) error {
		n, _ := strconv.Atoi(strings.TrimSpace(s))
		return check(n)
	}
}

// Agent is ocf:ocfs2:o2cb on this machine, declared on first use: an
// action of the other agent does not build this one's parameters.
var Agent = sync.OnceValue(func() *ocf.Agent { return New(host.OS()) })

// agent is ocf:ocfs2:o2cb on a host.
type agent struct{ host host.Host }

// New is ocf:ocfs2:o2cb with h as the machine it runs on.
func New(h host.Host) *ocf.Agent {
	a := agent{host: h}
	return &ocf.Agent{
		Name:    "o2cb",
		Version: "1.0",
		Short:   "OCFS2 o2cb cluster with disk heartbeat",
		Long: `Brings the o2cb cluster online on this node, with one of two backends
(heartbeat_backend).

kernel (where the o2cb modules are, the default there): as ocfs2-tools' o2cb
init script does, it loads the modules, mounts configfs and dlmfs, selects the
o2cb stack and registers the cluster and its nodes from cluster.conf with its
timeouts, every write read back; in global heartbeat mode it starts every
region of cluster.conf in the kernel. OCFS2 volumes then mount on it. An
existing registration is adopted when it matches and refused, naming the
difference, when it does not. Stop refuses while an OCFS2 volume is mounted
and otherwise leaves nothing registered.

userspace: the node's heartbeat daemon reads and writes the kernel o2hb's
on-disk slots, so kernel nodes and these nodes see each other on the same
regions (no mounts). observer: the daemon only reads.

Run it as a clone on every node. Monitor fails when this node's own heartbeat
is seen in too few regions (region_quorum): losing one of many regions is
logged and tolerated, as a node is live while any region sees it.

In local heartbeat mode, consumers (mount, fsck, ocf:ocfs2:hbregion) start
their own regions.`,
		// Two o2cb resources must not share a run directory (one daemon each).
		Params: append(append(params.Shared("run_dir"),
			ocf.Param{Name: "dead_threshold", Type: ocf.Integer, Default: "31", EnvVar: "O2CB_DEAD_THRESHOLD",
				Short: "heartbeat dead threshold (iterations)", Check: checkInt(hbdisk.CheckDeadThreshold),
				Long: "Iterations without a new heartbeat after which a node is dead (the kernel's O2CB_HEARTBEAT_THRESHOLD). Every node, kernel or not, must use the same value."},
			params.TimeoutParam,
			ocf.Param{Name: "heartbeat_interval_ms", Type: ocf.Integer, Default: "2000", EnvVar: "O2CB_HEARTBEAT_INTERVAL_MS",
				Short: "heartbeat interval (ms)", Check: checkInt(hbdisk.CheckIntervalMS),
				Long: "Milliseconds between heartbeat iterations. The kernel uses 2000; keep it with kernel nodes in the cluster."},
			ocf.Param{Name: "manage_regions", Type: ocf.Boolean, Default: "true",
				Short: "start the global heartbeat regions",
				Long:  "In global heartbeat mode, start and stop the heartbeat regions of cluster.conf. Set to false to manage each region as its own ocf:ocfs2:hbregion resource."},
			// Read by each monitor: reload-agent applies it online.
			ocf.Param{Name: "region_quorum", Type: ocf.String, Default: QuorumAny, Reloadable: true,
				Short: "regions needed for monitor to succeed",
				Check: func(s string) error {
					if !slices.Contains([]string{QuorumAny, QuorumMajority, QuorumAll}, s) {
						return fmt.Errorf("%q: want any, majority or all", s)
					}
					return nil
				},
				Long: "any: monitor fails only when no region sees this node's own heartbeat. majority: it fails when at least half of the regions are lost (the kernel's global-mode fencing rule). all: it fails when any region is lost."},
			ocf.Param{Name: "metrics_address", Type: ocf.String, Short: "address of the daemon's Prometheus metrics listener",
				Check: checkHostPort,
				Long:  "host:port on which the heartbeat daemon serves Prometheus metrics (GET /metrics), the families o2cb-ra metrics prints. Empty (the default): no listener. It has no authentication: bind it to a management address, e.g. 127.0.0.1:9664 behind a scraping proxy. The daemon started with the first o2cb start keeps its address until it stops."},
			ocf.Param{Name: "dampen", Type: ocf.Time, Default: "5s", Reloadable: true,
				Short: "delay of the node health attributes' changes",
				Long:  "Under Pacemaker the monitor publishes two node attributes, as ocf:pacemaker:ping does: o2cb-regions, the count of regions that see this node, and #health-o2cb: green when every counted region sees it, yellow when some are lost but region_quorum holds (the monitor then returns OCF_DEGRADED to an OCF 1.1 caller), red when it fails. Pacemaker's attribute manager waits this long for further changes before writing one (attrd_updater -d). Stop deletes both. A location rule on #health-o2cb, or a node-health-strategy, can move resources off a node whose heartbeat storage is failing."},
			ocf.Param{Name: "allow_stonith_disabled", Type: ocf.Boolean, Default: "false",
				Short: "start even with fencing disabled",
				Long:  "Start refuses when Pacemaker's stonith-enabled is false: a node that loses the heartbeat must be fenced before the others recover its journal. Set to true to start anyway (test clusters); a warning is logged at every start."},
		), kstack.TimeoutParams(checkInt)...),
		Actions: []ocf.Action{
			{Name: "start", Timeout: 90 * time.Second, Run: a.start},
			{Name: "stop", Timeout: 100 * time.Second, Run: a.stop},
			{Name: "monitor", Timeout: 20 * time.Second, Interval: 10 * time.Second, Run: a.monitor},
			{Name: "monitor", Timeout: 30 * time.Second, Interval: 30 * time.Second, Depth: 10, Run: a.monitor},
			// reload re-reads cluster.conf for added and removed global
			// regions; reload-agent applies the reloadable parameters, which
			// the next monitor reads, and re-reads cluster.conf the same way.
			{Name: "reload", Timeout: 90 * time.Second, Run: a.reload},
			{Name: "reload-agent", Timeout: 90 * time.Second, Run: a.reload},
			{Name: "meta-data", Timeout: 5 * time.Second, NoParams: true},
			{Name: "validate-all", Timeout: 30 * time.Second, Run: a.validate},
		},
		Example: &ocf.Example{Resource: "o2cb", Params: []string{"region_quorum=any"}, Clone: true, OnFail: "fence"},
		SeeAlso: []string{"ocf_ocfs2_hbregion(7)", "ocf_heartbeat_Filesystem(7)", "o2cb-ra(8)", "o2cb(8)", "mount.ocfs2(8)", "pcs(8)", "crm(8)"},
	}
}

// checkHostPort accepts host:port with a port number (a host name or an
// address; an empty host listens on every address).
func checkHostPort(s string) error {
	if s == "" {
		return nil
	}
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q: want host:port (e.g. 127.0.0.1:9664): %v", s, err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%q: port %q is not 1 to 65535", s, port)
	}
	return nil
}

// node is what an action works on: the daemon of run_dir, the devices
// searched first, and this node's view of the cluster once read.
type node struct {
	daemon  *daemonctl.Daemon
	devices string
	view    *clusterview.View // nil until loadView
	backend string            // kstack.Kernel, Userspace or Observer, once chosen
}

// newNode is what an action knows without reading cluster.conf.
func newNode(c *ocf.Context) *node {
	return &node{daemon: daemonctl.New(c.Params.String("run_dir")), devices: c.Params.String("devices")}
}

// loadView reads cluster.conf into n.
func (a agent) loadView(c *ocf.Context, n *node) error {
	v, err := clusterview.Load(c, a.host.HostName)
	if err != nil {
		return err
	}
	n.view = v
	return nil
}

// load reads cluster.conf and checks the layout drivers of the regions
// that start and reload run.
func (a agent) load(c *ocf.Context) (*node, error) {
	if err := params.CheckDeadThreshold(c, hbdisk.CheckDeadThreshold); err != nil {
		return nil, err
	}
	n := newNode(c)
	if err := a.loadView(c, n); err != nil {
		return nil, err
	}
	if managed(c, n.view) {
		for _, r := range n.view.Regions {
			if _, err := layout.Find(r.Layout); err != nil {
				return nil, err
			}
		}
	}
	return n, nil
}

// managed reports whether start and stop handle the global regions.
func managed(c *ocf.Context, v *clusterview.View) bool {
	return v.Mode == clusterconf.ModeGlobal && c.Params.Bool("manage_regions")
}

func (a agent) validate(c *ocf.Context) error {
	if err := checkClone(c); err != nil {
		return err
	}
	n, err := a.load(c)
	if err != nil {
		return err
	}
	if c.CheckLevel >= 10 && n.view.Mode == clusterconf.ModeGlobal {
		for _, r := range n.view.Regions {
			dev, err := ocfs2.FindByUUID(r.UUID, layout.ScanOptions(c, n.devices))
			if err != nil {
				return layout.SearchError("region %s (cluster.conf line %d): %v", err, r.UUID, r.Line)
			}
			layout.WarnSlowStorage(c, r.UUID, dev, params.WriteTimeout(c))
		}
	}
	if c.CheckLevel >= 10 && n.view.Mode != clusterconf.ModeGlobal {
		// Local mode: the regions the mounts started, where they run.
		if st, err := n.daemon.Client.Status(c); err == nil {
			for _, r := range st.Regions {
				layout.WarnSlowStorage(c, r.UUID, r.Device, params.WriteTimeout(c))
			}
		}
	}
	return nil
}
