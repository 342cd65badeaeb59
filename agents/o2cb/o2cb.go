// Package o2cb is the OCF agent ocf:ocfs2:o2cb: the o2cb cluster on this
// node. Start runs the node's heartbeat daemon and, in global heartbeat
// mode, starts every heartbeat region of cluster.conf through its layout
// driver; monitor fails when this node's heartbeat is seen in too few
// regions (region_quorum); stop undoes start.
package o2cb

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/o2cb-ra/o2cb-ra/agents/setup"
	"github.com/o2cb-ra/o2cb-ra/internal/clusterconf"
	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
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

// Agent is ocf:ocfs2:o2cb.
var Agent = &ocf.Agent{
	Name:    "o2cb",
	Version: "1.0",
	Short:   "OCFS2 o2cb cluster with disk heartbeat",
	Long: `Runs the o2cb cluster stack's disk heartbeat on this node: the node's
heartbeat daemon and, in global heartbeat mode, every heartbeat region of
cluster.conf, started through its layout driver (<layout>_hb_ctl -S -u UUID).
The daemon reads and writes the kernel o2hb's on-disk slots, so kernel nodes
and these nodes see each other on the same regions.

Run it as a clone on every node. Monitor fails when this node's own heartbeat
is seen in too few regions (region_quorum): losing one of many regions is
logged and tolerated, as a node is live while any region sees it.

In local heartbeat mode, consumers (mount, fsck, ocf:ocfs2:hbregion) start
their own regions; the agent only runs the daemon.`,
	// Two o2cb resources must not share a run directory (one daemon each).
	Params: append(setup.Params("run_dir"),
		ocf.Param{Name: "dead_threshold", Type: ocf.Integer, Default: "31", EnvVar: "O2CB_DEAD_THRESHOLD",
			Short: "heartbeat dead threshold (iterations)", Check: checkInt(hbdisk.CheckDeadThreshold),
			Long: "Iterations without a new heartbeat after which a node is dead (the kernel's O2CB_HEARTBEAT_THRESHOLD). Every node, kernel or not, must use the same value."},
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
		ocf.Param{Name: "allow_stonith_disabled", Type: ocf.Boolean, Default: "false",
			Short: "start even with fencing disabled",
			Long:  "Start refuses when Pacemaker's stonith-enabled is false: a node that loses the heartbeat must be fenced before the others recover its journal. Set to true to start anyway (test clusters); a warning is logged at every start."},
	),
	Actions: []ocf.Action{
		{Name: "start", Timeout: 90 * time.Second, Run: start},
		{Name: "stop", Timeout: 100 * time.Second, Run: stop},
		{Name: "monitor", Timeout: 20 * time.Second, Interval: 10 * time.Second, Run: monitor},
		{Name: "monitor", Timeout: 30 * time.Second, Interval: 30 * time.Second, Depth: 10, Run: monitor},
		// reload re-reads cluster.conf for added and removed global
		// regions; reload-agent applies the reloadable parameters, which
		// the next monitor reads, and re-reads cluster.conf the same way.
		{Name: "reload", Timeout: 90 * time.Second, Run: reload},
		{Name: "reload-agent", Timeout: 90 * time.Second, Run: reload},
		{Name: "meta-data", Timeout: 5 * time.Second, NoParams: true},
		{Name: "validate-all", Timeout: 30 * time.Second, Run: validate},
	},
}

// load reads cluster.conf and checks the layout drivers of the regions
// that start and reload run.
func load(c *ocf.Context) (*setup.Setup, error) {
	s, err := setup.Load(c)
	if err != nil {
		return nil, err
	}
	if managed(c, s) {
		for _, r := range s.Regions {
			if _, err := setup.FindDriver(r.Layout); err != nil {
				return nil, err
			}
		}
	}
	return s, nil
}

func validate(c *ocf.Context) error {
	if err := checkClone(c); err != nil {
		return err
	}
	s, err := load(c)
	if err != nil {
		return err
	}
	if c.CheckLevel >= 10 && s.Mode == clusterconf.ModeGlobal {
		for _, r := range s.Regions {
			if _, err := ocfs2.FindByUUID(r.UUID, s.ScanOptions(c)); err != nil {
				return setup.SearchError("region %s (cluster.conf line %d): %v", err, r.UUID, r.Line)
			}
		}
	}
	return nil
}

// managed reports whether start and stop handle the global regions.
func managed(c *ocf.Context, s *setup.Setup) bool {
	return s.Mode == clusterconf.ModeGlobal && c.Params.Bool("manage_regions")
}

func start(c *ocf.Context) error {
	if err := checkClone(c); err != nil {
		return err
	}
	if err := checkPacemaker(c); err != nil {
		return err
	}
	if err := setup.RequireRoot(c); err != nil {
		return err
	}
	s, err := load(c)
	if err != nil {
		return err
	}
	args := setup.DaemonArgs(map[string]string{
		"run-dir":        s.RunDir,
		"cluster-conf":   c.Params.String("cluster_conf"),
		"cluster":        s.Cluster.Name(),
		"node-name":      s.Node.Name,
		"interval-ms":    strconv.Itoa(c.Params.Int("heartbeat_interval_ms")),
		"dead-threshold": strconv.Itoa(c.Params.Int("dead_threshold")),
		"devices":        s.Devices,
	})
	if err := s.EnsureDaemon(c, args); err != nil {
		return err
	}
	if !managed(c, s) {
		c.Log.Info("o2cb started", "mode", s.Mode, "node", s.Node.Name)
		return nil
	}
	failed := driverAll(c, s, s.Regions, "-S")
	ok := len(s.Regions) - len(failed)
	if !quorate(c.Params.String("region_quorum"), len(s.Regions), len(failed)) {
		return ocf.Errorf(ocf.ErrGeneric, "%d of %d heartbeat regions started (region_quorum=%s): %s",
			ok, len(s.Regions), c.Params.String("region_quorum"), strings.Join(failed, "; "))
	}
	for _, f := range failed {
		c.Log.Warn("heartbeat region did not start; running on the others", "err", f)
	}
	c.Log.Info("o2cb started", "mode", s.Mode, "node", s.Node.Name, "regions", ok)
	return nil
}

// quorate applies a region_quorum rule to n regions of which lost are lost.
func quorate(rule string, n, lost int) bool {
	switch rule {
	case QuorumAll:
		return lost == 0
	case QuorumMajority:
		return lost*2 < n
	}
	return n == 0 || lost < n
}

// driverAll runs the layout driver with action (-S or -K) on every region
// in parallel, each bounded by the action's deadline, and returns the
// failures, one message a region.
func driverAll(c *ocf.Context, s *setup.Setup, regions []clusterconf.Region, action string) []string {
	var mu sync.Mutex
	var failed []string
	var wg sync.WaitGroup
	env := s.DriverEnv("O2CB_HEARTBEAT_OWNER=" + hbclient.OwnerGlobal)
	for _, r := range regions {
		wg.Go(func() {
			driver, err := setup.FindDriver(r.Layout)
			if err == nil {
				err = s.RunDriver(c, driver, env, action, "-u", r.UUID)
			}
			if err != nil {
				mu.Lock()
				msg := strings.Replace(err.Error(), "region "+r.UUID+": ", "", 1)
				failed = append(failed, setup.Short(r.UUID)+": "+setup.Shorten(msg, r.UUID))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.Sort(failed)
	return failed
}

// stop works from what runs: the daemon of run_dir and the regions it
// holds for the cluster. cluster.conf only names the layout of those
// regions when it can be read; a missing, broken or changed file never
// fails a stop (a failed stop gets the node fenced).
func stop(c *ocf.Context) error {
	if err := setup.RequireRoot(c); err != nil {
		return err
	}
	s := setup.New(c)
	st, err := s.Client.Status(c)
	switch {
	case errors.Is(err, hbclient.ErrNotRunning):
		// Nothing runs. What a daemon that died left behind is forgotten,
		// so that the next start begins afresh.
		if err := s.ClearStopped(); err != nil {
			return ocf.Errorf(ocf.ErrGeneric, "%v", err)
		}
		return nil
	case err != nil:
		return killHungDaemon(c, s, err)
	}
	if c.Params.Bool("manage_regions") {
		if err := stopGlobalRegions(c, s, st); err != nil {
			return err
		}
		if st, err = s.Client.Status(c); err != nil {
			return ocf.Errorf(ocf.ErrGeneric, "heartbeat daemon: %v", err)
		}
	}
	var users []string
	for _, r := range st.Regions {
		var owners []string
		for _, o := range r.Owners {
			owners = append(owners, o.Name)
		}
		users = append(users, fmt.Sprintf("%s (%s)", r.UUID, strings.Join(owners, ", ")))
	}
	if len(users) > 0 {
		return ocf.Errorf(ocf.ErrGeneric, "heartbeat regions are still in use; stop their users first: %s", strings.Join(users, "; "))
	}
	return s.StopDaemon(c, st.PID)
}

// stopGlobalRegions stops every region the daemon holds for the cluster,
// through the layout driver cluster.conf names for it when the file can
// be read (the ocfs2 layout otherwise, which is the daemon's own).
func stopGlobalRegions(c *ocf.Context, s *setup.Setup, st *hbclient.Status) error {
	layouts := map[string]string{}
	if s.LoadConf(c) == nil {
		for _, r := range s.Regions {
			layouts[r.UUID] = r.Layout
		}
	} else {
		c.Log.Debug("cluster.conf unreadable at stop; stopping the regions the daemon holds for the cluster with the ocfs2 layout")
	}
	var held []clusterconf.Region
	for _, r := range st.Regions {
		if hasOwner(r, hbclient.OwnerGlobal) {
			layout := cmp.Or(layouts[r.UUID], clusterconf.DefaultLayout)
			held = append(held, clusterconf.Region{UUID: r.UUID, Layout: layout})
		}
	}
	if failed := driverAll(c, s, held, "-K"); len(failed) > 0 {
		return ocf.Errorf(ocf.ErrGeneric, "could not stop heartbeat regions: %s", strings.Join(failed, "; "))
	}
	return nil
}

// killHungDaemon ends a daemon that holds the run directory but does not
// answer (statusErr): a stop must not fail while its process can be
// ended, and a daemon that ended writes no more heartbeats, which is what
// the stop promises. Without such a daemon the stop fails with statusErr.
func killHungDaemon(c *ocf.Context, s *setup.Setup, statusErr error) error {
	pid, ok := s.HungDaemon()
	if !ok {
		return ocf.Errorf(ocf.ErrGeneric, "heartbeat daemon: %v", statusErr)
	}
	c.Log.Warn("the heartbeat daemon does not answer; killing it", "pid", pid, "err", statusErr)
	if err := s.KillDaemon(c, pid); err != nil {
		return err
	}
	if err := s.ClearStopped(); err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "%v", err)
	}
	return nil
}

func hasOwner(r hbclient.RegionStatus, name string) bool {
	return slices.ContainsFunc(r.Owners, func(o hbclient.Owner) bool { return o.Name == name })
}

// monitor tells what runs first: no daemon is OCF_NOT_RUNNING whatever
// cluster.conf says (a probe on a node outside the cluster included). A
// daemon that runs is then judged against this node's configuration, and
// trouble with cluster.conf is a failure naming the file and line.
func monitor(c *ocf.Context) error {
	s := setup.New(c)
	st, err := s.MonitorStatus(c)
	if err != nil {
		return err
	}
	if err := s.LoadConf(c); err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "heartbeat daemon runs, but: %v", err)
	}
	uuids := countedRegions(c, s, st)
	var lost, lostUUIDs []string
	lose := func(u, why string) {
		lost = append(lost, setup.Short(u)+": "+setup.Shorten(why, u))
		lostUUIDs = append(lostUUIDs, u)
	}
	for _, u := range uuids {
		i := slices.IndexFunc(st.Regions, func(r hbclient.RegionStatus) bool { return r.UUID == u })
		switch {
		case i < 0:
			lose(u, "not running")
		case st.Regions[i].State == hbclient.StateStarting:
			// Not lost: a region that starts is steady or failed within a
			// bounded number of iterations (a daemon brought back after it
			// died resumes its regions so).
		case !slices.Contains(st.Regions[i].LiveNodes, st.Node.Number):
			why := string(st.Regions[i].State)
			if e := st.Regions[i].Error; e != "" {
				why += ": " + strings.TrimPrefix(e, "region "+u+": ")
			}
			lose(u, why)
		case c.CheckLevel >= 10:
			// The daemon must have read the own slot back recently: a
			// hung device shows within a few intervals, long before the
			// write timeout fails the region.
			if err := setup.CheckOwnSlot(st.Regions[i], time.Duration(st.IntervalMS)*time.Millisecond); err != nil {
				lose(u, err.Error())
			}
		}
	}
	rule := c.Params.String("region_quorum")
	if !quorate(rule, len(uuids), len(lost)) {
		return ocf.Errorf(ocf.ErrGeneric, "%d of %d heartbeat regions lost (region_quorum=%s): %s",
			len(lost), len(uuids), rule, strings.Join(lost, "; "))
	}
	for i, l := range lost {
		c.Log.Warn("heartbeat region lost; this node is still seen in others", "region", lostUUIDs[i], "why", l)
	}
	return nil
}

// countedRegions are the regions the monitor's quorum counts. In global
// mode with managed regions: those cluster.conf names and any other the
// daemon holds for the cluster (cluster.conf may have changed since the
// start); otherwise whatever runs (none is fine: the daemon is the
// resource).
func countedRegions(c *ocf.Context, s *setup.Setup, st *hbclient.Status) []string {
	var uuids []string
	if !managed(c, s) {
		for _, r := range st.Regions {
			uuids = append(uuids, r.UUID)
		}
		return uuids
	}
	for _, r := range s.Regions {
		uuids = append(uuids, r.UUID)
	}
	for _, r := range st.Regions {
		if hasOwner(r, hbclient.OwnerGlobal) && !slices.Contains(uuids, r.UUID) {
			uuids = append(uuids, r.UUID)
		}
	}
	return uuids
}

// reload re-reads cluster.conf: the daemon's, and in global mode the
// regions added (started) and removed (stopped) since. It is also the
// reload-agent of OCF 1.1, which applies the reloadable parameters: the
// only one, region_quorum, is read by every monitor.
func reload(c *ocf.Context) error {
	if err := setup.RequireRoot(c); err != nil {
		return err
	}
	s, err := load(c)
	if err != nil {
		return err
	}
	if _, err := s.Client.Do(c, hbclient.Request{Op: hbclient.OpReload}); err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "reload the heartbeat daemon: %v", err)
	}
	if !managed(c, s) {
		return nil
	}
	st, err := s.Client.Status(c)
	if err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "heartbeat daemon: %v", err)
	}
	var add, remove []clusterconf.Region
	for _, r := range s.Regions {
		if !slices.ContainsFunc(st.Regions, func(x hbclient.RegionStatus) bool { return x.UUID == r.UUID && hasOwner(x, hbclient.OwnerGlobal) }) {
			add = append(add, r)
		}
	}
	for _, r := range st.Regions {
		if hasOwner(r, hbclient.OwnerGlobal) && !slices.ContainsFunc(s.Regions, func(x clusterconf.Region) bool { return x.UUID == r.UUID }) {
			remove = append(remove, clusterconf.Region{UUID: r.UUID, Layout: clusterconf.DefaultLayout})
		}
	}
	failed := append(driverAll(c, s, remove, "-K"), driverAll(c, s, add, "-S")...)
	if len(failed) > 0 {
		return ocf.Errorf(ocf.ErrGeneric, "reload: %s", strings.Join(failed, "; "))
	}
	c.Log.Info("reloaded cluster.conf", "started", len(add), "stopped", len(remove))
	return nil
}
