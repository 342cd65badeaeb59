// Package clustertest writes the cluster.conf files tests need, with the
// project's own writer (internal/clusterconf), so that no test hand-writes
// the format:
//
//	conf := clustertest.Write(t, filepath.Join(dir, "cluster.conf"),
//		clustertest.Cluster{Name: "test", Global: true, Nodes: 3, Regions: []string{uuid}})
package clustertest

import (
	"net/netip"
	"strconv"
	"testing"

	"github.com/o2cb-ra/o2cb-ra/internal/clusterconf"
)

// Cluster describes a cluster.conf for a test: nodes 1..Nodes, node i
// named NamePrefix+i at Subnet+i, port 7777, and in global mode the given
// heartbeat regions.
type Cluster struct {
	Name       string   // cluster name; "o2cbtest" if empty
	Global     bool     // global heartbeat mode, else local
	Nodes      int      // node count
	NamePrefix string   // "n" if empty
	Subnet     string   // "127.0.0." if empty
	Regions    []string // region UUIDs
}

// Write writes cc to path with the project's own cluster.conf
// writer, and returns path.
func Write(t testing.TB, path string, cc Cluster) string {
	t.Helper()
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
		t.Fatal(err)
	}
	for _, r := range cc.Regions {
		if _, err := cl.AddRegion(r, ""); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i <= cc.Nodes; i++ {
		addr, err := netip.ParseAddr(cc.Subnet + strconv.Itoa(i))
		if err != nil {
			t.Fatalf("node %d's address: %v", i, err)
		}
		if _, err := cl.AddNode(clusterconf.Node{Name: cc.NamePrefix + strconv.Itoa(i), Number: i, Address: addr, Port: 7777}); err != nil {
			t.Fatal(err)
		}
	}
	if err := conf.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	return path
}
