package ocfs2

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/o2cb-ra/o2cb-ra/internal/testenv"
)

func TestNormalizeUUID(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"43fa4f36-ed35-4789-a313-654157458296", "43FA4F36ED354789A313654157458296"},
		{"43FA4F36ED354789A313654157458296", "43FA4F36ED354789A313654157458296"},
		{"43Fa4f36eD354789a313654157458296", "43FA4F36ED354789A313654157458296"},
		{" 43fa4f36ed354789a313654157458296\n", "43FA4F36ED354789A313654157458296"},
		{"\t43fa4f36-ed35-4789-a313-654157458296 ", "43FA4F36ED354789A313654157458296"},
		{"43fa4f36ed354789a31365415745829", ""},
		{"43fa4f36ed354789a3136541574582960", ""},
		{"43fa4f36ed354789a31365415745829g", ""},
		{"43fa4f36-ed35-4789-a313-65415745829g", ""},
		{"43fa4f36-ed354789-a313-654157458296", ""},  // dashes elsewhere than 8-4-4-4-12
		{"43fa4f36ed35-4789-a313-654157458296-", ""}, // 36 characters, dashes misplaced
		{"-43fa4f36ed354789a313654157458296", ""},    // one dash
		{"43fa4f36-ed35-4789-a313-6541574582", ""},   // dashed, too short
		{"43fa4f36 ed35 4789 a313 654157458296", ""}, // spaces are not dashes
		{"+3fa4f36ed354789a313654157458296", ""},     // hex.DecodeString takes no sign
		{"", ""},
	} {
		got, err := NormalizeUUID(tc.in)
		if got != tc.want || (tc.want == "") != errors.Is(err, ErrBadUUID) {
			t.Errorf("NormalizeUUID(%q) = %q, %v, want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestSplitDeviceList(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"/dev/sdb", []string{"/dev/sdb"}},
		{"/dev/sdb:/dev/sdc /srv/*.img", []string{"/dev/sdb", "/dev/sdc", "/srv/*.img"}},
		{" ::/a::  /b: ", []string{"/a", "/b"}},
	} {
		if got := SplitDeviceList(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("SplitDeviceList(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSectorSizeOfFile(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if n, err := SectorSize(f); n != 512 || err != nil {
		t.Errorf("SectorSize(regular file) = %d, %v, want 512", n, err)
	}
	d, err := os.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := SectorSize(d); !errors.Is(err, ErrSectorSize) {
		t.Errorf("SectorSize(directory) = %v, want %v", err, ErrSectorSize)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	small := filepath.Join(dir, "small")
	zeros := filepath.Join(dir, "zeros")
	os.WriteFile(small, []byte("hello"), 0o644)
	os.WriteFile(zeros, make([]byte, 64<<10), 0o644)
	for _, tc := range []struct {
		path string
		want error
	}{
		{small, ErrNotOCFS2},
		{zeros, ErrNotOCFS2},
		{dir, ErrNotOCFS2},
		{filepath.Join(dir, "missing"), os.ErrNotExist},
	} {
		_, err := Open(tc.path)
		if !errors.Is(err, tc.want) || !strings.HasPrefix(err.Error(), tc.path+": ") {
			t.Errorf("Open(%s) = %v, want %v prefixed by the path", tc.path, err, tc.want)
		}
	}
}

// TestScan searches a fake /dev, /proc/partitions and /sys/class/block
// holding real images: the search order, the holder rule, NVMe and dm
// names, globs, and that each device is listed once.
func TestScan(t *testing.T) {
	testenv.RequireCommand(t, "mkfs.ocfs2")
	root := t.TempDir()
	dev := filepath.Join(root, "dev")
	sys := filepath.Join(root, "sys")
	extra := filepath.Join(root, "images")
	for _, d := range []string{dev, filepath.Join(dev, "mapper"), sys, extra} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	tmpl := testenv.MkfsOCFS2(t, testenv.Image{})
	data, err := os.ReadFile(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	// Each device is a copy of the image with its own UUID.
	uuids := map[string]string{}
	mkdev := func(path string, n byte) {
		t.Helper()
		b := slices.Clone(data[:64<<10])
		b[2*4096+offSbUUID+15] = n
		// No meta-ecc on this image: the UUID may change freely.
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		sb, err := Probe(path)
		if err != nil {
			t.Fatal(err)
		}
		uuids[path] = sb.UUID
	}
	holder := func(name, by string) {
		t.Helper()
		h := filepath.Join(sys, name, "holders")
		os.MkdirAll(h, 0o755)
		if by != "" {
			os.WriteFile(filepath.Join(h, by), nil, 0o644)
		}
	}
	mkdev(filepath.Join(extra, "b.img"), 1)
	mkdev(filepath.Join(extra, "a.img"), 2)
	os.WriteFile(filepath.Join(extra, "c.img"), make([]byte, 64<<10), 0o644) // not OCFS2
	mkdev(filepath.Join(dev, "dm-0"), 3)
	os.Symlink("../dm-0", filepath.Join(dev, "mapper", "mpatha"))
	os.WriteFile(filepath.Join(dev, "mapper", "control"), nil, 0o644)
	mkdev(filepath.Join(dev, "sda"), 4) // a leg of mpatha: held
	mkdev(filepath.Join(dev, "sdb"), 5) // same volume as dm-0's leg but no holders
	mkdev(filepath.Join(dev, "nvme0n1p1"), 6)
	mkdev(filepath.Join(dev, "dm-1"), 7)
	os.Symlink("dm-1", filepath.Join(dev, "dm-1-alias"))
	uuids[filepath.Join(dev, "mapper", "mpatha")] = uuids[filepath.Join(dev, "dm-0")]
	uuids[filepath.Join(dev, "dm-1-alias")] = uuids[filepath.Join(dev, "dm-1")]
	holder("sda", "dm-0")
	holder("dm-0", "")
	holder("sdb", "")
	holder("nvme0n1p1", "")
	holder("dm-1", "")
	parts := filepath.Join(root, "partitions")
	os.WriteFile(parts, []byte(`major minor  #blocks  name

   8        0      65536 sda
   8       16      65536 sdb
 259        1      65536 nvme0n1p1
 253        0      65536 dm-0
 253        1      65536 dm-1
   7        0          0 loop0
 11        0    1048575 sr0
`), 0o644)

	opts := ScanOptions{
		Extra:          []string{filepath.Join(extra, "*.img"), filepath.Join(extra, "a.img"), filepath.Join(dev, "dm-1-alias")},
		ProcPartitions: parts, DevDir: dev, SysBlock: sys,
	}
	found, err := Scan(opts)
	if err != nil {
		t.Fatalf("Scan = %v", err)
	}
	var got []string
	for _, f := range found {
		got = append(got, f.Device)
		if f.UUID != uuids[f.Device] || f.Label != "o2cbtest" {
			t.Errorf("Scan found %s with UUID %s label %q, want %s, o2cbtest", f.Device, f.UUID, f.Label, uuids[f.Device])
		}
	}
	want := []string{
		filepath.Join(extra, "a.img"), filepath.Join(extra, "b.img"), // the glob, sorted
		filepath.Join(dev, "dm-1-alias"), // the explicit path; dm-1 is the same device
		filepath.Join(dev, "mapper", "mpatha"),
		filepath.Join(dev, "sdb"), filepath.Join(dev, "nvme0n1p1"), // sda is held by dm-0
	}
	if !slices.Equal(got, want) {
		t.Errorf("Scan devices =\n%q\nwant\n%q", got, want)
	}

	if p, err := FindByUUID(strings.ToLower(uuids[filepath.Join(dev, "nvme0n1p1")]), opts); err != nil || p != filepath.Join(dev, "nvme0n1p1") {
		t.Errorf("FindByUUID(nvme's) = %q, %v, want the NVMe device", p, err)
	}
	if p, err := FindByUUID(uuids[filepath.Join(dev, "sda")], opts); !errors.Is(err, ErrUUIDNotFound) || !strings.Contains(err.Error(), uuids[filepath.Join(dev, "sda")]) {
		t.Errorf("FindByUUID(held sda's) = %q, %v, want %v naming the UUID", p, err, ErrUUIDNotFound)
	}
	if _, err := FindByUUID("nope", opts); !errors.Is(err, ErrBadUUID) {
		t.Errorf("FindByUUID(nope) = %v, want %v", err, ErrBadUUID)
	}
	bad := opts
	bad.Extra = []string{"[", filepath.Join(extra, "a.img")}
	bad.ProcPartitions = filepath.Join(root, "missing")
	found, err = Scan(bad)
	if err == nil || len(found) == 0 || found[0].Device != filepath.Join(extra, "a.img") {
		t.Errorf("Scan(bad pattern, missing partitions) = %v, %v; want a.img found and an error", found, err)
	}
}
