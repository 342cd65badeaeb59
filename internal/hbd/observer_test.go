package hbd

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/backend"
	"github.com/o2cb-ra/o2cb-ra/internal/backend/memsource"
	"github.com/o2cb-ra/o2cb-ra/internal/clustertest"
	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
	"github.com/o2cb-ra/o2cb-ra/internal/hbdisk"
	"github.com/o2cb-ra/o2cb-ra/internal/ocfs2"
	"github.com/o2cb-ra/o2cb-ra/internal/testenv"
)

// noWrite is an observer's device: every write is counted and refused.
type noWrite struct {
	hbdisk.Device
	writes *atomic.Int32
}

func (d noWrite) WriteAt(p []byte, off int64) (int, error) {
	d.writes.Add(1)
	return 0, errors.New("the observer wrote")
}

// A daemon of node n1 with an observer backend, beside writer daemons on
// the same disk: its status says which backend, its region sees the live
// nodes the writers see, node 1 among them only when something writes
// node 1's slot (the kernel, stood in for by a userspace writer
// numbered 1), and nothing is written through it, not even on stop.
func TestObserverDaemon(t *testing.T) {
	for _, tc := range []struct {
		backend string
		writers []string // daemons writing on the disk
		live    []int
	}{
		{hbclient.BackendObserver, []string{"n2"}, []int{2}},
		{hbclient.BackendKernel, []string{"n1", "n2"}, []int{1, 2}},
	} {
		t.Run(tc.backend, func(t *testing.T) {
			uuid := memUUID1
			conf := writeClusterConf(t, t.TempDir(), "local", 2)
			synctest.Test(t, func(t *testing.T) {
				var writes atomic.Int32
				obs := memsource.New()
				obs.ReadOnly = true
				obs.Open = func(_ backend.Spec, dev hbdisk.Device) (hbdisk.Device, error) { return noWrite{dev, &writes}, nil }
				disk := obs.Add(uuid, nil)
				var writers []*Daemon
				for _, name := range tc.writers {
					src := memsource.New()
					src.Add(uuid, disk)
					w := memDaemon(t, conf, name, src)
					if _, err := callStart(t, w, uuid, "", "service:/w", true); err != nil {
						t.Fatalf("%s: start = %v", name, err)
					}
					writers = append(writers, w)
				}
				time.Sleep(testInterval / 2)
				d := memDaemon(t, conf, "n1", obs, func(c *Config) { c.Backend = tc.backend })
				if _, err := callStart(t, d, uuid, "", "service:/mnt", true); err != nil {
					t.Fatalf("observer start = %v", err)
				}
				time.Sleep(3 * testInterval)
				st := d.Status()
				b, err := json.Marshal(st)
				if err != nil {
					t.Fatal(err)
				}
				var top map[string]any
				if err := json.Unmarshal(b, &top); err != nil || top["backend"] != tc.backend {
					t.Errorf("status JSON %s: backend %v, want %q", b, top["backend"], tc.backend)
				}
				r := regionOf(st, uuid)
				if r.State != hbclient.StateSteady || !slices.Equal(r.LiveNodes, tc.live) {
					t.Errorf("observer's region: state %s live %v, want steady %v", r.State, r.LiveNodes, tc.live)
				}
				for i, w := range writers {
					if got := regionOf(w.Status(), uuid).LiveNodes; !slices.Equal(got, r.LiveNodes) {
						t.Errorf("writer %s sees %v, the observer %v", tc.writers[i], got, r.LiveNodes)
					}
				}
				if r.Generation != "" || r.Writes != 0 || r.BytesWritten != 0 || r.LastWriteAge != -1 || r.Reads == 0 {
					t.Errorf("observer's region %+v: want no generation, no write, some reads", r)
				}
				// What a monitor asks: this node seen, its slot fresh.
				seen := slices.Contains(r.LiveNodes, 1)
				if fresh := r.OwnSlotAge >= 0 && r.OwnSlotAge <= testInterval.Seconds(); seen != fresh || seen != slices.Contains(tc.live, 1) {
					t.Errorf("observer's region: node 1 seen %v, own slot age %vs; want both %v", seen, r.OwnSlotAge, slices.Contains(tc.live, 1))
				}
				if _, err := callStop(t, d, uuid, "service:/mnt", true); err != nil {
					t.Errorf("observer stop = %v", err)
				}
				time.Sleep(2 * testInterval)
				if n := writes.Load(); n != 0 {
					t.Errorf("the observer daemon wrote %d times, want 0", n)
				}
				for _, w := range writers {
					callStop(t, w, uuid, "service:/w", true)
				}
			})
		})
	}
}

// A backend name the daemon does not know is refused, naming the known.
func TestUnknownBackendRefused(t *testing.T) {
	conf := writeClusterConf(t, t.TempDir(), "local", 2)
	_, err := New(Config{ClusterConf: conf, NodeName: "n1", Backend: "kernell", Source: memsource.New()})
	if err == nil || !strings.Contains(err.Error(), `"kernell"`) || !strings.Contains(err.Error(), hbclient.BackendObserver) {
		t.Errorf("New with backend kernell = %v, want an error naming it and the known ones", err)
	}
}

// The default backend is userspace, and status says so.
func TestDefaultBackendUserspace(t *testing.T) {
	conf := writeClusterConf(t, t.TempDir(), "local", 2)
	d := memDaemon(t, conf, "n1", memsource.New())
	if got := d.Status().Backend; got != hbclient.BackendUserspace {
		t.Errorf("status backend %q, want %q", got, hbclient.BackendUserspace)
	}
}

// Daemon processes on a real image: n2 writes, n1 runs with
// O2CB_HEARTBEAT_BACKEND=observer. n1's status names the backend and
// sees what n2 sees, node 2 alone; n2 never sees node 1; nothing outside
// n2's slot changes, n1's slot included; n2 stopped, n1 sees it go.
func TestObserverDaemonProcess(t *testing.T) {
	testenv.RequireRoot(t)
	dir := t.TempDir()
	img, uuid := image(t, dir)
	conf := writeClusterConf(t, dir, "local", 2)
	v, err := ocfs2.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	g := v.Heartbeat.Geometry
	hashOutside := func() [32]byte {
		b, err := os.ReadFile(img)
		if err != nil {
			t.Fatal(err)
		}
		off := g.SlotOffset(2)
		clear(b[off : off+int64(g.BlockBytes)])
		return sha256.Sum256(b)
	}
	before := hashOutside()
	n2 := newNode(t, "n2", conf, dir+"/*.img")
	n2.start()
	n1 := &node{t: t, Node: clustertest.NewNode(clustertest.NodeConfig{Bin: o2cbRA(t), Conf: conf, Name: "n1",
		Run: filepath.Join(t.TempDir(), "run-n1"), Devices: dir + "/*.img", Interval: testInterval, Threshold: testThreshold,
		Env: append(os.Environ(), "O2CB_HEARTBEAT_BACKEND=observer")})}
	t.Cleanup(n1.stop)
	n1.start()
	n2.regionStart(uuid, "/w")
	n1.regionStart(uuid, "/mnt")
	st, err := n1.client().Status(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if st.Backend != hbclient.BackendObserver {
		t.Errorf("n1 status backend %q, want %q", st.Backend, hbclient.BackendObserver)
	}
	if got := n1.liveIn()[uuid]; !slices.Equal(got, []int{2}) {
		t.Errorf("observer n1 sees %v once started, want [2]", got)
	}
	time.Sleep(3 * testInterval)
	if got, want := n1.liveIn()[uuid], n2.liveIn()[uuid]; !slices.Equal(got, want) || !slices.Equal(want, []int{2}) {
		t.Errorf("observer n1 sees %v, writer n2 %v; want both [2]", got, want)
	}
	if got := hashOutside(); got != before {
		t.Errorf("%s changed outside node 2's slot while the observer ran", img)
	}
	n2.stop()
	testenv.WaitFor(t, 3*testInterval, "observer n1 sees node 2 stop", func() bool { return len(n1.liveIn()[uuid]) == 0 })
	n1.stop()
	if got := hashOutside(); got != before {
		t.Errorf("%s changed outside node 2's slot after the observer stopped", img)
	}
}
