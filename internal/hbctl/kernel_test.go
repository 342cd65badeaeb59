package hbctl

import (
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/faultdev"
	"github.com/o2cb-ra/o2cb-ra/internal/o2cbfs"
	"github.com/o2cb-ra/o2cb-ra/internal/o2cbfs/o2cbfstest"
	"github.com/o2cb-ra/o2cb-ra/internal/ocfs2"
	"github.com/o2cb-ra/o2cb-ra/internal/testenv"
)

func TestBackendChoice(t *testing.T) {
	none := o2cbfs.Kernel{Root: t.TempDir()}
	registered := o2cbfs.Kernel{Root: t.TempDir()}
	for _, f := range []string{"heartbeat/mode", "heartbeat/dead_threshold", "idle_timeout_ms", "keepalive_delay_ms", "reconnect_delay_ms", "fence_method"} {
		p := filepath.Join(registered.Root, o2cbfs.ConfigfsDir, "cluster", "web", f)
		os.MkdirAll(filepath.Dir(p), 0o755)
		value := "1\n"
		switch f {
		case "heartbeat/mode":
			value = "local\n"
		case "fence_method":
			value = "reset\n"
		}
		if err := os.WriteFile(p, []byte(value), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		k      o2cbfs.Kernel
		env    string
		kernel bool
		err    string
	}{
		{none, "", false, ""},
		{registered, "", true, ""}, // the kernel's umount call: no environment
		{registered, "auto", true, ""},
		{registered, "userspace", false, ""},
		{registered, "observer", false, ""},
		{none, "kernel", true, ""},
		{none, "kernal", false, `O2CB_HEARTBEAT_BACKEND="kernal"`},
	} {
		env := func(k string) string {
			if k == EnvBackend {
				return tc.env
			}
			return ""
		}
		got, err := useKernel(tc.k, env)
		if got != tc.kernel || (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("useKernel(registered=%v, %q) = %v, %v; want %v, %q", tc.k.Root == registered.Root, tc.env, got, err, tc.kernel, tc.err)
		}
	}
}

// TestKernelStartHungDevice: -S on a device whose reads hang fails, in a
// bounded time and naming the device, before anything reaches the
// kernel: the configfs tree is as it was and no reference is counted.
// (The kernel's start would read the region uninterruptibly.)
func TestKernelStartHungDevice(t *testing.T) {
	img := testenv.MkfsOCFS2(t, testenv.Image{})
	d := testenv.FaultyFile(t, img)
	v, err := ocfs2.Open(d.Device)
	if err != nil {
		t.Fatal(err)
	}
	d.Stall(faultdev.Reads, time.Minute)
	for _, mode := range []string{"global", "local"} {
		k := o2cbfstest.Tree(t, o2cbfs.Cluster{Name: "web", Mode: mode, Timeouts: o2cbfs.Timeouts{DeadThreshold: 31, FenceMethod: "reset"},
			Nodes: []o2cbfs.Node{{Name: "n1", Num: 1, Port: 7777, Address: netip.MustParseAddr("10.0.0.1"), Local: true}}})
		before := o2cbfstest.Snapshot(t, k)
		var stderr strings.Builder
		begin := time.Now()
		err := kernelAction(k, request{action: 'S', device: d.Device, uuid: v.UUID, service: "t", global: mode == "global"},
			func(string) string { return "" }, io.Discard, &stderr)
		took := time.Since(begin)
		if !errors.Is(err, ocfs2.ErrNoAnswer) || !strings.Contains(err.Error(), d.Device) {
			t.Errorf("%s mode: -S on a hung device: %v, want %v naming %s", mode, err, ocfs2.ErrNoAnswer, d.Device)
		}
		if limit := 2*ocfs2.DefaultAnswerTimeout + time.Second; took > limit {
			t.Errorf("%s mode: -S on a hung device took %v, want at most %v", mode, took, limit)
		}
		if after := o2cbfstest.Snapshot(t, k); after != before {
			t.Errorf("%s mode: -S on a hung device changed the kernel's files:\nbefore %s\nafter  %s", mode, before, after)
		}
		if n, err := o2cbfs.CountRefs(v.UUID); err != nil || n != 0 {
			t.Errorf("%s mode: references of %s after -S on a hung device: %d, %v; want 0", mode, v.UUID, n, err)
		}
	}
}
