package o2cb

import (
	"slices"
	"strings"
	"time"

	"github.com/o2cb-ra/o2cb-ra/agents/kstack"
	"github.com/o2cb-ra/o2cb-ra/agents/reason"
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
		return a.monitorKernel(c)
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
	lost := lostRegions(uuids, st.Regions, st.Node.Number, c.CheckLevel, time.Duration(st.IntervalMS)*time.Millisecond)
	rule := c.Params.String("region_quorum")
	if !quorate(rule, len(uuids), len(lost)) {
		var why []string
		for _, l := range lost {
			why = append(why, reason.Region(l.uuid, l.why))
		}
		return ocf.Errorf(ocf.ErrGeneric, "%d of %d heartbeat regions lost (region_quorum=%s): %s",
			len(lost), len(uuids), rule, strings.Join(why, "; "))
	}
	for _, l := range lost {
		c.Log.Warn("heartbeat region lost; this node is still seen in others", "region", l.uuid, "why", reason.Region(l.uuid, l.why))
	}
	return nil
}

// monitorKernel judges the kernel's stack: the registration is this
// node's, and this node is seen live in enough of the counted regions
// (global mode: the configured regions, each lost when it has no kernel
// thread or when the kernel's own view, in debugfs, lacks this node).
func (a agent) monitorKernel(c *ocf.Context) error {
	n := newNode(c)
	if err := a.loadView(c, n); err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "kernel o2cb cluster registered, but: %v", err)
	}
	k := a.host.Kernel
	_, notStarted, err := kstack.Check(k, n.view)
	if err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "kernel backend: %v", err)
	}
	if !managed(c, n.view) {
		return nil
	}
	var lost []string
	for _, r := range n.view.Regions {
		switch {
		case slices.Contains(notStarted, r.UUID):
			lost = append(lost, reason.Region(r.UUID, "no kernel heartbeat thread"))
		default:
			if live, ok := k.LiveNodes(r.UUID); ok && !slices.Contains(live, n.view.Node.Number) {
				lost = append(lost, reason.Region(r.UUID, "the kernel does not see this node live"))
			}
		}
	}
	rule := c.Params.String("region_quorum")
	if !quorate(rule, len(n.view.Regions), len(lost)) {
		return ocf.Errorf(ocf.ErrGeneric, "kernel backend: %d of %d heartbeat regions lost (region_quorum=%s): %s",
			len(lost), len(n.view.Regions), rule, strings.Join(lost, "; "))
	}
	for _, l := range lost {
		c.Log.Warn("heartbeat region lost; this node is still seen in others", "why", l)
	}
	return nil
}
