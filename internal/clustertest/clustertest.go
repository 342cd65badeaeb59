// Package clustertest makes the clusters that tests and bench run on, and
// returns errors: cluster.conf files written with the project's own writer
// (internal/clusterconf), so that nothing hand-writes the format; OCFS2
// volumes with their UUIDs; o2cb-ra daemons as the nodes of a cluster.
// It sits above internal/fixture (images, loop devices, commands,
// processes), which the packages it imports test with. Write is its
// testing.TB wrapper for tests:
//
//	conf := clustertest.Write(t, filepath.Join(dir, "cluster.conf"),
//		clustertest.Cluster{Name: "test", Global: true, Nodes: 3, Regions: []string{uuid}})
package clustertest

import "testing"

// Write writes cc to path with WriteClusterConf and returns path; an
// error fails the test.
func Write(t testing.TB, path string, cc Cluster) string {
	t.Helper()
	if err := WriteClusterConf(path, cc); err != nil {
		t.Fatal(err)
	}
	return path
}
