// Package hbregion is the OCF agent ocf:ocfs2:hbregion: one heartbeat
// region of this node, owned by its Pacemaker resource instance, in the
// node's heartbeat daemon (which the o2cb resource runs).
package hbregion

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/o2cb-ra/o2cb-ra/agents/clusterview"
	"github.com/o2cb-ra/o2cb-ra/agents/daemonctl"
	"github.com/o2cb-ra/o2cb-ra/agents/host"
	"github.com/o2cb-ra/o2cb-ra/agents/layout"
	"github.com/o2cb-ra/o2cb-ra/agents/params"
	"github.com/o2cb-ra/o2cb-ra/agents/reason"
	"github.com/o2cb-ra/o2cb-ra/internal/clusterconf"
	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
	"github.com/o2cb-ra/o2cb-ra/internal/ocf"
	"github.com/o2cb-ra/o2cb-ra/internal/ocfs2"
)

// Agent is ocf:ocfs2:hbregion on this machine, declared on first use: an
// action of the other agent does not build this one's parameters.
var Agent = sync.OnceValue(func() *ocf.Agent { return New(host.OS()) })

// agent is ocf:ocfs2:hbregion on a host.
type agent struct{ host host.Host }

// New is ocf:ocfs2:hbregion with h as the machine it runs on.
func New(h host.Host) *ocf.Agent {
	a := agent{host: h}
	return &ocf.Agent{
		Name:    "hbregion",
		Version: "1.0",
		Short:   "one o2cb disk heartbeat region",
		Long: `Heartbeats on one region (an OCFS2 volume's heartbeat area, named by the
volume's UUID) as this node, in the node's heartbeat daemon, which the
ocf:ocfs2:o2cb resource runs: order this resource after it.

In global heartbeat mode, a region of cluster.conf is started by the o2cb
resource itself unless that resource has manage_regions=false; starting such a
region here fails with a configuration error.

With the kernel backend (heartbeat_backend=kernel, or auto when the o2cb
resource has registered the cluster in the kernel) the region runs in the
kernel: in local heartbeat mode as one more reference, counted as
ocfs2-tools' mount.ocfs2 counts its own.`,
		// A region runs once per daemon: uuid and run_dir are unique together
		// (many regions share the o2cb resource's run_dir).
		Params: append(params.Shared("region"),
			ocf.Param{Name: "uuid", Type: ocf.String, Required: true, UniqueGroup: "region",
				Short: "region UUID", Check: func(s string) error { _, err := ocfs2.NormalizeUUID(s); return err },
				Long: "UUID of the region: the OCFS2 volume's UUID, in any case, dashes allowed (as blkid or tunefs.ocfs2 -Q '%U' print it)."},
			ocf.Param{Name: "device", Type: ocf.String, Short: "the region's device",
				Long: "Device (or image file) of the region. Empty: found by UUID (see devices). Its UUID is checked before the first write."},
			ocf.Param{Name: "layout", Type: ocf.String, Default: clusterconf.DefaultLayout, Short: "layout driver",
				Long: "Layout of the region: the layout driver <layout>_hb_ctl maps the UUID to the resource. The ocfs2 layout is served by the heartbeat daemon directly; another layout is started with <layout>_hb_ctl -S -u UUID pacemaker:<instance>."},
		),
		Actions: []ocf.Action{
			{Name: "start", Timeout: 90 * time.Second, Run: a.start},
			{Name: "stop", Timeout: 100 * time.Second, Run: a.stop},
			{Name: "monitor", Timeout: 20 * time.Second, Interval: 10 * time.Second, Run: a.monitor},
			{Name: "monitor", Timeout: 30 * time.Second, Interval: 30 * time.Second, Depth: 10, Run: a.monitor},
			{Name: "meta-data", Timeout: 5 * time.Second, NoParams: true},
			{Name: "validate-all", Timeout: 30 * time.Second, Run: a.validate},
		},
		Example: &ocf.Example{Resource: "hb-data", Params: []string{"uuid=C213A5E1913B4A38A17101E81BDC2267"}, Clone: true, OnFail: "fence"},
		SeeAlso: []string{"ocf_ocfs2_o2cb(7)", "o2cb-ra(8)", "o2cb-ra-ocfs2_hb_ctl(8)", "tunefs.ocfs2(8)"},
	}
}

// region is what an action works on.
type region struct {
	daemon  *daemonctl.Daemon
	devices string
	view    *clusterview.View // nil until loadView
	uuid    string
	device  string
	owner   string
	layout  string
}

// newRegion is the region of the parameters, before cluster.conf is read.
func newRegion(c *ocf.Context) (*region, error) {
	uuid, _ := ocfs2.NormalizeUUID(c.Params.String("uuid")) // checked with the parameters
	r := &region{daemon: daemonctl.New(c.Params.String("run_dir")), devices: c.Params.String("devices"),
		uuid: uuid, device: c.Params.String("device"), layout: c.Params.String("layout")}
	instance := c.Instance
	if instance == "" {
		instance = "hbregion-" + uuid
	}
	r.owner = "pacemaker:" + instance
	if r.layout != clusterconf.DefaultLayout {
		if _, err := layout.Find(r.layout); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// loadView reads cluster.conf into r.
func (a agent) loadView(c *ocf.Context, r *region) error {
	v, err := clusterview.Load(c, a.host.HostName)
	if err != nil {
		return err
	}
	r.view = v
	return nil
}

// load is newRegion with cluster.conf read and the device checked, for
// validate-all and start.
func (a agent) load(c *ocf.Context) (*region, error) {
	r, err := newRegion(c)
	if err != nil {
		return nil, err
	}
	if err := a.loadView(c, r); err != nil {
		return nil, err
	}
	if r.device != "" {
		if _, err := os.Stat(r.device); err != nil {
			return nil, ocf.Errorf(ocf.ErrInstalled, "device %s: %v", r.device, err)
		}
	}
	return r, nil
}

func (a agent) validate(c *ocf.Context) error {
	r, err := a.load(c)
	if err != nil {
		return err
	}
	if c.CheckLevel < 10 {
		return nil
	}
	dev := r.device
	if dev == "" {
		if dev, err = ocfs2.FindByUUID(r.uuid, layout.ScanOptions(c, r.devices)); err != nil {
			return layout.SearchError("%v", err)
		}
	}
	sb, err := ocfs2.Probe(dev)
	if err != nil {
		return ocf.Errorf(ocf.ErrConfigured, "%v", err)
	}
	if sb.UUID != r.uuid {
		return ocf.Errorf(ocf.ErrConfigured, "device %s holds volume %s, not %s", dev, sb.UUID, r.uuid)
	}
	// The write timeout of the node's daemon, else the kernel's default
	// (dead threshold 31 at 2 s).
	limit := 60 * time.Second
	if st, err := r.daemon.Client.Status(c); err == nil && st.IntervalMS > 0 && st.DeadThreshold > 1 {
		limit = time.Duration(st.DeadThreshold-1) * time.Duration(st.IntervalMS) * time.Millisecond
	}
	layout.WarnSlowStorage(c, r.uuid, dev, limit)
	return nil
}

// daemonError maps a daemon answer to an OCF error. An answer about a
// region names it, by its short form; any other is about this
// resource's region, named in full.
func daemonError(r *region, err error) error {
	code := ocf.ErrGeneric
	switch {
	case errors.Is(err, hbclient.ErrNotRunning):
		return ocf.Errorf(ocf.ErrGeneric, "%v", err)
	case errors.Is(err, hbclient.ErrCode(hbclient.CodeGlobalOwned)), errors.Is(err, hbclient.ErrCode(hbclient.CodeDeviceMismatch)),
		errors.Is(err, hbclient.ErrCode(hbclient.CodeUnknownRegion)), errors.Is(err, hbclient.ErrCode(hbclient.CodeConfig)),
		errors.Is(err, hbclient.ErrCode(hbclient.CodeLimit)):
		code = ocf.ErrConfigured
	}
	if uuid, msg, ok := reason.DaemonError(err); ok {
		return ocf.Errorf(code, "region %s", reason.Region(uuid, msg))
	}
	return ocf.Errorf(code, "region %s: %v", r.uuid, err)
}

// driver runs the layout driver of a region of another layout than
// ocfs2 with action (-S or -K) for this resource's owner.
func (r *region) driver(c *ocf.Context, action string) error {
	driver, _ := layout.Find(r.layout)
	env := layout.Env(c.Env, r.daemon.RunDir, r.devices)
	if err := layout.Run(c, driver, env, action, r.uuid, r.owner); err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "%v", err)
	}
	return nil
}

func (a agent) start(c *ocf.Context) error {
	if err := a.host.RequireRoot(c); err != nil {
		return err
	}
	r, err := a.load(c)
	if err != nil {
		return err
	}
	if r.layout != clusterconf.DefaultLayout {
		return r.driver(c, "-S")
	}
	if kernel, err := a.kernelBackend(c); err != nil {
		return err
	} else if kernel {
		return a.startKernel(c, r)
	}
	// The daemon may be down for a moment: it died, and this resource's
	// monitor noticed before the o2cb clone's.
	if err := r.daemon.Need(c); err != nil {
		return err
	}
	dev := r.device
	if dev == "" {
		// Search this resource's devices first; failing that, the daemon
		// searches its own list.
		dev, _ = ocfs2.FindByUUID(r.uuid, layout.ScanOptions(c, r.devices))
	}
	if _, err := r.daemon.Client.Do(c, hbclient.Request{Op: hbclient.OpStart, UUID: r.uuid, Device: dev, Owner: r.owner}); err != nil {
		return daemonError(r, err)
	}
	c.Log.Info("heartbeat region started", "region", r.uuid)
	return nil
}

// stop works from what runs: this resource's reference in the daemon of
// run_dir, whatever cluster.conf says.
func (a agent) stop(c *ocf.Context) error {
	if err := a.host.RequireRoot(c); err != nil {
		return err
	}
	r, err := newRegion(c)
	if err != nil {
		// Without its layout driver, nothing of this resource can run.
		if code := ocf.CodeOf(err); code == ocf.ErrInstalled {
			return nil
		}
		return err
	}
	if r.layout != clusterconf.DefaultLayout {
		return r.driver(c, "-K")
	}
	if r.holds() {
		return a.stopKernel(c, r)
	}
	err = r.daemon.StopRegion(c, r.uuid, r.owner)
	switch {
	case err == nil, errors.Is(err, hbclient.ErrNotRunning), errors.Is(err, hbclient.ErrCode(hbclient.CodeUnknownRegion)),
		errors.Is(err, hbclient.ErrCode(hbclient.CodeNotOwner)):
		return nil
	}
	return daemonError(r, err)
}

// monitor tells what runs first (no daemon, or no reference of this
// resource, is OCF_NOT_RUNNING whatever cluster.conf says), then judges a
// running region against this node's configuration.
func (a agent) monitor(c *ocf.Context) error {
	r, err := newRegion(c)
	if err != nil {
		if ocf.CodeOf(err) == ocf.ErrInstalled {
			return ocf.Errorf(ocf.NotRunning, "%v", err)
		}
		return err
	}
	if r.layout == clusterconf.DefaultLayout {
		if r.holds() {
			return a.monitorKernel(c, r)
		}
		if kernel, err := a.kernelBackend(c); err != nil {
			return err
		} else if kernel {
			return ocf.Errorf(ocf.NotRunning, "region %s not started by %s", r.uuid, r.owner)
		}
	}
	st, err := r.daemon.MonitorStatus(c)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(st.Regions, func(x hbclient.RegionStatus) bool { return x.UUID == r.uuid })
	if i < 0 {
		return ocf.Errorf(ocf.NotRunning, "region %s not running", r.uuid)
	}
	rs := st.Regions[i]
	if r.layout == clusterconf.DefaultLayout && !rs.HasOwner(r.owner) {
		return ocf.Errorf(ocf.NotRunning, "region %s runs, but not for %s", r.uuid, r.owner)
	}
	if err := a.loadView(c, r); err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "region %s runs, but: %v", reason.Short(r.uuid), err)
	}
	// The cause first, the region by 8 hex digits: Pacemaker keeps 128
	// characters of an exit reason. The error names the device.
	err = daemonctl.Lost(rs, daemonctl.Self(st), c.CheckLevel, time.Duration(st.IntervalMS)*time.Millisecond)
	var ns *daemonctl.NotSeen
	switch {
	case errors.As(err, &ns):
		msg := fmt.Sprintf("region %s is %s, own heartbeat not seen", reason.Short(r.uuid), ns.State)
		if ns.Err != "" {
			msg += ": " + ns.Err
		}
		return ocf.Errorf(ocf.ErrGeneric, "%s", msg)
	case err != nil:
		// At depth 10: the daemon has not read this node's slot back
		// recently, as a hung device shows long before the write
		// timeout fails the region.
		return ocf.Errorf(ocf.ErrGeneric, "region %s", reason.Region(r.uuid, err.Error()))
	}
	return nil
}
