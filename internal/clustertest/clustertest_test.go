package clustertest

import (
	"path/filepath"
	"strconv"
	"testing"

	"github.com/o2cb-ra/o2cb-ra/internal/clusterconf"
)

func TestWrite(t *testing.T) {
	const uuid = "C213A5E1913B4A38A17101E81BDC2267"
	path := Write(t, filepath.Join(t.TempDir(), "cluster.conf"),
		Cluster{Name: "pcmk", Global: true, Nodes: 3, NamePrefix: "node", Subnet: "192.168.250.", Regions: []string{uuid}})
	conf, err := clusterconf.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := conf.Cluster("")
	if err != nil {
		t.Fatal(err)
	}
	if cl.Name() != "pcmk" || cl.Mode() != clusterconf.ModeGlobal || cl.NodeCount() != 3 {
		t.Fatalf("cluster %s mode %s node_count %d, want pcmk global 3", cl.Name(), cl.Mode(), cl.NodeCount())
	}
	n, err := cl.NodeByNumber(3)
	if err != nil || n.Name != "node3" || n.Address.String() != "192.168.250.3" || n.Port != 7777 {
		t.Fatalf("node 3 = %+v, %v", n, err)
	}
	if r := cl.Regions(); len(r) != 1 || r[0].UUID != uuid {
		t.Fatalf("regions %+v, want [%s]", r, uuid)
	}
	// Defaults: local mode, n1.., 127.0.0.<n>.
	conf2, err := clusterconf.Load(Write(t, filepath.Join(t.TempDir(), "cluster.conf"), Cluster{Nodes: 2}))
	if err != nil {
		t.Fatal(err)
	}
	cl2, _ := conf2.Cluster("")
	if n, err := cl2.Node("n2"); err != nil || n.Number != 2 || n.Address.String() != "127.0.0.2" || cl2.Mode() != clusterconf.ModeLocal || cl2.Name() != "o2cbtest" {
		t.Fatalf("defaults: %+v %v, mode %s, name %s", n, err, cl2.Mode(), cl2.Name())
	}
}

func TestWriteFromZeroOneAddress(t *testing.T) {
	conf, err := clusterconf.Load(Write(t, filepath.Join(t.TempDir(), "cluster.conf"),
		Cluster{Name: "bench", Nodes: 3, FromZero: true, Address: "127.0.0.1"}))
	if err != nil {
		t.Fatal(err)
	}
	cl, _ := conf.Cluster("")
	for i := range 3 {
		n, err := cl.NodeByNumber(i)
		if err != nil || n.Name != "n"+strconv.Itoa(i) || n.Address.String() != "127.0.0.1" {
			t.Fatalf("node %d = %+v, %v; want n%d at 127.0.0.1", i, n, err, i)
		}
	}
	if _, err := cl.NodeByNumber(3); err == nil {
		t.Fatal("node 3 exists; want nodes 0..2")
	}
}
