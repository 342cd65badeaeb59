package hbd

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/o2cb-ra/o2cb-ra/internal/atomicfile"
)

// StateName is the state file's name in the run directory.
const StateName = "state.json"

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
		err = atomicfile.WriteFile(filepath.Join(d.cfg.RunDir, StateName), append(b, '\n'), 0o600)
	}
	if err != nil {
		d.log.Error("could not save the daemon state", "err", err)
	}
	d.saveErr = err
}

// loadState reads the state file; a missing file is an empty state.
func loadState(path string) (stateFile, error) {
	var st stateFile
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("%s: %w", path, err)
	}
	if st.Version != 1 {
		return st, fmt.Errorf("%s: state version %d, want 1", path, st.Version)
	}
	for _, r := range st.Regions {
		for o, n := range r.Owners {
			if err := ValidOwner(o); err != nil || n < 1 {
				return st, fmt.Errorf("%s: region %s: bad owner %q with %d references", path, r.UUID, o, n)
			}
		}
	}
	return st, nil
}
