package o2cb

import (
	"strings"
	"time"

	"github.com/o2cb-ra/o2cb-ra/agents/reason"
	"github.com/o2cb-ra/o2cb-ra/internal/ocf"
)

// monitor tells what runs first: no daemon is OCF_NOT_RUNNING whatever
// cluster.conf says (a probe on a node outside the cluster included). A
// daemon that runs is then judged against this node's configuration, and
// trouble with cluster.conf is a failure naming the file and line.
func (a agent) monitor(c *ocf.Context) error {
	n := newNode(c)
	st, err := n.daemon.MonitorStatus(c)
	if err != nil {
		return err
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
