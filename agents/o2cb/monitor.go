package o2cb

import (
	"slices"
	"strings"
	"time"

	"github.com/o2cb-ra/o2cb-ra/agents/daemonctl"
	"github.com/o2cb-ra/o2cb-ra/agents/kstack"
	"github.com/o2cb-ra/o2cb-ra/agents/reason"
	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
	"github.com/o2cb-ra/o2cb-ra/internal/o2cbfs"
	"github.com/o2cb-ra/o2cb-ra/internal/ocf"
)

// monitor tells what runs first: no daemon is OCF_NOT_RUNNING whatever
// cluster.conf says (a probe on a node outside the cluster included). A
// daemon that runs is then judged against this node's configuration, and
// trouble with cluster.conf is a failure naming the file and line.
func (a agent) monitor(c *ocf.Context) error {
	if have, err := a.host.Kernel.Registered(); err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "kernel o2cb stack: %v", err)
	} else if have != nil {
		return a.monitorKernel(c, have)
	}
	n := newNode(c)
	st, err := n.daemon.MonitorStatus(c)
	if err != nil {
		return err
	}
	if st.KernelPeer != "" {
		return ocf.Errorf(ocf.ErrGeneric, "%s", st.KernelPeer)
	}
	if err := a.loadView(c, n); err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "heartbeat daemon runs, but: %v", err)
	}
	uuids := countedRegions(managed(c, n.view), n.view.Regions, st.Regions)
	return a.judge(c, n, len(uuids), lostRegions(uuids, st.Regions, daemonctl.Self(st), c.CheckLevel, time.Duration(st.IntervalMS)*time.Millisecond), "")
}

// judge ends a monitor that found lost of counted regions lost: it
// publishes the node's health attributes
// (health.go), then fails when region_quorum does not hold (red); when it
// holds but a region is lost (yellow) it warns, and tells a caller of OCF
// 1.1 that the resource is degraded.
func (a agent) judge(c *ocf.Context, n *node, counted int, lost []lost, prefix string) error {
	rule := c.Params.String("region_quorum")
	ok := quorate(rule, counted, len(lost))
	a.publishHealth(c, n, counted, len(lost), ok)
	var why []string
	for _, l := range lost {
		why = append(why, reason.Region(l.uuid, l.why))
	}
	if !ok {
		return ocf.Errorf(ocf.ErrGeneric, "%s%d of %d heartbeat regions lost (region_quorum=%s): %s",
			prefix, len(lost), counted, rule, strings.Join(why, "; "))
	}
	for i, l := range lost {
		c.Log.Warn("heartbeat region lost; this node is still seen in others", "region", l.uuid, "why", why[i])
	}
	if len(lost) > 0 && ocf.SupportsDegraded(c.Env) {
		return ocf.Errorf(ocf.Degraded, "%s%d of %d heartbeat regions lost, region_quorum=%s holds: %s",
			prefix, len(lost), counted, rule, strings.Join(why, "; "))
	}
	return nil
}

// monitorKernel judges the kernel's stack: the registration is this
// node's, and this node is seen live in enough of the counted regions
// (global mode: the configured regions; local mode: those the kernel
// runs). A region is lost when it has no kernel thread, when the
// daemon, which observes the kernel's regions, does not see this node
// in it, or when the kernel's own view (debugfs) lacks this node.
func (a agent) monitorKernel(c *ocf.Context, have *o2cbfs.Cluster) error {
	n := newNode(c)
	if err := a.loadView(c, n); err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "kernel o2cb cluster registered, but: %v", err)
	}
	k := a.host.Kernel
	kernelRegions, notStarted, err := kstack.Check(k, have, n.view)
	if err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "kernel backend: %v", err)
	}
	counted := kernelRegions
	if managed(c, n.view) {
		counted = nil
		for _, r := range n.view.Regions {
			counted = append(counted, r.UUID)
		}
	}
	var observed []hbclient.RegionStatus
	interval := time.Duration(0)
	if st, err := n.daemon.Client.Health(c); err == nil {
		observed, interval = st.Regions, time.Duration(st.IntervalMS)*time.Millisecond
	} else {
		c.Log.Debug("the heartbeat daemon does not answer; judging by the kernel's files alone", "err", err)
	}
	self := n.view.Node.Number
	var gone []lost
	for _, uuid := range counted {
		if slices.Contains(notStarted, uuid) {
			gone = append(gone, lost{uuid, "no kernel heartbeat thread"})
			continue
		}
		if i := slices.IndexFunc(observed, func(r hbclient.RegionStatus) bool { return r.UUID == uuid }); i >= 0 {
			if err := daemonctl.Lost(observed[i], self, c.CheckLevel, interval); err != nil {
				gone = append(gone, lost{uuid, err.Error()})
				continue
			}
		}
		if live, ok := k.LiveNodes(uuid); ok && !slices.Contains(live, self) {
			gone = append(gone, lost{uuid, "the kernel does not see this node live"})
		}
	}
	return a.judge(c, n, len(counted), gone, "kernel backend: ")
}
