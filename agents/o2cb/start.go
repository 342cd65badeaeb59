package o2cb

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/o2cb-ra/o2cb-ra/agents/daemonctl"
	"github.com/o2cb-ra/o2cb-ra/agents/kstack"
	"github.com/o2cb-ra/o2cb-ra/agents/layout"
	"github.com/o2cb-ra/o2cb-ra/agents/params"
	"github.com/o2cb-ra/o2cb-ra/agents/reason"
	"github.com/o2cb-ra/o2cb-ra/internal/clusterconf"
	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
	"github.com/o2cb-ra/o2cb-ra/internal/ocf"
)

func (a agent) start(c *ocf.Context) error {
	if err := checkClone(c); err != nil {
		return err
	}
	if err := checkPacemaker(c); err != nil {
		return err
	}
	if err := a.host.RequireRoot(c); err != nil {
		return err
	}
	n, err := a.load(c)
	if err != nil {
		return err
	}
	var why string
	n.backend, why = kstack.Choose(c, a.host.Kernel)
	if n.backend == params.Kernel {
		hbCtl, err := layout.Find(clusterconf.DefaultLayout)
		if err != nil {
			return err
		}
		if err := kstack.Online(c, a.host.Kernel, kstack.Want(c, n.view), hbCtl); err != nil {
			return err
		}
	}
	flags := map[string]string{
		"run-dir":        n.daemon.RunDir,
		"cluster-conf":   c.Params.String("cluster_conf"),
		"cluster":        n.view.Cluster.Name(),
		"node-name":      n.view.Node.Name,
		"interval-ms":    strconv.Itoa(c.Params.Int("heartbeat_interval_ms")),
		"dead-threshold": strconv.Itoa(params.DeadThreshold(c)),
		"devices":        n.devices,
	}
	// The kernel backend's daemon, and an observer, only read the
	// regions (the kernel writes this node's heartbeat).
	flags["heartbeat-backend"] = n.backend
	if addr := c.Params.String("metrics_address"); addr != "" {
		flags["metrics-address"] = addr
	}
	args := daemonctl.Args(flags)
	if err := n.daemon.Ensure(c, args); err != nil {
		return err
	}
	// A daemon already running keeps its backend: a writer left on a
	// node now run by the kernel must not go on writing.
	if st, err := n.daemon.Client.Status(c); err == nil && st.Backend != "" && st.Backend != n.backend {
		return ocf.Errorf(ocf.ErrGeneric, "the heartbeat daemon of %s runs the %s backend, not %s (%s): stop the o2cb resource first",
			n.daemon.RunDir, st.Backend, n.backend, why)
	}
	if !managed(c, n.view) {
		c.Log.Info("o2cb started", "mode", n.view.Mode, "node", n.view.Node.Name, "backend", n.backend, "why", why)
		return nil
	}
	regions := n.view.Regions
	failed := driverAll(c, n, regions, "-S")
	ok := len(regions) - len(failed)
	if !quorate(c.Params.String("region_quorum"), len(regions), len(failed)) {
		// Pacemaker keeps 128 characters: the regions and causes first
		// (a kernel backend's failure says "in the kernel").
		return ocf.Errorf(ocf.ErrGeneric, "%d of %d heartbeat regions started (region_quorum=%s): %s",
			ok, len(regions), c.Params.String("region_quorum"), strings.Join(failed, "; "))
	}
	for _, f := range failed {
		c.Log.Warn("heartbeat region did not start; running on the others", "err", f)
	}
	c.Log.Info("o2cb started", "mode", n.view.Mode, "node", n.view.Node.Name, "regions", ok, "backend", n.backend, "why", why)
	return nil
}

// driverAll runs the layout driver with action (-S or -K) on every region
// in parallel, each bounded by the action's deadline, and returns the
// failures, one exit reason a region, sorted.
func driverAll(c *ocf.Context, n *node, regions []clusterconf.Region, action string) []string {
	var mu sync.Mutex
	var failed []string
	var wg sync.WaitGroup
	extra := []string{"O2CB_HEARTBEAT_OWNER=" + hbclient.OwnerGlobal}
	if n.backend != "" {
		extra = append(extra, params.EnvBackend+"="+n.backend)
	}
	env := layout.Env(c.Env, n.daemon.RunDir, n.devices, extra...)
	for _, r := range regions {
		wg.Go(func() {
			driver, err := layout.Find(r.Layout)
			if err == nil {
				err = layout.Run(c, driver, env, action, r.UUID)
			}
			if err != nil {
				msg := reason.Region(r.UUID, err.Error())
				if le := (*layout.Error)(nil); errors.As(err, &le) {
					msg = le.Reason()
				}
				mu.Lock()
				failed = append(failed, msg)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.Sort(failed)
	return failed
}
