// Package clusterview is this node's view of its o2cb cluster, as an
// agent action reads it from cluster.conf: the cluster, its heartbeat
// mode and global regions, and this node. Trouble with the file fails
// the action with the exit code that fits the action (see Load).
//
// What runs comes first: stop and monitor find the daemon through the
// run directory alone and read the view only after, so that a missing,
// broken or changed cluster.conf never makes a stop fail (a failed stop
// gets the node fenced) nor a monitor lie about a daemon that heartbeats.
package clusterview

import (
	"errors"
	"io/fs"

	"github.com/o2cb-ra/o2cb-ra/internal/clusterconf"
	"github.com/o2cb-ra/o2cb-ra/internal/ocf"
)

// View is cluster.conf as this node sees it.
type View struct {
	Conf    *clusterconf.Config
	Cluster *clusterconf.Cluster
	Node    clusterconf.Node
	Mode    clusterconf.Mode
	Regions []clusterconf.Region // global mode: the regions to start
}

// trouble is what is wrong with this node's cluster.conf, for the
// choice of an exit code.
type trouble int

const (
	missing trouble = iota // the file does not exist
	invalid                // syntax, cluster or heartbeat configuration
	noNode                 // this node is not in the cluster
)

// code is the exit code of cluster.conf trouble in an action.
//
// validate-all judges the configuration: a bad file is
// OCF_ERR_CONFIGURED, a missing one OCF_ERR_INSTALLED, this node missing
// OCF_ERR_ARGS (DESIGN 6.1). Start and reload fail on this node only: a
// bad file is OCF_ERR_GENERIC, as the trouble is this node's file and not
// the resource's parameters (OCF_ERR_CONFIGURED would stop the resource on
// every node); a missing file and a missing node keep their node-local
// hard codes. A monitor is only asked once the daemon answers, and then
// any trouble of the file is a failure of this node: OCF_ERR_GENERIC.
func code(action string, t trouble) int {
	switch action {
	case "validate-all":
		return [...]int{missing: ocf.ErrInstalled, invalid: ocf.ErrConfigured, noNode: ocf.ErrArgs}[t]
	case "monitor":
		return ocf.ErrGeneric
	}
	return [...]int{missing: ocf.ErrInstalled, invalid: ocf.ErrGeneric, noNode: ocf.ErrArgs}[t]
}

// Load reads cluster.conf (parameter cluster_conf): the cluster
// (parameter cluster), its heartbeat mode and regions, and this node
// (parameter node_name, else the host name that hostname returns). Its
// errors name the file and line and carry the exit code of the action.
func Load(c *ocf.Context, hostname func() (string, error)) (*View, error) {
	fail := func(t trouble, err error) error { return ocf.Errorf(code(c.Action, t), "%v", err) }
	conf, err := clusterconf.Load(c.Params.String("cluster_conf"))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fail(missing, err)
	case err != nil:
		return nil, fail(invalid, err)
	}
	v := &View{Conf: conf}
	if v.Cluster, err = conf.Cluster(c.Params.String("cluster")); err != nil {
		return nil, fail(invalid, err)
	}
	hb, err := v.Cluster.Heartbeat()
	if err != nil {
		return nil, fail(invalid, err)
	}
	v.Mode, v.Regions = hb.Mode, hb.Regions
	if name := c.Params.String("node_name"); name != "" {
		v.Node, err = v.Cluster.Node(name)
	} else {
		host, herr := hostname()
		if herr != nil {
			return nil, ocf.Errorf(ocf.ErrGeneric, "host name: %v", herr)
		}
		v.Node, err = v.Cluster.LocalNode(host)
	}
	if err != nil {
		return nil, fail(noNode, err)
	}
	return v, nil
}
