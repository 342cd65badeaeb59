package layout

import (
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/blockdev"
	"github.com/o2cb-ra/o2cb-ra/internal/ocf"
)

// WarnSlowStorage logs a warning, naming the device and the layer, for
// each layer under region uuid's device that can hold an I/O for at least
// limit, the heartbeat's write timeout: a path failure there would make
// this node fence itself before the storage gives up. It returns the
// warnings' text.
func WarnSlowStorage(c *ocf.Context, uuid, device string, limit time.Duration) []string {
	bounds, err := blockdev.Sys{}.Bounds(device)
	if err != nil {
		c.Log.Debug("could not read the I/O timeouts under a region's device", "region", uuid, "device", device, "err", err)
		return nil
	}
	return report(c, uuid, device, bounds, limit)
}

// report warns of the bounds at or above limit.
func report(c *ocf.Context, uuid, device string, bounds []blockdev.Bound, limit time.Duration) []string {
	var out []string
	for _, b := range blockdev.Outlasting(bounds, limit) {
		advice := "disable queueing or bound it (no_path_retry), and set heartbeat_timeout above it by 30 s or more"
		if !b.Unbounded {
			advice = "set heartbeat_timeout to at least " + (b.Max + 30*time.Second).String()
		}
		c.Log.Warn("a layer under the region's device can hold an I/O longer than the heartbeat's write timeout: a path failure would make this node fence itself",
			"region", uuid, "device", device, "layer", b.String(), "write_timeout", limit, "advice", advice)
		out = append(out, device+": "+b.String())
	}
	return out
}
