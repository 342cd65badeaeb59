package o2cb

import (
	"slices"
	"time"

	"github.com/o2cb-ra/o2cb-ra/agents/daemonctl"
	"github.com/o2cb-ra/o2cb-ra/internal/clusterconf"
	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
)

// The monitor's quorum, in three pure steps: the regions it counts
// (countedRegions), those of them lost (lostRegions), and whether enough
// remain for the rule of region_quorum (quorate). Start applies quorate
// to the regions that failed to start.

// quorate applies a region_quorum rule to n regions of which lost are
// lost: all needs every region, majority more than half, any (and an
// unknown rule) one; with no regions, each rule is met (local mode with
// nothing mounted, or global mode with no region configured).
func quorate(rule string, n, lost int) bool {
	if n == 0 {
		return true
	}
	switch rule {
	case QuorumAll:
		return lost == 0
	case QuorumMajority:
		return lost*2 < n
	}
	return lost < n
}

// countedRegions are the regions the monitor's quorum counts. With
// managed global regions: those cluster.conf names (configured) and any
// other the daemon holds for the cluster (cluster.conf may have changed
// since the start); otherwise whatever runs (none is fine: the daemon is
// the resource).
func countedRegions(managed bool, configured []clusterconf.Region, running []hbclient.RegionStatus) []string {
	var uuids []string
	if !managed {
		for _, r := range running {
			uuids = append(uuids, r.UUID)
		}
		return uuids
	}
	for _, r := range configured {
		uuids = append(uuids, r.UUID)
	}
	for _, r := range running {
		if r.HasOwner(hbclient.OwnerGlobal) && !slices.Contains(uuids, r.UUID) {
			uuids = append(uuids, r.UUID)
		}
	}
	return uuids
}

// lost is a counted region that does not see this node, and why.
type lost struct{ uuid, why string }

// lostRegions are the regions of uuids lost, in order, judged by the
// daemon's status (running, and self, this node's number): one that does
// not run, and one that daemonctl.Lost judges lost (by its state and
// error, or at depth 10 (level) its own slot not read back).
func lostRegions(uuids []string, running []hbclient.RegionStatus, self, level int, interval time.Duration) []lost {
	var out []lost
	for _, u := range uuids {
		i := slices.IndexFunc(running, func(r hbclient.RegionStatus) bool { return r.UUID == u })
		if i < 0 {
			out = append(out, lost{u, "not running"})
		} else if err := daemonctl.Lost(running[i], self, level, interval); err != nil {
			out = append(out, lost{u, err.Error()})
		}
	}
	return out
}
