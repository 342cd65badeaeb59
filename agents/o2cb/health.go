package o2cb

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/atomicfile"
	"github.com/o2cb-ra/o2cb-ra/internal/ocf"
)

// The node attributes the monitor publishes, as ocf:pacemaker:ping
// publishes its own: how many of the counted regions see this node, and
// Pacemaker's node health in the #health- namespace, which a
// node-health-strategy or a location rule can act on.
const (
	AttrRegions = "o2cb-regions"
	AttrHealth  = "#health-o2cb"
)

// The health values: every counted region sees this node; some are lost
// but region_quorum holds; it does not hold (the monitor fails).
const (
	HealthGreen  = "green"
	HealthYellow = "yellow"
	HealthRed    = "red"
)

// healthName is the record, in run_dir, of the values last published: a
// monitor that finds them unchanged calls attrd_updater no more (each call
// is a process, and the monitor's cost is the product's).
const healthName = "health-attributes"

// healthOf is the health with lost regions lost, quorate by
// region_quorum or not.
func healthOf(lost int, quorate bool) string {
	switch {
	case !quorate:
		return HealthRed
	case lost > 0:
		return HealthYellow
	}
	return HealthGreen
}

// byPacemaker reports whether Pacemaker runs the action: only then is
// there an attribute manager to tell (ocf-tester and scripts run none).
func byPacemaker(c *ocf.Context) bool {
	v, _ := c.Env.Lookup("OCF_RESKEY_CRM_meta_on_node")
	return v != ""
}

// publishHealth sets the node attributes after a monitor, through
// attrd_updater with the dampen parameter's delay, when they differ from
// those last set. A failure to set them is logged: the monitor's verdict
// stands on the heartbeat alone.
func (a agent) publishHealth(c *ocf.Context, n *node, counted, lost int, quorate bool) {
	if !byPacemaker(c) {
		return
	}
	values := [][2]string{{AttrRegions, fmt.Sprint(counted - lost)}, {AttrHealth, healthOf(lost, quorate)}}
	record := fmt.Sprintf("%s=%s %s=%s\n", values[0][0], values[0][1], values[1][0], values[1][1])
	path := filepath.Join(n.daemon.RunDir, healthName)
	if old, err := os.ReadFile(path); err == nil && string(old) == record {
		return
	}
	dampen := c.Params.String("dampen")
	ctx, cancel := context.WithTimeout(c, 5*time.Second)
	defer cancel()
	for _, v := range values {
		if out, err := a.host.AttrdUpdater(ctx, "-n", v[0], "-U", v[1], "-d", dampen); err != nil {
			c.Log.Warn("could not set a node attribute", "attribute", v[0], "value", v[1], "err", err, "output", strings.TrimSpace(string(out)))
			return // the record stays old: the next monitor tries again
		}
	}
	if err := atomicfile.WriteFile(path, []byte(record), 0o600); err != nil {
		c.Log.Warn("could not record the node attributes set", "err", err)
	}
	c.Log.Info("node attributes set", AttrRegions, values[0][1], AttrHealth, values[1][1])
}

// clearHealth deletes the node attributes at stop: a node without the
// resource has no heartbeat health to tell. Failing to is logged, never a
// failed stop.
func (a agent) clearHealth(c *ocf.Context, runDir string) {
	if !byPacemaker(c) {
		return
	}
	ctx, cancel := context.WithTimeout(c, 5*time.Second)
	defer cancel()
	for _, name := range []string{AttrRegions, AttrHealth} {
		if out, err := a.host.AttrdUpdater(ctx, "-n", name, "-D"); err != nil {
			c.Log.Warn("could not delete a node attribute", "attribute", name, "err", err, "output", strings.TrimSpace(string(out)))
		}
	}
	if err := os.Remove(filepath.Join(runDir, healthName)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		c.Log.Warn("could not remove the record of the node attributes", "err", err)
	}
}
