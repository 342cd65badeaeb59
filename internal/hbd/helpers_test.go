package hbd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/backend"
	"github.com/o2cb-ra/o2cb-ra/internal/backend/memsource"
	"github.com/o2cb-ra/o2cb-ra/internal/clustertest"
	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
	"github.com/o2cb-ra/o2cb-ra/internal/hbdisk"
	"github.com/o2cb-ra/o2cb-ra/internal/hbdisk/memdisk"
	"github.com/o2cb-ra/o2cb-ra/internal/ocfs2"
	"github.com/o2cb-ra/o2cb-ra/internal/rundir"
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

// inProcess runs a daemon in this process as node n1 on the regions of
// src and returns a client for it; it is shut down when the test ends.
func inProcess(t testing.TB, conf string, src backend.Source) (*Daemon, *hbclient.Client) {
	t.Helper()
	run := filepath.Join(t.TempDir(), "run")
	d, err := New(Config{
		RunDir: run, ClusterConf: conf, NodeName: "n1",
		Interval: testInterval, DeadThreshold: testThreshold,
		Source: src, Logger: testLogger(t),
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

// volumes is the userspace source on the images under dir.
func volumes(dir string) backend.Source {
	return backend.Userspace{Devices: []string{filepath.Join(dir, "*.img")}}
}

// Regions of the in-memory tests.
const (
	memUUID1 = "00112233445566778899AABBCCDDEEFF"
	memUUID2 = "FFEEDDCCBBAA99887766554433221100"
)

// memUUID returns the UUID of in-memory region i.
func memUUID(i int) string { return fmt.Sprintf("%032X", 0xA000+i) }

// memDaemon returns a daemon of node name in this process on the
// regions of src; it serves no socket (a synctest bubble must not wait
// on the network) and is shut down when the test ends.
func memDaemon(t *testing.T, conf, name string, src backend.Source, tune ...func(*Config)) *Daemon {
	t.Helper()
	run := filepath.Join(t.TempDir(), "run")
	if err := rundir.PrepareRunDir(run); err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		RunDir: run, ClusterConf: conf, NodeName: name,
		Interval: testInterval, DeadThreshold: testThreshold,
		Source: src, Logger: testLogger(t),
	}
	for _, f := range tune {
		f(&cfg)
	}
	d, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { d.Shutdown(context.Background()) })
	return d
}

// call sends req to d as the socket would, and returns the wire error of
// a failed one as the error.
func call(t *testing.T, d *Daemon, req hbclient.Request) (hbclient.Response, error) {
	t.Helper()
	req.V = hbclient.ProtocolVersion
	resp := d.Handle(t.Context(), req)
	if resp.Error != nil {
		return resp, resp.Error
	}
	return resp, nil
}

func callStart(t *testing.T, d *Daemon, uuid, device, owner string, consumer bool) (hbclient.Response, error) {
	t.Helper()
	return call(t, d, hbclient.Request{Op: hbclient.OpStart, UUID: uuid, Device: device, Owner: owner, Consumer: consumer})
}

func callStop(t *testing.T, d *Daemon, uuid, owner string, consumer bool) (hbclient.Response, error) {
	t.Helper()
	return call(t, d, hbclient.Request{Op: hbclient.OpStop, UUID: uuid, Owner: owner, Consumer: consumer})
}

// callRefs returns the references of uuid on d, 0 if it does not run.
func callRefs(t *testing.T, d *Daemon, uuid string) int {
	t.Helper()
	resp, err := call(t, d, hbclient.Request{Op: hbclient.OpInfo, UUID: uuid})
	if errors.Is(err, hbclient.ErrCode(hbclient.CodeUnknownRegion)) {
		return 0
	}
	if err != nil {
		t.Fatalf("info %s: %v", uuid, err)
	}
	return resp.Region.Refs
}

// memSlot returns node's slot on an in-memory disk.
func memSlot(disk *memdisk.Disk, node int) hbdisk.Slot {
	g := memsource.Geometry
	return hbdisk.Slot(disk.Bytes()[g.SlotOffset(node):][:g.BlockBytes])
}
