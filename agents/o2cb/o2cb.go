// Package o2cb is the OCF agent ocf:ocfs2:o2cb: the o2cb cluster on this
// node. Start runs the node's heartbeat daemon and, in global heartbeat
// mode, starts every heartbeat region of cluster.conf through its layout
// driver; monitor fails when this node's heartbeat is seen in too few
// regions (region_quorum); stop undoes start.
package o2cb

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/o2cb-ra/o2cb-ra/agents/setup"
	"github.com/o2cb-ra/o2cb-ra/internal/clusterconf"
	"github.com/o2cb-ra/o2cb-ra/internal/hbd"
	"github.com/o2cb-ra/o2cb-ra/internal/hbdisk"
	"github.com/o2cb-ra/o2cb-ra/internal/ocf"
	"github.com/o2cb-ra/o2cb-ra/internal/ocfs2"
	"github.com/o2cb-ra/o2cb-ra/internal/process"
)

// Quorum rules of region_quorum.
const (
	QuorumAny      = "any"
	QuorumMajority = "majority"
	QuorumAll      = "all"
)

func checkRange(lo, hi int) func(string) error {
	return func(s string) error {
		n, _ := strconv.Atoi(strings.TrimSpace(s))
		if n < lo || n > hi {
			return fmt.Errorf("%d is outside %d..%d", n, lo, hi)
		}
		return nil
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
			Short: "heartbeat dead threshold (iterations)", Check: checkRange(hbdisk.MinDeadThreshold, 1000),
			Long: "Iterations without a new heartbeat after which a node is dead (the kernel's O2CB_HEARTBEAT_THRESHOLD). Every node, kernel or not, must use the same value."},
		ocf.Param{Name: "heartbeat_interval_ms", Type: ocf.Integer, Default: "2000", EnvVar: "O2CB_HEARTBEAT_INTERVAL_MS",
			Short: "heartbeat interval (ms)", Check: checkRange(10, 60000),
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

// load reads cluster.conf and the parameters that depend on it.
func load(c *ocf.Context) (*setup.Setup, error) {
	s, err := setup.Load(c)
	if err != nil {
		return nil, err
	}
	if s.Mode == clusterconf.ModeGlobal && c.Params.Bool("manage_regions") {
		for _, r := range s.Regions {
			if _, err := setup.FindDriver(r.Layout); err != nil {
				if c.Action == "monitor" {
					return nil, ocf.Errorf(ocf.NotRunning, "%v", err)
				}
				return nil, err
			}
		}
	}
	return s, nil
}

func validate(c *ocf.Context) error {
	s, err := load(c)
	if err != nil {
		return err
	}
	if c.CheckLevel >= 10 && s.Mode == clusterconf.ModeGlobal {
		for _, r := range s.Regions {
			if _, err := ocfs2.FindByUUID(r.UUID, ocfs2.ScanOptions{Extra: ocfs2.SplitDeviceList(s.Devices)}); err != nil {
				return ocf.Errorf(ocf.ErrConfigured, "region %s (cluster.conf line %d): %v", r.UUID, r.Line, err)
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
	if err := setup.RequireRoot(c); err != nil {
		return err
	}
	s, err := load(c)
	if err != nil {
		return err
	}
	if err := ensureDaemon(c, s); err != nil {
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
	env := s.DriverEnv("O2CB_HEARTBEAT_OWNER=" + hbd.OwnerGlobal)
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

// ensureDaemon starts the node's heartbeat daemon unless it answers.
func ensureDaemon(c *ocf.Context, s *setup.Setup) error {
	// An unsafe run directory is this node's problem, a matter of
	// ownership and mode: OCF_ERR_PERM keeps the resource off this node
	// only, and the reason names the directory.
	if err := hbd.PrepareRunDir(s.RunDir); errors.Is(err, hbd.ErrUnsafeRunDir) {
		return ocf.Errorf(ocf.ErrPerm, "%v", err)
	} else if err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "%v", err)
	}
	if up, err := s.DaemonRunning(c); up {
		return nil
	} else if err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "heartbeat daemon in %s: %v", s.RunDir, err)
	}
	exe, err := setup.Executable()
	if err != nil {
		return ocf.Errorf(ocf.ErrInstalled, "find o2cb-ra: %v", err)
	}
	args := []string{"daemon",
		"--run-dir=" + s.RunDir,
		"--cluster-conf=" + c.Params.String("cluster_conf"),
		"--cluster=" + s.Cluster.Name(),
		"--node-name=" + s.Node.Name,
		"--interval-ms=" + strconv.Itoa(c.Params.Int("heartbeat_interval_ms")),
		"--dead-threshold=" + strconv.Itoa(c.Params.Int("dead_threshold")),
		"--devices=" + s.Devices,
	}
	out, err := exec.CommandContext(c, exe, args...).CombinedOutput()
	if err != nil {
		// Another start may have won the race for the run directory:
		// its daemon holds the pid file and answers once it listens.
		if otherDaemonAnswers(c, s) {
			return nil
		}
		return ocf.Errorf(ocf.ErrGeneric, "start the heartbeat daemon: %s", strings.TrimSpace(string(out)))
	}
	c.Log.Info("heartbeat daemon started", "run_dir", s.RunDir, "output", strings.TrimSpace(string(out)))
	return nil
}

// otherDaemonAnswers waits for a daemon that another start launched, and
// reports whether it answers: while the pid file names a live process
// (that daemon has the run directory's lock and may not listen yet), at
// most detachWait; once it names none for pidGrace (a winner writes its
// pid right after it takes the lock), no longer.
func otherDaemonAnswers(c *ocf.Context, s *setup.Setup) bool {
	const (
		detachWait = 30 * time.Second // what `o2cb-ra daemon` waits for its own
		pidGrace   = time.Second
	)
	ctx, cancel := context.WithTimeout(c, detachWait)
	defer cancel()
	pidFile := filepath.Join(s.RunDir, hbd.PIDName)
	lastLive := time.Now()
	for {
		if up, _ := s.DaemonRunning(ctx); up {
			return true
		}
		b, _ := os.ReadFile(pidFile)
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && process.Running(pid) {
			lastLive = time.Now()
		} else if time.Since(lastLive) > pidGrace {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func stop(c *ocf.Context) error {
	if err := setup.RequireRoot(c); err != nil {
		return err
	}
	s, err := setup.Load(c)
	if err != nil && ocf.CodeOf(err) != ocf.ErrInstalled {
		return err
	}
	client := hbd.NewClient(c.Params.String("run_dir"))
	st, err := client.Status(c)
	if errors.Is(err, hbd.ErrNotRunning) {
		return nil
	}
	if err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "heartbeat daemon: %v", err)
	}
	// The regions the cluster owns: those of cluster.conf, and any the
	// daemon still holds for the cluster (cluster.conf may have changed).
	if s != nil && c.Params.Bool("manage_regions") {
		regions := slices.Clone(s.Regions)
		for _, r := range st.Regions {
			if hasOwner(r, hbd.OwnerGlobal) && !slices.ContainsFunc(regions, func(x clusterconf.Region) bool { return x.UUID == r.UUID }) {
				regions = append(regions, clusterconf.Region{UUID: r.UUID, Layout: clusterconf.DefaultLayout})
			}
		}
		var held []clusterconf.Region
		for _, r := range regions {
			if slices.ContainsFunc(st.Regions, func(x hbd.RegionStatus) bool { return x.UUID == r.UUID && hasOwner(x, hbd.OwnerGlobal) }) {
				held = append(held, r)
			}
		}
		if failed := driverAll(c, s, held, "-K"); len(failed) > 0 {
			return ocf.Errorf(ocf.ErrGeneric, "could not stop heartbeat regions: %s", strings.Join(failed, "; "))
		}
		if st, err = client.Status(c); err != nil {
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
	return stopDaemon(c, st.PID)
}

func hasOwner(r hbd.RegionStatus, name string) bool {
	return slices.ContainsFunc(r.Owners, func(o hbd.Owner) bool { return o.Name == name })
}

// stopDaemon sends SIGTERM to the daemon and waits until it is gone.
func stopDaemon(c *ocf.Context, pid int) error {
	if pid <= 0 {
		return ocf.Errorf(ocf.ErrGeneric, "heartbeat daemon reported pid %d", pid)
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return ocf.Errorf(ocf.ErrGeneric, "signal heartbeat daemon %d: %v", pid, err)
	}
	for process.Running(pid) {
		select {
		case <-c.Done():
			return ocf.Errorf(ocf.ErrGeneric, "heartbeat daemon %d did not exit in time", pid)
		case <-time.After(20 * time.Millisecond):
		}
	}
	c.Log.Info("heartbeat daemon stopped", "pid", pid)
	return nil
}

func monitor(c *ocf.Context) error {
	s, err := load(c)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c, time.Second)
	defer cancel()
	st, err := s.Client.Status(ctx)
	if errors.Is(err, hbd.ErrNotRunning) {
		return ocf.Errorf(ocf.NotRunning, "heartbeat daemon not running")
	}
	if err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "heartbeat daemon in %s does not answer: %v", s.RunDir, err)
	}
	// The regions that count: in global mode those of cluster.conf;
	// otherwise whatever runs (none is fine: the daemon is the resource).
	var uuids []string
	if managed(c, s) {
		for _, r := range s.Regions {
			uuids = append(uuids, r.UUID)
		}
	} else {
		for _, r := range st.Regions {
			uuids = append(uuids, r.UUID)
		}
	}
	var lost, lostUUIDs []string
	lose := func(u, why string) {
		lost = append(lost, setup.Short(u)+": "+setup.Shorten(why, u))
		lostUUIDs = append(lostUUIDs, u)
	}
	for _, u := range uuids {
		i := slices.IndexFunc(st.Regions, func(r hbd.RegionStatus) bool { return r.UUID == u })
		switch {
		case i < 0:
			lose(u, "not running")
		case !slices.Contains(st.Regions[i].LiveNodes, st.Node.Number):
			why := st.Regions[i].State
			if e := st.Regions[i].Error; e != "" {
				why += ": " + strings.TrimPrefix(e, "region "+u+": ")
			}
			lose(u, why)
		case c.CheckLevel >= 10:
			// The daemon must have read the own slot back recently: a
			// hung device shows within a few intervals, long before the
			// write timeout fails the region.
			if err := checkOwnSlot(st.Regions[i], time.Duration(st.IntervalMS)*time.Millisecond); err != nil {
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

// ownSlotStale is how many intervals may pass without the daemon reading
// its own slot back as written before depth 10 counts the region lost.
const ownSlotStale = 3

// checkOwnSlot is the depth-10 check: the daemon must have read this
// node's slot back, as it wrote it, within the last ownSlotStale
// intervals. The monitor reads no device itself: a read of a hung device
// would hold the monitor's process in uninterruptible sleep, and a
// process cannot exit before its I/O ends. The daemon's reads are
// watched by its own bounded loop.
func checkOwnSlot(r hbd.RegionStatus, interval time.Duration) error {
	limit := ownSlotStale * interval
	switch {
	case r.OwnSlotAge < 0:
		return fmt.Errorf("own slot on %s never read back yet", r.Device)
	case time.Duration(r.OwnSlotAge*float64(time.Second)) > limit:
		why := ""
		if r.IOInFlight > 0 {
			why = fmt.Sprintf("; a device call has been in flight for %.1fs", r.IOInFlight)
		}
		return fmt.Errorf("own slot on %s not read back for %.1fs (limit %v)%s", r.Device, r.OwnSlotAge, limit, why)
	}
	return nil
}

func reload(c *ocf.Context) error {
	if err := setup.RequireRoot(c); err != nil {
		return err
	}
	s, err := load(c)
	if err != nil {
		return err
	}
	if _, err := s.Client.Do(c, hbd.Request{Op: hbd.OpReload}); err != nil {
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
		if !slices.ContainsFunc(st.Regions, func(x hbd.RegionStatus) bool { return x.UUID == r.UUID && hasOwner(x, hbd.OwnerGlobal) }) {
			add = append(add, r)
		}
	}
	for _, r := range st.Regions {
		if hasOwner(r, hbd.OwnerGlobal) && !slices.ContainsFunc(s.Regions, func(x clusterconf.Region) bool { return x.UUID == r.UUID }) {
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
