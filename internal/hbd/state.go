package hbd

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
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
		err = writeFileAtomic(filepath.Join(d.cfg.RunDir, StateName), append(b, '\n'), 0o600)
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

// writeFileAtomic replaces path with data: a temporary file in the same
// directory, fsync, rename, fsync of the directory. Readers see the old
// or the new content, never a mix.
func writeFileAtomic(path string, data []byte, perm os.FileMode) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(perm); err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
