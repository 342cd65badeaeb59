package hbd

import (
	"fmt"
	"os"
	"slices"

	"github.com/o2cb-ra/o2cb-ra/internal/clusterconf"
)

// clusterView is what the daemon takes from cluster.conf.
type clusterView struct {
	cluster string
	mode    clusterconf.Mode
	node    clusterconf.Node
	nodes   []int
	peers   []clusterconf.Node // the other nodes
	global  map[string]bool    // regions of cluster.conf, in global mode
}

// readClusterConf reads the cluster, this node and, in global mode, the
// configured regions.
func (d *Daemon) readClusterConf() (clusterView, error) {
	var v clusterView
	cc, err := clusterconf.Load(d.cfg.ClusterConf)
	if err != nil {
		return v, err
	}
	cl, err := cc.Cluster(d.cfg.Cluster)
	if err != nil {
		return v, err
	}
	hb, err := cl.Heartbeat()
	if err != nil {
		return v, err
	}
	if d.cfg.NodeName != "" {
		v.node, err = cl.Node(d.cfg.NodeName)
	} else {
		host, herr := os.Hostname()
		if herr != nil {
			return v, fmt.Errorf("host name: %w", herr)
		}
		v.node, err = cl.LocalNode(host)
	}
	if err != nil {
		return v, err
	}
	for _, n := range cl.Nodes() {
		v.nodes = append(v.nodes, n.Number)
		if n.Number != v.node.Number {
			v.peers = append(v.peers, n)
		}
	}
	slices.Sort(v.nodes)
	v.cluster, v.mode, v.global = cl.Name(), hb.Mode, map[string]bool{}
	for _, r := range hb.Regions {
		v.global[r.UUID] = true
	}
	return v, nil
}

func (d *Daemon) loadClusterConf() error {
	v, err := d.readClusterConf()
	if err != nil {
		return err
	}
	d.cluster, d.mode, d.node, d.nodes, d.peers, d.global = v.cluster, v.mode, v.node, v.nodes, v.peers, v.global
	return nil
}

// Reload re-reads cluster.conf online. The cluster, this node's number and
// the heartbeat mode may change only while no region runs; the list of
// global regions and the configured nodes may change at any time (running
// regions keep the nodes they started with until they restart).
func (d *Daemon) Reload() error {
	v, err := d.readClusterConf()
	if err != nil {
		return mark(ErrConfig, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.regions) > 0 && (v.cluster != d.cluster || v.mode != d.mode || v.node.Number != d.node.Number) {
		return fail(ErrConfig, "cluster.conf changes cluster, heartbeat mode or this node's number (%s/%s/%d to %s/%s/%d) while regions run: stop the cluster first",
			d.cluster, d.mode, d.node.Number, v.cluster, v.mode, v.node.Number)
	}
	d.cluster, d.mode, d.node, d.nodes, d.peers, d.global = v.cluster, v.mode, v.node, v.nodes, v.peers, v.global
	d.log.Info("cluster.conf reloaded", "cluster", d.cluster, "mode", d.mode, "regions", len(d.global))
	return nil
}
