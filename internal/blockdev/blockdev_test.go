package blockdev

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// tree lays out a sysfs of: sdb and sdc (SCSI, 30 s and 45 s), sdb1 a
// partition of sdb, dm-0 the multipath device mpatha over sdb and sdc
// (its table from tables), nvme0n1 (io_timeout 30), loop0 (nothing).
func tree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	put := func(p, v string) {
		t.Helper()
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(v+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := func(p, target string) {
		t.Helper()
		full := filepath.Join(root, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.Symlink(target, full); err != nil {
			t.Fatal(err)
		}
	}
	put("sys/devices/pci0/host0/block/sdb/device/timeout", "30")
	put("sys/devices/pci0/host0/block/sdb/sdb1/partition", "1")
	put("sys/devices/pci0/host1/block/sdc/device/timeout", "45")
	put("sys/devices/virtual/block/dm-0/dm/name", "mpatha")
	os.MkdirAll(filepath.Join(root, "sys/devices/virtual/block/dm-0/slaves"), 0o755)
	link("sys/devices/virtual/block/dm-0/slaves/sdb", "../../../../pci0/host0/block/sdb")
	link("sys/devices/virtual/block/dm-0/slaves/sdc", "../../../../pci0/host1/block/sdc")
	put("sys/devices/pci0/nvme/block/nvme0n1/size", "1")
	put("sys/module/nvme_core/parameters/io_timeout", "30")
	put("sys/devices/virtual/block/loop0/size", "1")
	for name, dir := range map[string]string{
		"sdb": "pci0/host0/block/sdb", "sdb1": "pci0/host0/block/sdb/sdb1", "sdc": "pci0/host1/block/sdc",
		"dm-0": "virtual/block/dm-0", "nvme0n1": "pci0/nvme/block/nvme0n1", "loop0": "virtual/block/loop0",
	} {
		link("sys/class/block/"+name, "../../devices/"+dir)
	}
	for devno, dir := range map[string]string{"8:16": "pci0/host0/block/sdb", "8:17": "pci0/host0/block/sdb/sdb1",
		"253:0": "virtual/block/dm-0", "259:0": "pci0/nvme/block/nvme0n1", "7:0": "virtual/block/loop0"} {
		link("sys/dev/block/"+devno, "../../devices/"+dir)
	}
	return root
}

func TestBoundsOf(t *testing.T) {
	root := tree(t)
	queueing := "0 2097152 multipath 1 queue_if_no_path 0 1 1 service-time 0 2 1 8:16 1 8:32 1\n"
	failing := "0 2097152 multipath 0 0 1 1 service-time 0 2 1 8:16 1 8:32 1\n"
	for _, tc := range []struct {
		devno, table string
		want         []string
	}{
		{"8:16", "", []string{"sdb: SCSI command timeout 30s"}},
		{"8:17", "", []string{"sdb: SCSI command timeout 30s"}}, // the partition's disk
		{"253:0", queueing, []string{"dm-0: multipath device mpatha queues", "sdb: SCSI command timeout 30s", "sdc: SCSI command timeout 45s"}},
		{"253:0", failing, []string{"sdb: SCSI command timeout 30s", "sdc: SCSI command timeout 45s"}},
		{"259:0", "", []string{"nvme0n1: NVMe I/O timeout 30s"}},
		{"7:0", "", nil},
	} {
		sys := Sys{Root: root, DMTable: func(name string) (string, error) {
			if name != "mpatha" {
				return "", errors.New("no such device " + name)
			}
			return tc.table, nil
		}}
		bounds, err := sys.BoundsOf(tc.devno)
		if err != nil {
			t.Fatalf("BoundsOf(%s): %v", tc.devno, err)
		}
		var got []string
		for _, b := range bounds {
			got = append(got, b.String())
		}
		ok := len(got) == len(tc.want)
		for i := range min(len(got), len(tc.want)) {
			ok = ok && strings.HasPrefix(got[i], tc.want[i])
		}
		if !ok {
			t.Errorf("BoundsOf(%s) = %q, want %q", tc.devno, got, tc.want)
		}
		for _, b := range bounds {
			if !strings.HasPrefix(b.File, root+"/sys/") && b.File != "dmsetup table mpatha" {
				t.Errorf("BoundsOf(%s): %s does not name where it was read", tc.devno, b)
			}
		}
	}
	if _, err := (Sys{Root: root}).BoundsOf("1:99"); err == nil {
		t.Error("BoundsOf of a device not in sysfs succeeded")
	}
	broken := Sys{Root: root, DMTable: func(string) (string, error) { return "", errors.New("dmsetup: not found") }}
	if _, err := broken.BoundsOf("253:0"); err == nil || !strings.Contains(err.Error(), "mpatha") {
		t.Errorf("BoundsOf with no device-mapper table: %v, want an error naming mpatha", err)
	}
}

func TestOutlasting(t *testing.T) {
	bounds := []Bound{{Device: "sdb", Max: 30 * time.Second}, {Device: "sdc", Max: 90 * time.Second}, {Device: "dm-0", Unbounded: true}}
	var got []string
	for _, b := range Outlasting(bounds, 60*time.Second) {
		got = append(got, b.Device)
	}
	if want := []string{"sdc", "dm-0"}; !slices.Equal(got, want) {
		t.Errorf("Outlasting(60s) = %v, want %v", got, want)
	}
	if got := Outlasting(bounds[:1], 30*time.Second); len(got) != 1 {
		t.Errorf("a bound equal to the write timeout must count: %v", got)
	}
}

// The machine's own: an image file has nothing under it; a missing
// path is an error naming it.
func TestBoundsFiles(t *testing.T) {
	img := filepath.Join(t.TempDir(), "v.img")
	os.WriteFile(img, make([]byte, 4096), 0o644)
	if b, err := (Sys{}).Bounds(img); err != nil || len(b) != 0 {
		t.Errorf("Bounds(image file) = %v, %v; want none", b, err)
	}
	if _, err := (Sys{}).Bounds(img + ".missing"); err == nil || !strings.Contains(err.Error(), img+".missing") {
		t.Errorf("Bounds(missing) = %v, want an error naming it", err)
	}
}
