package hbd

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/backend"
	"github.com/o2cb-ra/o2cb-ra/internal/clustertest"
	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
	"github.com/o2cb-ra/o2cb-ra/internal/ocfs2"
	"github.com/o2cb-ra/o2cb-ra/internal/testenv"
)

const (
	testInterval  = 100 * time.Millisecond
	testThreshold = 5
)

// writeClusterConf writes a cluster.conf for cluster "test" with nodes
// n1..nN (numbers 1..N) and, in global mode, the given regions.
func writeClusterConf(t testing.TB, dir, mode string, nodes int, regions ...string) string {
	t.Helper()
	return clustertest.Write(t, filepath.Join(dir, "cluster.conf"),
		clustertest.Cluster{Name: "test", Global: mode == "global", Nodes: nodes, Regions: regions})
}

// image formats an OCFS2 image in dir and returns its path and UUID.
func image(t testing.TB, dir string) (path, uuid string) {
	t.Helper()
	path = testenv.MkfsOCFS2(t, testenv.Image{SizeMiB: 40, Dir: dir})
	sb, err := ocfs2.Probe(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, sb.UUID
}

// testLogger sends a daemon's log to the test's log.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// inProcess runs a daemon in this process as node n1 and returns a client
// for it; it is shut down when the test ends.
func inProcess(t testing.TB, conf, devices string) (*Daemon, *hbclient.Client) {
	t.Helper()
	run := filepath.Join(t.TempDir(), "run")
	d, err := New(Config{
		RunDir: run, ClusterConf: conf, NodeName: "n1",
		Interval: testInterval, DeadThreshold: testThreshold,
		Source: backend.Userspace{Devices: []string{devices}}, Logger: testLogger(t),
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	s, err := Listen(d)
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return d, hbclient.NewClient(run)
}
