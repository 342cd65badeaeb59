package o2cb

import (
	"strings"

	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
	"github.com/o2cb-ra/o2cb-ra/internal/ocf"
)

// reload re-reads cluster.conf: the daemon's, and in global mode the
// regions added (started) and removed (stopped) since. It is also the
// reload-agent of OCF 1.1, which applies the reloadable parameters: the
// only one, region_quorum, is read by every monitor.
func (a agent) reload(c *ocf.Context) error {
	if err := a.host.RequireRoot(c); err != nil {
		return err
	}
	n, err := a.load(c)
	if err != nil {
		return err
	}
	if _, err := n.daemon.Client.Do(c, hbclient.Request{Op: hbclient.OpReload}); err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "reload the heartbeat daemon: %v", err)
	}
	if !managed(c, n.view) {
		return nil
	}
	st, err := n.daemon.Client.Status(c)
	if err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "heartbeat daemon: %v", err)
	}
	add, remove := globalDiff(n.view.Regions, st.Regions)
	failed := append(driverAll(c, n, remove, "-K"), driverAll(c, n, add, "-S")...)
	if len(failed) > 0 {
		return ocf.Errorf(ocf.ErrGeneric, "reload: %s", strings.Join(failed, "; "))
	}
	c.Log.Info("reloaded cluster.conf", "started", len(add), "stopped", len(remove))
	return nil
}
