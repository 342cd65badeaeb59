package hbregion

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/o2cb-ra/o2cb-ra/agents/layout"
	"github.com/o2cb-ra/o2cb-ra/agents/params"
	"github.com/o2cb-ra/o2cb-ra/agents/reason"
	"github.com/o2cb-ra/o2cb-ra/internal/o2cbfs"
	"github.com/o2cb-ra/o2cb-ra/internal/ocf"
	"github.com/o2cb-ra/o2cb-ra/internal/ocfs2"
	"github.com/o2cb-ra/o2cb-ra/internal/rundir"
)

// kernelBackend reports whether this resource's region runs in the
// kernel: heartbeat_backend=kernel, or auto with the kernel's cluster
// registered (by the o2cb resource this one is ordered after).
func (a agent) kernelBackend(c *ocf.Context) (bool, error) {
	switch c.Params.String(params.BackendParam.Name) {
	case params.Kernel:
		return true, nil
	case params.Auto:
		have, err := a.host.Kernel.Registered()
		if err != nil {
			return false, ocf.Errorf(ocf.ErrGeneric, "kernel o2cb stack: %v", err)
		}
		return have != nil, nil
	}
	return false, nil
}

// holdPath is the record that this resource holds a reference on its
// kernel region: the kernel counts references, not whose they are, and a
// repeated stop must not drop another user's.
func (r *region) holdPath() string {
	return filepath.Join(r.daemon.RunDir, "kernel-hold."+r.uuid+"."+strings.NewReplacer("/", "_", ":", "_").Replace(r.owner))
}

func (r *region) holds() bool {
	_, err := os.Stat(r.holdPath())
	return err == nil
}

// startKernel starts the region in the kernel for this resource: in
// local heartbeat mode one more reference, counted as mount.ocfs2 counts
// them; in global mode the region itself.
func (a agent) startKernel(c *ocf.Context, r *region) error {
	k := a.host.Kernel
	if reg, err := k.Region(r.uuid); err == nil && reg.Started() && r.holds() {
		return nil
	}
	mode, err := k.Mode()
	if err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "kernel o2cb stack: %v (start the o2cb resource first)", err)
	}
	v, err := ocfs2.OpenRegion(r.uuid, r.device, layout.ScanOptions(c, r.devices), 0)
	var se *ocfs2.SearchError
	switch {
	case errors.As(err, &se):
		return layout.SearchError("region %s: %v", err, r.uuid)
	case errors.Is(err, ocfs2.ErrOtherVolume):
		return ocf.Errorf(ocf.ErrConfigured, "region %s: %v", r.uuid, err)
	case err != nil:
		return ocf.Errorf(ocf.ErrGeneric, "region %s: %v", r.uuid, err)
	}
	dev := v.Path
	if err := rundir.PrepareRunDir(r.daemon.RunDir); err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "%v", err)
	}
	// The record first: a start killed after the kernel's start leaves a
	// record that stop then honours.
	if err := os.WriteFile(r.holdPath(), []byte(dev+"\n"), 0o600); err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "%v", err)
	}
	if mode == "global" {
		err = k.StartRegion(r.uuid, dev, v.Heartbeat.Geometry)
	} else {
		err = k.Join(r.uuid, dev, v.Heartbeat.Geometry, true)
	}
	if err != nil {
		os.Remove(r.holdPath())
		return ocf.Errorf(ocf.ErrGeneric, "kernel backend: region %s", reason.Region(r.uuid, err.Error()))
	}
	c.Log.Info("heartbeat region started in the kernel", "region", r.uuid, "device", dev, "mode", mode)
	return nil
}

// stopKernel gives back what startKernel took; without the record it
// has nothing to give back. A region a mounted volume uses fails the
// stop with the kernel's answer.
func (a agent) stopKernel(c *ocf.Context, r *region) error {
	if !r.holds() {
		return nil
	}
	k := a.host.Kernel
	mode, err := k.Mode()
	if errors.Is(err, o2cbfs.ErrNoStack) {
		return r.dropHold()
	}
	if err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "kernel o2cb stack: %v", err)
	}
	if mode == "global" {
		err = k.StopRegion(r.uuid)
	} else {
		_, err = k.Leave(r.uuid, true)
	}
	if err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "kernel backend: region %s", reason.Region(r.uuid, err.Error()))
	}
	return r.dropHold()
}

func (r *region) dropHold() error {
	if err := os.Remove(r.holdPath()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return ocf.Errorf(ocf.ErrGeneric, "%v", err)
	}
	return nil
}

// monitorKernel: running when this resource holds the region and the
// kernel's thread runs it; failed when the kernel's own view (debugfs)
// lacks this node.
func (a agent) monitorKernel(c *ocf.Context, r *region) error {
	if !r.holds() {
		return ocf.Errorf(ocf.NotRunning, "region %s not started by %s", r.uuid, r.owner)
	}
	k := a.host.Kernel
	reg, err := k.Region(r.uuid)
	if err != nil || !reg.Started() {
		return ocf.Errorf(ocf.ErrGeneric, "region %s: no kernel heartbeat thread runs it", reason.Short(r.uuid))
	}
	if err := a.loadView(c, r); err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "region %s runs, but: %v", reason.Short(r.uuid), err)
	}
	if live, ok := k.LiveNodes(r.uuid); ok && !slices.Contains(live, r.view.Node.Number) {
		return ocf.Errorf(ocf.ErrGeneric, "region %s: the kernel does not see this node (%d) live: %v", reason.Short(r.uuid), r.view.Node.Number, live)
	}
	return nil
}
