package clusterconf_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/o2cb-ra/o2cb-ra/internal/clusterconf"
	"github.com/o2cb-ra/o2cb-ra/internal/clustertest"
)

// BenchmarkLoad255 reads a cluster.conf of the format's 255 nodes and 32
// heartbeat regions, as every agent action does in a new process, where
// each page of memory it touches is a page fault: B/op is that memory.
func BenchmarkLoad255(b *testing.B) {
	path := filepath.Join(b.TempDir(), "cluster.conf")
	var regions []string
	for i := range 32 {
		regions = append(regions, fmt.Sprintf("%032X", i+1))
	}
	if err := clustertest.WriteClusterConf(path, clustertest.Cluster{Global: true, Nodes: 255, FromZero: true, Regions: regions}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		c, err := clusterconf.Load(path)
		if err != nil {
			b.Fatal(err)
		}
		if cl := c.Clusters(); len(cl) != 1 || len(cl[0].Nodes()) != 255 || len(cl[0].Regions()) != 32 {
			b.Fatalf("read %d clusters", len(cl))
		}
	}
}
