package hbd

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/o2cb-ra/o2cb-ra/internal/atomicfile"
	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
	"github.com/o2cb-ra/o2cb-ra/internal/ocfs2"
	"github.com/o2cb-ra/o2cb-ra/internal/rundir"
)

// maxStateBytes bounds the state file read: thousands of regions with
// their owners fit in a few MiB.
const maxStateBytes = 16 << 20

// stateFile is what the daemon persists: every region with its owners, so
// that a restarted daemon resumes them.
type stateFile struct {
	Version int           `json:"version"`
	Regions []stateRegion `json:"regions"`
}

type stateRegion struct {
	UUID   string         `json:"uuid"`
	Device string         `json:"device"`
	Owners map[string]int `json:"owners"`
}

// resume starts every region of the state file with its owners, each in
// the background with a new generation.
func (d *Daemon) resume() error {
	st, err := loadState(filepath.Join(d.cfg.RunDir, rundir.StateName))
	if err != nil {
		return err
	}
	for _, sr := range st.Regions {
		spec, err := d.resolve(sr.UUID, sr.Device)
		if err != nil {
			// The device may have moved: search by UUID.
			if spec, err = d.resolve(sr.UUID, ""); err != nil {
				d.log.Error("cannot resume region", "region", sr.UUID, "device", sr.Device, "err", err)
				continue
			}
		}
		d.mu.Lock()
		r := &region{uuid: sr.UUID, device: spec.Device, spec: spec, owners: sr.Owners}
		d.regions[sr.UUID] = r
		d.ensureRunning(r)
		d.mu.Unlock()
		d.log.Info("resuming region", "region", sr.UUID, "device", spec.Device, "owners", ownerList(sr.Owners))
	}
	d.mu.Lock()
	d.saveLocked()
	d.mu.Unlock()
	return nil
}

// saveLocked writes the state file atomically. d.mu held. A failure is
// logged and kept for status; the regions run on.
func (d *Daemon) saveLocked() {
	st := stateFile{Version: 1, Regions: []stateRegion{}}
	for _, uuid := range slices.Sorted(maps.Keys(d.regions)) {
		r := d.regions[uuid]
		st.Regions = append(st.Regions, stateRegion{UUID: r.uuid, Device: r.device, Owners: maps.Clone(r.owners)})
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err == nil {
		err = atomicfile.WriteFile(filepath.Join(d.cfg.RunDir, rundir.StateName), append(b, '\n'), 0o600)
	}
	if err != nil {
		d.log.Error("could not save the daemon state", "err", err)
	}
	d.saveErr = err
}

// ErrUnsafeState: the state file is a symlink, not a regular file, not
// ours, or writable by group or others. The daemon does not read it.
var ErrUnsafeState = errors.New("unsafe state file")

// loadState reads the state file; a missing file is an empty state. It
// never follows a symlink: one planted there is ErrUnsafeState.
func loadState(path string) (stateFile, error) {
	var st stateFile
	f, err := rundir.OpenOwn(path, "state file", os.O_RDONLY, 0, ErrUnsafeState)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxStateBytes+1))
	if err != nil {
		return st, fmt.Errorf("%s: %w", path, err)
	}
	if len(b) > maxStateBytes {
		return st, fmt.Errorf("%s: over %d bytes: not a state file of this daemon", path, maxStateBytes)
	}
	return decodeState(path, b)
}

// decodeState decodes and checks the content b of the state file path.
func decodeState(path string, b []byte) (stateFile, error) {
	var st stateFile
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("%s: %w", path, err)
	}
	if st.Version != 1 {
		return st, fmt.Errorf("%s: state version %d, want 1", path, st.Version)
	}
	seen := map[string]bool{}
	for _, r := range st.Regions {
		if u, err := ocfs2.NormalizeUUID(r.UUID); err != nil || u != r.UUID || seen[u] {
			return st, fmt.Errorf("%s: region %q: not a UUID of 32 upper-case hex digits, or listed twice", path, r.UUID)
		}
		seen[r.UUID] = true
		for o, n := range r.Owners {
			if err := hbclient.ValidOwner(o); err != nil || n < 1 {
				return st, fmt.Errorf("%s: region %s: bad owner %q with %d references", path, r.UUID, o, n)
			}
		}
	}
	return st, nil
}
