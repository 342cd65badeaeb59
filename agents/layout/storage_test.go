package layout

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/blockdev"
	"github.com/o2cb-ra/o2cb-ra/internal/ocf"
)

// A region on a multipath device that queues, over a SCSI disk of 30 s:
// with a write timeout of 60 s the queueing is warned about, naming the
// device and the layer; with 20 s the disk's timeout too. A device with
// nothing under it gives no warning.
func TestWarnSlowStorage(t *testing.T) {
	root := t.TempDir()
	for p, v := range map[string]string{
		"sys/devices/virtual/block/dm-0/dm/name":          "mpatha",
		"sys/devices/pci0/host0/block/sdb/device/timeout": "30",
	} {
		os.MkdirAll(filepath.Join(root, filepath.Dir(p)), 0o755)
		os.WriteFile(filepath.Join(root, p), []byte(v+"\n"), 0o644)
	}
	for p, target := range map[string]string{
		"sys/dev/block/253:0":                       "../../devices/virtual/block/dm-0",
		"sys/class/block/dm-0":                      "../../devices/virtual/block/dm-0",
		"sys/class/block/sdb":                       "../../devices/pci0/host0/block/sdb",
		"sys/devices/virtual/block/dm-0/slaves/sdb": "../../../../pci0/host0/block/sdb",
	} {
		os.MkdirAll(filepath.Join(root, filepath.Dir(p)), 0o755)
		if err := os.Symlink(target, filepath.Join(root, p)); err != nil {
			t.Fatal(err)
		}
	}
	sys := blockdev.Sys{Root: root, DMTable: func(string) (string, error) {
		return "0 8 multipath 1 queue_if_no_path 0 1 1 round-robin 0 1 1 8:16 1\n", nil
	}}
	// Bounds takes a device path; the fake tree answers for 253:0.
	check := func(limit time.Duration, want ...string) {
		t.Helper()
		var log bytes.Buffer
		c := &ocf.Context{Context: context.Background(), Log: slog.New(slog.NewTextHandler(&log, nil))}
		bounds, err := sys.BoundsOf("253:0")
		if err != nil {
			t.Fatal(err)
		}
		got := report(c, "AABB", "/dev/mapper/mpatha", bounds, limit)
		if len(got) != len(want) {
			t.Fatalf("write timeout %v: warnings %q, want %d", limit, got, len(want))
		}
		for i, w := range want {
			if !strings.Contains(got[i], w) || !strings.Contains(got[i], "/dev/mapper/mpatha") {
				t.Errorf("write timeout %v: warning %q, want one naming the device and %q", limit, got[i], w)
			}
		}
		if n := strings.Count(log.String(), "level=WARN"); n != len(want) {
			t.Errorf("write timeout %v: %d warnings logged, want %d:\n%s", limit, n, len(want), log.String())
		}
		if len(want) > 0 && !strings.Contains(log.String(), "advice=") {
			t.Errorf("the warning gives no advice:\n%s", log.String())
		}
	}
	check(60*time.Second, "dm-0: multipath device mpatha queues")
	check(20*time.Second, "dm-0: multipath device mpatha queues", "sdb: SCSI command timeout 30s")

	img := filepath.Join(t.TempDir(), "v.img")
	os.WriteFile(img, make([]byte, 4096), 0o644)
	var log bytes.Buffer
	c := &ocf.Context{Context: context.Background(), Log: slog.New(slog.NewTextHandler(&log, nil))}
	if got := WarnSlowStorage(c, "AABB", img, time.Second); len(got) != 0 || log.Len() != 0 {
		t.Errorf("an image file: warnings %q, log %q", got, log.String())
	}
}
