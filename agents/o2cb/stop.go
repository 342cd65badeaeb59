package o2cb

import (
	"errors"
	"fmt"
	"strings"

	"github.com/o2cb-ra/o2cb-ra/agents/kstack"
	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
	"github.com/o2cb-ra/o2cb-ra/internal/ocf"
)

// stop works from what runs: the kernel's registration (refused, with
// nothing changed, while an OCFS2 volume is mounted), the daemon of
// run_dir and the regions it holds for the cluster. cluster.conf only names the layout of those
// regions when it can be read; a missing, broken or changed file never
// fails a stop (a failed stop gets the node fenced).
func (a agent) stop(c *ocf.Context) error {
	if err := a.host.RequireRoot(c); err != nil {
		return err
	}
	if err := kstack.Offline(c, a.host.Kernel); err != nil {
		return err
	}
	n := newNode(c)
	a.clearHealth(c, n.daemon.RunDir)
	st, err := n.daemon.StopStatus(c)
	switch {
	case errors.Is(err, hbclient.ErrNotRunning):
		return clearStopped(n)
	case err != nil:
		return killHungDaemon(c, n, err)
	}
	if c.Params.Bool("manage_regions") {
		if err := a.stopGlobalRegions(c, n, st); err != nil {
			return err
		}
		st, err = n.daemon.StopStatus(c)
		switch {
		case errors.Is(err, hbclient.ErrNotRunning):
			// It died while its regions were stopped.
			return clearStopped(n)
		case err != nil:
			return ocf.Errorf(ocf.ErrGeneric, "heartbeat daemon: %v", err)
		}
	}
	var users []string
	for _, r := range st.Regions {
		var owners []string
		for _, o := range r.Owners {
			if o.Name != hbclient.OwnerKernel {
				// The daemon's own observation of a kernel region,
				// which ends with the daemon.
				owners = append(owners, o.Name)
			}
		}
		if len(owners) == 0 {
			continue
		}
		users = append(users, fmt.Sprintf("%s (%s)", r.UUID, strings.Join(owners, ", ")))
	}
	if len(users) > 0 {
		return ocf.Errorf(ocf.ErrGeneric, "heartbeat regions are still in use; stop their users first: %s", strings.Join(users, "; "))
	}
	return n.daemon.Stop(c, st.PID)
}

// stopGlobalRegions stops every region the daemon holds for the cluster,
// through the layout driver cluster.conf names for it when the file can
// be read (the ocfs2 layout otherwise, which is the daemon's own).
func (a agent) stopGlobalRegions(c *ocf.Context, n *node, st *hbclient.Status) error {
	layouts := map[string]string{}
	if a.loadView(c, n) == nil {
		for _, r := range n.view.Regions {
			layouts[r.UUID] = r.Layout
		}
	} else {
		c.Log.Debug("cluster.conf unreadable at stop; stopping the regions the daemon holds for the cluster with the ocfs2 layout")
	}
	if failed := driverAll(c, n, heldGlobal(st.Regions, layouts), "-K"); len(failed) > 0 {
		return ocf.Errorf(ocf.ErrGeneric, "could not stop heartbeat regions: %s", strings.Join(failed, "; "))
	}
	return nil
}

// killHungDaemon ends a daemon that holds the run directory but does not
// answer (statusErr): a stop must not fail while its process can be
// ended, and a daemon that ended writes no more heartbeats, which is what
// the stop promises. Without such a daemon the stop fails with statusErr.
func killHungDaemon(c *ocf.Context, n *node, statusErr error) error {
	pid, ok := n.daemon.Hung()
	if !ok {
		return ocf.Errorf(ocf.ErrGeneric, "heartbeat daemon: %v", statusErr)
	}
	c.Log.Warn("the heartbeat daemon does not answer; killing it", "pid", pid, "err", statusErr)
	if err := n.daemon.Kill(c, pid); err != nil {
		return err
	}
	return clearStopped(n)
}

// clearStopped ends a stop that found no daemon: what a daemon that
// died left behind is forgotten, so that the next start begins afresh.
func clearStopped(n *node) error {
	if err := n.daemon.ClearStopped(); err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "%v", err)
	}
	return nil
}
