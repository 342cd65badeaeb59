// Package blockdev tells how long the layers under a block device may
// hold an I/O before they fail it, from sysfs: the SCSI command timeout of
// each SCSI disk, NVMe's io_timeout, and device-mapper multipath devices
// that queue I/O while no path is up. A heartbeat whose writes can block
// longer than its write timeout ((dead_threshold - 1) × interval) makes
// the node fence itself on a path failure the storage would have
// survived; storage vendors advise a heartbeat timeout well above the I/O
// layer's.
//
//	bounds, err := blockdev.Sys{}.Bounds("/dev/mapper/mpatha")
package blockdev

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Bound is how long one layer may hold an I/O.
type Bound struct {
	Device    string        // the layer's kernel name, e.g. sdb, dm-3, nvme0n1
	What      string        // what sets it
	File      string        // where it was read
	Max       time.Duration // the bound; 0 when Unbounded
	Unbounded bool          // the layer queues I/O without a limit of its own
}

func (b Bound) String() string {
	if b.Unbounded {
		return fmt.Sprintf("%s: %s (%s)", b.Device, b.What, b.File)
	}
	return fmt.Sprintf("%s: %s %v (%s)", b.Device, b.What, b.Max, b.File)
}

// Sys reads sysfs under Root ("" for the machine's) and device-mapper
// tables through DMTable (nil: `dmsetup table NAME`).
type Sys struct {
	Root    string
	DMTable func(name string) (string, error)
}

func (s Sys) path(p ...string) string { return filepath.Join(append([]string{s.Root}, p...)...) }

// Bounds returns the bounds of the block device at path and of every
// device under it (a partition's disk, a device-mapper device's slaves),
// outermost first. A device with none (a loop device, virtio) gives none.
func (s Sys) Bounds(path string) ([]Bound, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFBLK {
		return nil, nil // an image file: nothing under it holds I/O
	}
	return s.BoundsOf(fmt.Sprintf("%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev)))
}

// BoundsOf is Bounds of the device numbered devno ("major:minor").
func (s Sys) BoundsOf(devno string) ([]Bound, error) {
	link, err := os.Readlink(s.path("sys/dev/block", devno))
	if err != nil {
		return nil, fmt.Errorf("block device %s: %w", devno, err)
	}
	name := filepath.Base(link)
	var out []Bound
	seen := map[string]bool{}
	var walk func(name string) error
	walk = func(name string) error {
		if seen[name] {
			return nil
		}
		seen[name] = true
		// A partition is a directory of its disk in sysfs.
		dir := s.path("sys/class/block", name)
		if _, err := os.Stat(filepath.Join(dir, "partition")); err == nil {
			target, err := filepath.EvalSymlinks(dir)
			if err != nil {
				return err
			}
			return walk(filepath.Base(filepath.Dir(target)))
		}
		b, err := s.bounds(name, dir)
		if err != nil {
			return err
		}
		out = append(out, b...)
		slaves, _ := os.ReadDir(filepath.Join(dir, "slaves"))
		for _, sl := range slaves {
			if err := walk(sl.Name()); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(name); err != nil {
		return nil, err
	}
	return out, nil
}

// bounds are the bounds of the disk name itself.
func (s Sys) bounds(name, dir string) ([]Bound, error) {
	var out []Bound
	if p := filepath.Join(dir, "device", "timeout"); exists(p) {
		secs, err := readInt(p)
		if err != nil {
			return nil, err
		}
		out = append(out, Bound{Device: name, What: "SCSI command timeout", File: p, Max: time.Duration(secs) * time.Second})
	}
	if strings.HasPrefix(name, "nvme") {
		p := s.path("sys/module/nvme_core/parameters/io_timeout")
		if secs, err := readInt(p); err == nil {
			out = append(out, Bound{Device: name, What: "NVMe I/O timeout", File: p, Max: time.Duration(secs) * time.Second})
		}
	}
	if p := filepath.Join(dir, "dm", "name"); exists(p) {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		dm := strings.TrimSpace(string(b))
		table, err := s.table(dm)
		if err != nil {
			return nil, fmt.Errorf("device-mapper device %s (%s): %w", dm, name, err)
		}
		if queues(table) {
			out = append(out, Bound{Device: name, Unbounded: true, File: "dmsetup table " + dm,
				What: "multipath device " + dm + " queues I/O while no path is up (queue_if_no_path), until multipathd's no_path_retry, if any, ends it"})
		}
	}
	return out, nil
}

func (s Sys) table(name string) (string, error) {
	if s.DMTable != nil {
		return s.DMTable(name)
	}
	out, err := exec.Command("dmsetup", "table", name).Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return "", fmt.Errorf("dmsetup table: %v: %s", err, strings.TrimSpace(string(ee.Stderr)))
	}
	if err != nil {
		return "", fmt.Errorf("dmsetup table: %w", err)
	}
	return string(out), nil
}

// queues reports whether a device-mapper table has a multipath target
// with the queue_if_no_path feature: "start len multipath <n> <features>...".
func queues(table string) bool {
	for _, line := range strings.Split(table, "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || f[2] != "multipath" {
			continue
		}
		n, err := strconv.Atoi(f[3])
		if err != nil || 4+n > len(f) {
			continue
		}
		if slices.Contains(f[4:4+n], "queue_if_no_path") {
			return true
		}
	}
	return false
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func readInt(p string) (int, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("%s: %w", p, err)
	}
	return n, nil
}

// Outlasting are the bounds at or above limit, the heartbeat's write
// timeout: unbounded ones included.
func Outlasting(bounds []Bound, limit time.Duration) []Bound {
	var out []Bound
	for _, b := range bounds {
		if b.Unbounded || b.Max >= limit {
			out = append(out, b)
		}
	}
	return out
}
