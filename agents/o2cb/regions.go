package o2cb

import (
	"cmp"
	"slices"

	"github.com/o2cb-ra/o2cb-ra/internal/clusterconf"
	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
)

// The global regions as pure functions of cluster.conf's regions
// (configured) and the daemon's (running): what a reload starts and
// stops, and what a stop stops.

// globalDiff is what a reload does to the cluster's regions: add, the
// configured regions the daemon does not hold for the cluster, in
// cluster.conf's order; remove, the regions it holds for the cluster that
// cluster.conf no longer names, in the daemon's order, with the ocfs2
// layout (the file that named their layout is gone).
func globalDiff(configured []clusterconf.Region, running []hbclient.RegionStatus) (add, remove []clusterconf.Region) {
	for _, r := range configured {
		if !slices.ContainsFunc(running, func(x hbclient.RegionStatus) bool { return x.UUID == r.UUID && x.HasOwner(hbclient.OwnerGlobal) }) {
			add = append(add, r)
		}
	}
	for _, r := range running {
		if r.HasOwner(hbclient.OwnerGlobal) && !slices.ContainsFunc(configured, func(x clusterconf.Region) bool { return x.UUID == r.UUID }) {
			remove = append(remove, clusterconf.Region{UUID: r.UUID, Layout: clusterconf.DefaultLayout})
		}
	}
	return add, remove
}

// heldGlobal is what a stop stops: every region the daemon holds for the
// cluster, with the layout layouts names for it (by UUID, from
// cluster.conf when it could be read), the ocfs2 layout otherwise.
func heldGlobal(running []hbclient.RegionStatus, layouts map[string]string) []clusterconf.Region {
	var held []clusterconf.Region
	for _, r := range running {
		if r.HasOwner(hbclient.OwnerGlobal) {
			held = append(held, clusterconf.Region{UUID: r.UUID, Layout: cmp.Or(layouts[r.UUID], clusterconf.DefaultLayout)})
		}
	}
	return held
}
