package clustertest

import (
	"fmt"
	"net/netip"
	"strconv"

	"github.com/o2cb-ra/o2cb-ra/internal/clusterconf"
)

// Cluster describes a cluster.conf: nodes 1..Nodes (0..Nodes-1 with
// FromZero), node i named NamePrefix+i at Subnet+i (or every node at
// Address), port 7777, and in global mode the given heartbeat regions.
type Cluster struct {
	Name       string   // cluster name; "o2cbtest" if empty
	Global     bool     // global heartbeat mode, else local
	Nodes      int      // node count
	FromZero   bool     // number the nodes from 0, not 1
	NamePrefix string   // "n" if empty
	Subnet     string   // "127.0.0." if empty
	Address    string   // every node's address, instead of Subnet+i
	Regions    []string // region UUIDs
}

// WriteClusterConf writes cc to path with the project's own cluster.conf
// writer (internal/clusterconf), so that nothing hand-writes the format.
func WriteClusterConf(path string, cc Cluster) error {
	if cc.Name == "" {
		cc.Name = "o2cbtest"
	}
	if cc.NamePrefix == "" {
		cc.NamePrefix = "n"
	}
	if cc.Subnet == "" {
		cc.Subnet = "127.0.0."
	}
	mode := clusterconf.ModeLocal
	if cc.Global {
		mode = clusterconf.ModeGlobal
	}
	var conf clusterconf.Config
	cl, err := conf.AddCluster(cc.Name, mode)
	if err != nil {
		return err
	}
	for _, r := range cc.Regions {
		if _, err := cl.AddRegion(r, ""); err != nil {
			return err
		}
	}
	first := 1
	if cc.FromZero {
		first = 0
	}
	for i := first; i < first+cc.Nodes; i++ {
		a := cc.Address
		if a == "" {
			a = cc.Subnet + strconv.Itoa(i)
		}
		addr, err := netip.ParseAddr(a)
		if err != nil {
			return fmt.Errorf("node %d's address: %v", i, err)
		}
		if _, err := cl.AddNode(clusterconf.Node{Name: cc.NamePrefix + strconv.Itoa(i), Number: i, Address: addr, Port: 7777}); err != nil {
			return err
		}
	}
	return conf.WriteFile(path)
}
