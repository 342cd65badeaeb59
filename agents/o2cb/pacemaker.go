package o2cb

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"time"

	"github.com/beevik/etree"

	"github.com/o2cb-ra/o2cb-ra/internal/ocf"
)

// What the o2cb cluster needs of Pacemaker, as Pacemaker's own
// ocf:pacemaker:controld enforces it for the DLM: fencing (a node that
// loses the heartbeat must be fenced before the survivors' recovery
// replays its journal), one instance per node (a clone that is not
// globally unique), and a cluster that freezes rather than stops its
// resources when it loses quorum (stopping would unmount on every node).

// clusterOptions are the cluster-wide properties the checks read.
type clusterOptions struct {
	stonithEnabled string // "" when unset (Pacemaker's default is true)
	noQuorumPolicy string // "" when unset (Pacemaker's default is stop)
}

// readClusterOptions reads Pacemaker's cluster options from the CIB,
// running cibadmin with env. It is a variable for tests. ok is false when
// there is no CIB to ask (no Pacemaker installed, or not running): the
// agent runs outside a cluster.
var readClusterOptions = func(ctx context.Context, env []string) (opts clusterOptions, ok bool, err error) {
	cibadmin, err := exec.LookPath("cibadmin")
	if err != nil {
		return opts, false, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, cibadmin, "--query", "--scope", "crm_config")
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && ctx.Err() == nil {
			// Not connected: no cluster runs here (ocf-tester, a demo).
			return opts, false, nil
		}
		return opts, false, fmt.Errorf("cibadmin --query --scope crm_config: %w", err)
	}
	opts, err = parseClusterOptions(out)
	return opts, err == nil, err
}

// parseClusterOptions reads the properties from a crm_config section.
func parseClusterOptions(xml []byte) (clusterOptions, error) {
	var opts clusterOptions
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(xml); err != nil {
		return opts, fmt.Errorf("crm_config from the CIB: %w", err)
	}
	for _, nv := range doc.FindElements("//cluster_property_set/nvpair") {
		v := nv.SelectAttrValue("value", "")
		switch nv.SelectAttrValue("name", "") {
		case "stonith-enabled":
			opts.stonithEnabled = v
		case "no-quorum-policy":
			opts.noQuorumPolicy = v
		}
	}
	return opts, nil
}

// checkClone refuses a globally unique clone: the o2cb cluster is one per
// node, like the daemon it runs.
func checkClone(c *ocf.Context) error {
	if v := c.Getenv("OCF_RESKEY_CRM_meta_globally_unique"); v != "" {
		if unique, err := ocf.ParseBool(v); err == nil && unique {
			return ocf.Errorf(ocf.ErrConfigured, "the o2cb resource must be a clone with globally-unique=false (one instance per node), not globally-unique=%s", v)
		}
	}
	return nil
}

// checkPacemaker applies the fencing and quorum prerequisites in start:
// it refuses to start with fencing disabled unless allow_stonith_disabled
// is true, and warns of what is unwise but may be meant.
func checkPacemaker(c *ocf.Context) error {
	opts, ok, err := readClusterOptions(c, ocf.Environ(c.Env))
	if err != nil {
		c.Log.Warn("could not read the cluster's fencing and quorum options", "err", err)
		return nil
	}
	if !ok {
		c.Log.Debug("no Pacemaker CIB to ask; fencing and quorum options not checked")
		return nil
	}
	if opts.stonithEnabled != "" {
		if enabled, err := ocf.ParseBool(opts.stonithEnabled); err == nil && !enabled {
			if !c.Params.Bool("allow_stonith_disabled") {
				return ocf.Errorf(ocf.ErrConfigured, "stonith-enabled=%s: an o2cb cluster needs fencing (set allow_stonith_disabled=true to run without it, e.g. for tests)", opts.stonithEnabled)
			}
			c.Log.Warn("fencing is disabled (stonith-enabled=" + opts.stonithEnabled + "); allow_stonith_disabled=true lets o2cb start, but a node that loses the heartbeat cannot be fenced and shared data is at risk")
		}
	}
	if p := opts.noQuorumPolicy; p != "freeze" {
		if p == "" {
			p = "stop (the default)"
		}
		c.Log.Warn("no-quorum-policy is " + p + "; OCFS2 clusters want freeze, so that losing quorum does not unmount the volumes everywhere")
	}
	if c.Getenv("OCF_RESKEY_CRM_meta_clone_max") == "" {
		c.Log.Warn("the o2cb resource is not a clone; run it as a clone on every node that mounts OCFS2")
	}
	return nil
}
