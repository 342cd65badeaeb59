package setup

import (
	"errors"
	"io/fs"
	"os"

	"github.com/o2cb-ra/o2cb-ra/internal/clusterconf"
	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
	"github.com/o2cb-ra/o2cb-ra/internal/ocf"
)

// Setup is the node's configuration as an action sees it: the run
// directory and its daemon always; cluster.conf once LoadConf succeeded.
type Setup struct {
	RunDir  string
	Devices string
	Client  *hbclient.Client

	// From cluster.conf, set by LoadConf.
	Conf    *clusterconf.Config
	Cluster *clusterconf.Cluster
	Node    clusterconf.Node
	Mode    clusterconf.Mode
	Regions []clusterconf.Region // global mode: the regions to start
}

// New is what an action knows without reading cluster.conf: the run
// directory, its daemon's client and the device list.
func New(c *ocf.Context) *Setup {
	s := &Setup{RunDir: c.Params.String("run_dir"), Devices: c.Params.String("devices")}
	s.Client = hbclient.NewClient(s.RunDir)
	return s
}

// Load is New and LoadConf.
func Load(c *ocf.Context) (*Setup, error) {
	s := New(c)
	if err := s.LoadConf(c); err != nil {
		return nil, err
	}
	return s, nil
}

// confTrouble is what is wrong with this node's cluster.conf, for the
// choice of an exit code.
type confTrouble int

const (
	confMissing confTrouble = iota // the file does not exist
	confInvalid                    // syntax, cluster or heartbeat configuration
	confNoNode                     // this node is not in the cluster
)

// confCode is the exit code of cluster.conf trouble in an action.
//
// validate-all judges the configuration: a bad file is
// OCF_ERR_CONFIGURED, a missing one OCF_ERR_INSTALLED, this node missing
// OCF_ERR_ARGS (DESIGN 6.1). Start and reload fail on this node only: a
// bad file is OCF_ERR_GENERIC, as the trouble is this node's file and not
// the resource's parameters (OCF_ERR_CONFIGURED would stop the resource on
// every node); a missing file and a missing node keep their node-local
// hard codes. A monitor is only asked once the daemon answers, and then
// any trouble of the file is a failure of this node: OCF_ERR_GENERIC.
func confCode(action string, t confTrouble) int {
	switch action {
	case "validate-all":
		return [...]int{confMissing: ocf.ErrInstalled, confInvalid: ocf.ErrConfigured, confNoNode: ocf.ErrArgs}[t]
	case "monitor":
		return ocf.ErrGeneric
	}
	return [...]int{confMissing: ocf.ErrInstalled, confInvalid: ocf.ErrGeneric, confNoNode: ocf.ErrArgs}[t]
}

// LoadConf reads cluster.conf: the cluster, its heartbeat mode and
// regions, and this node. Its errors name the file and line and carry
// the exit code of confCode for the action.
func (s *Setup) LoadConf(c *ocf.Context) error {
	fail := func(t confTrouble, err error) error { return ocf.Errorf(confCode(c.Action, t), "%v", err) }
	conf, err := clusterconf.Load(c.Params.String("cluster_conf"))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fail(confMissing, err)
	case err != nil:
		return fail(confInvalid, err)
	}
	s.Conf = conf
	if s.Cluster, err = conf.Cluster(c.Params.String("cluster")); err != nil {
		return fail(confInvalid, err)
	}
	hb, err := s.Cluster.Heartbeat()
	if err != nil {
		return fail(confInvalid, err)
	}
	s.Mode, s.Regions = hb.Mode, hb.Regions
	if name := c.Params.String("node_name"); name != "" {
		s.Node, err = s.Cluster.Node(name)
	} else {
		host, herr := os.Hostname()
		if herr != nil {
			return ocf.Errorf(ocf.ErrGeneric, "host name: %v", herr)
		}
		s.Node, err = s.Cluster.LocalNode(host)
	}
	if err != nil {
		return fail(confNoNode, err)
	}
	return nil
}

// RequireRoot fails an action that needs root with OCF_ERR_PERM.
func RequireRoot(c *ocf.Context) error {
	if os.Geteuid() != 0 {
		return ocf.Errorf(ocf.ErrPerm, "%s needs root (running as uid %d)", c.Action, os.Geteuid())
	}
	return nil
}
