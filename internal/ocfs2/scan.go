package ocfs2

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Found is one OCFS2 volume found by Scan.
type Found struct {
	UUID   string // 32 upper-case hex digits
	Device string // the path it was found at
	Label  string
}

// ScanOptions says where Scan and FindByUUID look.
type ScanOptions struct {
	// Extra holds paths or globs searched first, in order: from
	// O2CB_HB_DEVICES or the `devices` OCF parameter (see SplitDeviceList).
	Extra []string
	// Roots, overridable for tests; defaults /proc/partitions, /dev and
	// /sys/class/block.
	ProcPartitions, DevDir, SysBlock string
	// Timeout is how long the devices have to answer, in all, as for
	// DefaultProbeTimeout (its value if 0).
	Timeout time.Duration
	// Warn, if set, is told of devices that did not answer when
	// FindByUUID found the volume all the same.
	Warn func(error)
}

func (o ScanOptions) withDefaults() ScanOptions {
	if o.ProcPartitions == "" {
		o.ProcPartitions = "/proc/partitions"
	}
	if o.DevDir == "" {
		o.DevDir = "/dev"
	}
	if o.SysBlock == "" {
		o.SysBlock = "/sys/class/block"
	}
	return o
}

// SplitDeviceList splits a device list, such as O2CB_HB_DEVICES or the
// `devices` parameter, on spaces and colons; empty items are dropped.
func SplitDeviceList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool {
		return r == ':' || r == ' ' || r == '\t' || r == '\n'
	})
}

// Candidates returns the paths Scan probes, in search order: the Extra
// entries (globs expanded, sorted), then DevDir/mapper/*, then the devices
// of ProcPartitions that have no holders (a device held by another, such
// as a multipath leg or a device-mapper table's member, loses to its
// holder). A path already listed, or resolving to a listed path, is left
// out. Only errors in the lists themselves are returned: a bad glob, an
// unreadable ProcPartitions.
func Candidates(opts ScanOptions) ([]string, error) {
	opts = opts.withDefaults()
	var (
		paths []string
		errs  []error
		seen  = map[string]bool{}
	)
	add := func(p string) {
		p = filepath.Clean(p)
		if seen[p] {
			return
		}
		seen[p] = true
		if r, err := filepath.EvalSymlinks(p); err == nil && r != p {
			if seen[r] {
				return
			}
			seen[r] = true
		}
		paths = append(paths, p)
	}
	for _, e := range opts.Extra {
		if !hasMeta(e) {
			add(e)
			continue
		}
		m, err := filepath.Glob(e)
		if err != nil {
			errs = append(errs, fmt.Errorf("device pattern %q: %w", e, err))
			continue
		}
		for _, p := range m { // Glob sorts
			add(p)
		}
	}
	mapper, err := filepath.Glob(filepath.Join(opts.DevDir, "mapper", "*"))
	if err == nil {
		for _, p := range mapper {
			if filepath.Base(p) == "control" {
				continue
			}
			// udev makes /dev/mapper/NAME a link to ../dm-N: the
			// holder rule applies to dm-N.
			if r, err := filepath.EvalSymlinks(p); err == nil &&
				hasHolders(filepath.Join(opts.SysBlock, filepath.Base(r), "holders")) {
				continue
			}
			add(p)
		}
	}
	names, err := partitions(opts.ProcPartitions)
	if err != nil {
		errs = append(errs, err)
	}
	for _, n := range names {
		sysName := strings.ReplaceAll(n, "/", "!")
		if hasHolders(filepath.Join(opts.SysBlock, sysName, "holders")) {
			continue
		}
		add(filepath.Join(opts.DevDir, n))
	}
	return paths, errors.Join(errs...)
}

func hasMeta(p string) bool { return strings.ContainsAny(p, `*?[\`) }

// partitions returns the device names of a /proc/partitions file, in its
// order, leaving out devices of size 0.
func partitions(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading the device list: %w", err)
	}
	defer f.Close()
	var names []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		// major minor #blocks name; a header line and blank lines.
		fields := strings.Fields(s.Text())
		if len(fields) != 4 {
			continue
		}
		blocks, err := strconv.ParseUint(fields[2], 10, 64)
		if err != nil || blocks == 0 {
			continue
		}
		if _, err := strconv.ParseUint(fields[0], 10, 32); err != nil {
			continue
		}
		names = append(names, fields[3])
	}
	if err := s.Err(); err != nil {
		return names, fmt.Errorf("reading %s: %w", path, err)
	}
	return names, nil
}

// hasHolders reports whether a sysfs holders directory lists any device.
func hasHolders(dir string) bool {
	d, err := os.Open(dir)
	if err != nil {
		return false
	}
	defer d.Close()
	names, _ := d.Readdirnames(1)
	return len(names) > 0
}

// Scan returns every OCFS2 volume found, in the search order of
// Candidates. Paths that do not exist, are not block devices or regular
// files, or cannot be read, are not volumes: they are skipped. The error
// reports problems with the lists searched, and the devices that did not
// answer within the timeout (ErrNoAnswer); the volumes found are
// returned with it.
func Scan(opts ScanOptions) ([]Found, error) {
	paths, err := Candidates(opts)
	got := probeAll(modeScan, paths, opts.Timeout, nil)
	var found []Found
	for i, r := range got {
		if r == nil {
			continue
		}
		if sb, err := r.superblock(); err == nil && !r.Skip {
			found = append(found, Found{UUID: sb.UUID, Device: paths[i], Label: sb.Label})
		}
	}
	return found, errors.Join(err, noAnswer(paths, got, opts.Timeout))
}

// FindByUUID returns the first device, in the search order of Candidates,
// holding the OCFS2 volume uuid (any case, dashes allowed), among those
// that answer within the timeout. It returns as soon as the devices before
// the first match have answered. When the volume is found only after a
// device that did not answer, that device is reported to opts.Warn; when
// it is not found, the error names the devices that did not answer.
func FindByUUID(uuid string, opts ScanOptions) (string, error) {
	u, err := NormalizeUUID(uuid)
	if err != nil {
		return "", err
	}
	paths, listErr := Candidates(opts)
	match := func(r *result) bool {
		if r == nil || r.Skip {
			return false
		}
		sb, err := r.superblock()
		return err == nil && sb.UUID == u
	}
	// Done once every device up to a match has answered.
	got := probeAll(modeScan, paths, opts.Timeout, func(got []*result) bool {
		for _, r := range got {
			if r == nil {
				return false
			}
			if match(r) {
				return true
			}
		}
		return false
	})
	for i, r := range got {
		if match(r) {
			// Only the devices before it matter: the search stops there.
			if hung := noAnswer(paths[:i], got[:i], opts.Timeout); hung != nil && opts.Warn != nil {
				opts.Warn(fmt.Errorf("volume %s found on %s, but %w", u, paths[i], hung))
			}
			return paths[i], nil
		}
	}
	return "", &SearchError{UUID: u, Searched: len(paths), Err: errors.Join(noAnswer(paths, got, opts.Timeout), listErr)}
}

// SearchError is a search by UUID that found no device holding the
// volume. It is ErrUUIDNotFound for errors.Is, and whatever went wrong on
// the way (ErrNoAnswer of a device, a failed listing) too.
type SearchError struct {
	UUID     string // the volume searched for
	Searched int    // how many devices were searched
	Err      error  // what went wrong on the way; nil if nothing did
}

// Error names the volume, then says what Reason says.
func (e *SearchError) Error() string {
	return e.text(fmt.Sprintf("%v: %s (%d devices searched)", ErrUUIDNotFound, e.UUID, e.Searched))
}

// Reason is the error without the volume's UUID, for a caller that names
// the region itself.
func (e *SearchError) Reason() string {
	return e.text(fmt.Sprintf("%v (%d devices searched)", ErrUUIDNotFound, e.Searched))
}

func (e *SearchError) text(head string) string {
	if e.Err == nil {
		return head
	}
	return head + "\n" + e.Err.Error()
}

func (e *SearchError) Unwrap() []error { return []error{ErrUUIDNotFound, e.Err} }
