package hbd

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"math/bits"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/clusterconf"
	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
	"github.com/o2cb-ra/o2cb-ra/internal/hbdisk"
	"github.com/o2cb-ra/o2cb-ra/internal/ocfs2"
	"github.com/o2cb-ra/o2cb-ra/internal/retry"
	"github.com/o2cb-ra/o2cb-ra/internal/rundir"
)

// Config is the daemon's configuration; zero fields take the defaults.
type Config struct {
	RunDir        string        // socket, pid file, state; DefaultRunDir
	ClusterConf   string        // clusterconf.DefaultPath
	Cluster       string        // cluster name; "" for the only cluster
	NodeName      string        // this node's name; "" matches the host name
	Interval      time.Duration // heartbeat interval; hbdisk.DefaultInterval
	DeadThreshold int           // iterations; hbdisk.DefaultDeadThreshold
	Devices       []string      // paths or globs searched first for a UUID
	Logger        *slog.Logger  // nil: discard
	// Retry spaces the retries of a failed cluster region (recover.go);
	// zero fields take retry.DefaultFirst and retry.DefaultMax.
	Retry retry.Backoff
	// Open opens a region's device for heartbeat I/O; nil:
	// hbdisk.OpenDirect. Tests put faults in front of it.
	Open func(path string) (hbdisk.Device, error)
}

// MaxGlobalRegions is the kernel's limit of regions in global mode, kept
// so that kernel nodes can share the cluster.
const MaxGlobalRegions = hbdisk.MaxRegions

// Daemon is the node's heartbeat daemon: its regions and their owners.
type Daemon struct {
	cfg     Config
	log     *slog.Logger
	cluster string
	mode    clusterconf.Mode
	global  map[string]bool // regions of cluster.conf, in global mode
	node    clusterconf.Node
	nodes   []int

	mu       sync.Mutex
	regions  map[string]*region
	stopping bool
	saveErr  error
	quit     chan struct{} // closed when the daemon stops

	epoch time.Time // origin of the regions' phase grids
}

// Phases is how many phases of the interval the daemon can place its
// regions on. Regions of one phase tick together and share the wake-ups
// of the runtime, which are most of a region's CPU cost besides its
// device calls; regions of different phases do not queue behind each
// other. A new region joins the first phase with room (PhaseShare), and
// phases are taken in an order that keeps those in use evenly spread:
// 0, 1/2, 1/4, 3/4, 1/8... of the interval.
const Phases = 64

// PhaseShare is the time of the interval a region of a phase counts for:
// a phase holds interval/PhaseShare regions, all 32 regions of a
// 2 s interval, 25 of a 200 ms interval. An iteration costs 0.1 to 0.3 ms
// of CPU and device time, so that a phase's iterations are done within a
// few percent of the interval.
const PhaseShare = 8 * time.Millisecond

// region is one heartbeat region with its owners.
type region struct {
	uuid   string
	device string
	vol    *ocfs2.Volume
	owners map[string]int // owner -> references
	eng    *hbdisk.Region // nil before the first start
	phase  int            // of Phases, once started
	// starting is closed when the current engine start has ended;
	// startErr is its result.
	starting chan struct{}
	startErr error
	// failure is why the last engine failed, until a start succeeds:
	// status names it while the region restarts.
	failure string
	// retry is the daemon retrying the failed region by itself; nil
	// when it does not.
	retry *retrying
}

func (r *region) refs() int {
	n := 0
	for _, c := range r.owners {
		n += c
	}
	return n
}

// New reads cluster.conf and returns a daemon for this node; it starts
// nothing yet (see Serve).
func New(cfg Config) (*Daemon, error) {
	if cfg.RunDir == "" {
		cfg.RunDir = rundir.DefaultRunDir
	}
	if cfg.ClusterConf == "" {
		cfg.ClusterConf = clusterconf.DefaultPath
	}
	if cfg.Interval == 0 {
		cfg.Interval = hbdisk.DefaultInterval
	}
	if cfg.DeadThreshold == 0 {
		cfg.DeadThreshold = hbdisk.DefaultDeadThreshold
	}
	if err := hbdisk.CheckDeadThreshold(cfg.DeadThreshold); err != nil {
		return nil, err
	}
	if err := hbdisk.CheckInterval(cfg.Interval); err != nil {
		return nil, err
	}
	cfg.Retry = cfg.Retry.WithDefaults()
	if err := cfg.Retry.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &Daemon{cfg: cfg, log: log, regions: map[string]*region{}, global: map[string]bool{}, epoch: time.Now(), quit: make(chan struct{})}
	if err := d.loadClusterConf(); err != nil {
		return nil, err
	}
	return d, nil
}

// clusterView is what the daemon takes from cluster.conf.
type clusterView struct {
	cluster string
	mode    clusterconf.Mode
	node    clusterconf.Node
	nodes   []int
	global  map[string]bool // regions of cluster.conf, in global mode
}

// readClusterConf reads the cluster, this node and, in global mode, the
// configured regions.
func (d *Daemon) readClusterConf() (clusterView, error) {
	var v clusterView
	cc, err := clusterconf.Load(d.cfg.ClusterConf)
	if err != nil {
		return v, err
	}
	cl, err := cc.Cluster(d.cfg.Cluster)
	if err != nil {
		return v, err
	}
	hb, err := cl.Heartbeat()
	if err != nil {
		return v, err
	}
	if d.cfg.NodeName != "" {
		v.node, err = cl.Node(d.cfg.NodeName)
	} else {
		host, herr := os.Hostname()
		if herr != nil {
			return v, fmt.Errorf("host name: %w", herr)
		}
		v.node, err = cl.LocalNode(host)
	}
	if err != nil {
		return v, err
	}
	for _, n := range cl.Nodes() {
		v.nodes = append(v.nodes, n.Number)
	}
	slices.Sort(v.nodes)
	v.cluster, v.mode, v.global = cl.Name(), hb.Mode, map[string]bool{}
	for _, r := range hb.Regions {
		v.global[r.UUID] = true
	}
	return v, nil
}

func (d *Daemon) loadClusterConf() error {
	v, err := d.readClusterConf()
	if err != nil {
		return err
	}
	d.cluster, d.mode, d.node, d.nodes, d.global = v.cluster, v.mode, v.node, v.nodes, v.global
	return nil
}

// Reload re-reads cluster.conf online. The cluster, this node's number and
// the heartbeat mode may change only while no region runs; the list of
// global regions and the configured nodes may change at any time (running
// regions keep the nodes they started with until they restart).
func (d *Daemon) Reload() error {
	v, err := d.readClusterConf()
	if err != nil {
		return mark(ErrConfig, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.regions) > 0 && (v.cluster != d.cluster || v.mode != d.mode || v.node.Number != d.node.Number) {
		return fail(ErrConfig, "cluster.conf changes cluster, heartbeat mode or this node's number (%s/%s/%d to %s/%s/%d) while regions run: stop the cluster first",
			d.cluster, d.mode, d.node.Number, v.cluster, v.mode, v.node.Number)
	}
	d.cluster, d.mode, d.node, d.nodes, d.global = v.cluster, v.mode, v.node, v.nodes, v.global
	d.log.Info("cluster.conf reloaded", "cluster", d.cluster, "mode", d.mode, "regions", len(d.global))
	return nil
}

// normalizeOrBad normalizes a region UUID or returns an ErrBadRequest.
func normalizeOrBad(uuid string) (string, error) {
	u, err := ocfs2.NormalizeUUID(uuid)
	if err != nil {
		return "", mark(ErrBadRequest, err)
	}
	return u, nil
}

// StartRegion adds a reference of owner to region uuid, starting the
// region if needed, and returns once it is steady. device may be empty:
// the region's device is then found by UUID. consumer marks a consumer's
// call, which changes nothing in global mode. A failed or timed-out start
// drops the reference again.
func (d *Daemon) StartRegion(ctx context.Context, uuid, device, owner string, consumer bool) (note string, err error) {
	if uuid, err = normalizeOrBad(uuid); err != nil {
		return "", err
	}
	if err := hbclient.ValidOwner(owner); err != nil {
		return "", mark(ErrBadRequest, err)
	}
	d.mu.Lock()
	mode, cluster, configured := d.mode, d.cluster, d.global[uuid]
	d.mu.Unlock()
	if mode == clusterconf.ModeGlobal && consumer {
		return fmt.Sprintf("cluster %s uses global heartbeat: region %s is the cluster's to start", cluster, uuid), nil
	}
	if owner == hbclient.OwnerGlobal && mode != clusterconf.ModeGlobal {
		return "", fail(ErrConfig, "cluster %s is in local heartbeat mode: the cluster owns no region", cluster)
	}
	if owner == hbclient.OwnerGlobal && !configured {
		return "", regionFail(uuid, ErrConfig, "not a heartbeat region of cluster %s in %s", cluster, d.cfg.ClusterConf)
	}

	d.mu.Lock()
	if d.stopping {
		d.mu.Unlock()
		return "", fail(ErrStopping, "the heartbeat daemon is stopping")
	}
	r := d.regions[uuid]
	if r != nil && r.owners[hbclient.OwnerGlobal] > 0 && strings.HasPrefix(owner, "pacemaker:") {
		d.mu.Unlock()
		return "", regionFail(uuid, ErrGlobalOwned, "started by the o2cb cluster resource (global heartbeat); set manage_regions=false on it to manage the region as its own resource")
	}
	if r == nil {
		if d.mode == clusterconf.ModeGlobal && len(d.regions) >= MaxGlobalRegions {
			d.mu.Unlock()
			return "", fail(ErrLimit, "global heartbeat allows at most %d regions", MaxGlobalRegions)
		}
		d.mu.Unlock()
		vol, err := d.resolve(uuid, device)
		if err != nil {
			return "", err
		}
		d.mu.Lock()
		if r = d.regions[uuid]; r == nil {
			r = &region{uuid: uuid, device: vol.Path, vol: vol, owners: map[string]int{}}
			d.regions[uuid] = r
		}
	} else if device != "" && !sameDevice(device, r.device) {
		d.mu.Unlock()
		vol, err := d.resolve(uuid, device)
		if err != nil {
			return "", err
		}
		d.log.Info("region requested through another path of its device", "region", uuid, "device", r.device, "requested", vol.Path)
		d.mu.Lock()
		if d.regions[uuid] != r {
			d.mu.Unlock()
			return "", regionFail(uuid, ErrStopping, "stopped meanwhile; try again")
		}
	}
	if r.eng != nil && r.eng.Status().State == hbdisk.Collision {
		msg := r.eng.Status().Err
		d.mu.Unlock()
		return "", regionFail(uuid, ErrCollision, "stopped after a collision: %s; find the other node using number %d, then stop every owner of the region and start it again", msg, d.node.Number)
	}
	// Services count references; the cluster and a Pacemaker resource
	// hold one each, so that their start and stop are idempotent.
	added := countsRefs(owner) || r.owners[owner] == 0
	if added {
		r.owners[owner]++
	}
	wait := d.ensureRunning(r)
	d.saveLocked()
	d.mu.Unlock()

	select {
	case <-wait:
	case <-ctx.Done():
		if added {
			d.dropRef(uuid, owner)
		}
		return "", regionFail(uuid, ErrNotSteady, "not steady in time on %s: %v", r.device, context.Cause(ctx))
	}
	d.mu.Lock()
	err = r.startErr
	d.mu.Unlock()
	if err != nil {
		if added {
			d.dropRef(uuid, owner)
		}
		return "", ofRegion(uuid, err)
	}
	return "", nil
}

// countsRefs reports whether an owner holds a count of references (a
// service: each mount or tool run adds one) rather than one.
func countsRefs(owner string) bool { return strings.HasPrefix(owner, "service:") }

// searchTimeout bounds the daemon's device search. The daemon need not
// answer within an agent's second, as the agents' own searches must: a
// healthy device slow under load must not be taken for a missing region.
const searchTimeout = 5 * time.Second

// resolve finds and checks the device of uuid: the given one, or the
// first found by the search of ocfs2.Scan.
func (d *Daemon) resolve(uuid, device string) (*ocfs2.Volume, error) {
	if device == "" {
		path, err := ocfs2.FindByUUID(uuid, ocfs2.ScanOptions{Extra: d.cfg.Devices, Timeout: searchTimeout})
		if errors.Is(err, ocfs2.ErrNoAnswer) {
			// A device that did not answer may hold the region: that is
			// trouble of the device, not of the configuration.
			return nil, mark(ErrIO, err)
		}
		if err != nil {
			return nil, mark(ErrUnknownRegion, err)
		}
		device = path
	}
	if !filepath.IsAbs(device) {
		return nil, fail(ErrBadRequest, "device %q: give an absolute path (the daemon runs in /)", device)
	}
	vol, err := ocfs2.Open(device)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
			return nil, mark(ErrIO, err)
		}
		return nil, mark(ErrDeviceMismatch, err)
	}
	if vol.UUID != uuid {
		return nil, regionFail(uuid, ErrDeviceMismatch, "%s holds OCFS2 volume %s instead", device, vol.UUID)
	}
	return vol, nil
}

// sameDevice reports whether two paths name one device or file.
func sameDevice(a, b string) bool {
	if a == b {
		return true
	}
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}

// ensureRunning starts r's engine unless it is running or starting, and
// returns a channel closed when the current start has ended. d.mu held.
func (d *Daemon) ensureRunning(r *region) <-chan struct{} {
	if r.eng != nil {
		select {
		case <-r.eng.Done(): // failed or stopped: start anew
		default:
			return r.starting
		}
	}
	done := make(chan struct{})
	if r.eng != nil && stillHung(r.eng) {
		r.starting, r.startErr = done, &hbdisk.RegionError{UUID: r.uuid, Err: fmt.Errorf("device %s: %w", r.device, errHung)}
		close(done)
		return done
	}
	// A start while the daemon retries the region is a retry, owner's
	// or not: the region stays failed in status and the engine silent
	// until it is steady; startEnded says how it went.
	loud := new(atomic.Bool)
	if rt := r.retry; rt != nil {
		rt.running, rt.blocked, rt.next = true, "", time.Time{}
		rt.attempts++
	} else {
		loud.Store(true)
	}
	r.phase = d.freePhase(r)
	d.ensureProcs(r)
	cfg := d.regionConfig(r)
	cfg.Logger = slog.New(gate{d.log.Handler(), loud})
	eng, err := hbdisk.NewRegion(cfg)
	r.starting = done
	if err != nil {
		d.startEnded(r, nil, err, loud)
		close(done)
		return done
	}
	r.eng, r.startErr = eng, nil
	go func() {
		err := eng.Start(context.Background())
		d.mu.Lock()
		d.startEnded(r, eng, err, loud)
		d.mu.Unlock()
		close(done)
		if err == nil {
			go d.watch(r, eng)
		}
	}()
	return done
}

// freePhase returns the first phase with room for r, or, all full, the
// least used one. d.mu held.
func (d *Daemon) freePhase(r *region) int {
	use := d.phaseUse(r)
	room := max(1, int(d.cfg.Interval/PhaseShare))
	best := 0
	for p := range use {
		if use[p] < room {
			return p
		}
		if use[p] < use[best] {
			best = p
		}
	}
	return best
}

// phaseUse counts the started regions of each phase but except. d.mu
// held.
func (d *Daemon) phaseUse(except *region) [Phases]int {
	var use [Phases]int
	for _, o := range d.regions {
		if o != except && o.eng != nil {
			use[o.phase]++
		}
	}
	return use
}

// MaxProcs bounds the Ps (GOMAXPROCS) that ensureProcs asks for.
const MaxProcs = 64

// procHold is how long a region's device call may hold a P, as the
// daemon sizes its Ps: a read or write of an image file or a disk takes
// 0.1 to 1 ms.
const procHold = time.Millisecond

// ensureProcs makes sure that the runtime has enough Ps (GOMAXPROCS) for
// the regions of the largest phase, r's included, to begin their
// iterations within 1% of the interval. A region's loop keeps its P
// while a device call blocks, until the call returns or the runtime's
// monitor takes the P back (20 µs to 10 ms later); the regions of a
// phase become runnable at once, so that with only as many Ps as CPUs,
// those behind blocked calls began their iterations tens of milliseconds
// late (256 regions at 200 ms on 2 CPUs: p99 11% of the interval, 1.8%
// with 16 Ps). A blocked call uses no CPU, so Ps beyond the CPUs cost
// little. It only ever raises GOMAXPROCS, and leaves a GOMAXPROCS set in
// the environment alone. d.mu held.
func (d *Daemon) ensureProcs(r *region) {
	if os.Getenv("GOMAXPROCS") != "" {
		return
	}
	use := d.phaseUse(r)
	use[r.phase]++
	budget := max(d.cfg.Interval/100, time.Microsecond)
	want := min(int((time.Duration(slices.Max(use[:]))*procHold+budget-1)/budget), MaxProcs)
	if want > runtime.GOMAXPROCS(0) {
		runtime.GOMAXPROCS(want)
	}
}

// anchor is the origin of phase p's grid: phase p lies at the bit
// reversal of p (in Phases) sixty-fourths of the interval, so that the
// first n phases are spread over it evenly.
func (d *Daemon) anchor(p int) time.Time {
	return d.epoch.Add(time.Duration(bits.Reverse8(uint8(p))>>2) * d.cfg.Interval / Phases)
}

// watch logs how a running region ends and, where the policy of
// recover.go says so, restarts it.
func (d *Daemon) watch(r *region, eng *hbdisk.Region) {
	<-eng.Done()
	err := eng.Err()
	if err == nil {
		return
	}
	d.mu.Lock()
	auto := d.recoverable(r, err)
	if r.eng == eng {
		r.failure = message(r.uuid, err)
	}
	d.mu.Unlock()
	if auto {
		d.recover(r, eng)
		return
	}
	d.log.Error("heartbeat region failed; it restarts when an owner starts it again", "region", r.uuid, "device", r.device,
		"state", eng.Status().State, "err", err)
}

// regionConfig is the engine configuration of r on this node.
func (d *Daemon) regionConfig(r *region) hbdisk.Config {
	vol := r.vol
	h := vol.Heartbeat
	var open func() (hbdisk.Device, error)
	if d.cfg.Open != nil {
		path := r.device
		open = func() (hbdisk.Device, error) { return d.cfg.Open(path) }
	}
	return hbdisk.Config{
		UUID:          r.uuid,
		Device:        r.device,
		Open:          open,
		QuietEnd:      true, // watch and startEnded log how it ended
		Verify:        func(dev hbdisk.Device) error { return vol.Recheck(hbdisk.ReaderAt(dev)) },
		Geometry:      h.Geometry,
		Extent:        h.Extent,
		Node:          d.node.Number,
		Nodes:         d.nodes,
		Interval:      d.cfg.Interval,
		Anchor:        d.anchor(r.phase),
		DeadThreshold: d.cfg.DeadThreshold,
		Logger:        d.log,
	}
}

// StopRegion drops a reference of owner; the last reference gone stops
// the region with a clean-stop block.
func (d *Daemon) StopRegion(ctx context.Context, uuid, owner string, consumer bool) (note string, err error) {
	if uuid, err = normalizeOrBad(uuid); err != nil {
		return "", err
	}
	if err := hbclient.ValidOwner(owner); err != nil {
		return "", mark(ErrBadRequest, err)
	}
	d.mu.Lock()
	if d.mode == clusterconf.ModeGlobal && consumer {
		defer d.mu.Unlock()
		return fmt.Sprintf("cluster %s uses global heartbeat: region %s is the cluster's to stop", d.cluster, uuid), nil
	}
	r := d.regions[uuid]
	if r == nil {
		d.mu.Unlock()
		return "", regionFail(uuid, ErrUnknownRegion, "not running on this node")
	}
	if r.owners[owner] == 0 {
		d.mu.Unlock()
		return "", regionFail(uuid, ErrNotOwner, "%s holds no reference on the region (owners: %s)", owner, ownerList(r.owners))
	}
	d.mu.Unlock()
	return "", d.dropRef(uuid, owner)
}

// dropRef drops one reference and stops the region if it was the last.
func (d *Daemon) dropRef(uuid, owner string) error {
	d.mu.Lock()
	r := d.regions[uuid]
	if r == nil || r.owners[owner] == 0 {
		d.mu.Unlock()
		return nil
	}
	r.owners[owner]--
	if r.owners[owner] == 0 {
		delete(r.owners, owner)
	}
	if r.refs() > 0 {
		d.saveLocked()
		d.mu.Unlock()
		return nil
	}
	delete(d.regions, uuid)
	d.saveLocked()
	eng := r.eng
	if r.retry != nil {
		r.retry.wake()
		r.retry = nil
	}
	d.mu.Unlock()
	if eng == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*d.cfg.Interval+5*time.Second)
	defer cancel()
	if err := eng.Stop(ctx); err != nil {
		return mark(ErrIO, err)
	}
	d.log.Info("region stopped: no owner left", "region", uuid)
	return nil
}

func ownerList(owners map[string]int) string {
	if len(owners) == 0 {
		return "none"
	}
	var parts []string
	for _, o := range slices.Sorted(maps.Keys(owners)) {
		parts = append(parts, fmt.Sprintf("%s (%d)", o, owners[o]))
	}
	return strings.Join(parts, ", ")
}

// regionStatus snapshots r. d.mu held; never waits on a device.
func regionStatus(r *region, now time.Time) hbclient.RegionStatus {
	rs := hbclient.RegionStatus{
		UUID: r.uuid, Device: r.device,
		BlockBytes: r.vol.Heartbeat.BlockBytes, StartBlock: r.vol.Heartbeat.StartBlock, Blocks: r.vol.Heartbeat.Blocks,
		State: hbclient.StateStarting, LiveNodes: []int{}, Refs: r.refs(), LastWriteAge: -1, OwnSlotAge: -1,
	}
	for _, o := range slices.Sorted(maps.Keys(r.owners)) {
		rs.Owners = append(rs.Owners, hbclient.Owner{Name: o, Refs: r.owners[o]})
	}
	if r.eng == nil {
		if r.startErr != nil {
			rs.State, rs.Error = hbclient.StateFailed, message(r.uuid, r.startErr)
		}
		return rs
	}
	st := r.eng.Status()
	rs.State, rs.Error = wireState(st.State), st.Err
	if st.State == hbdisk.Starting && r.failure != "" && r.retry == nil {
		rs.Error = "restarting after a failure: " + r.failure
	}
	if st.Generation != 0 {
		rs.Generation = fmt.Sprintf("%#016x", st.Generation)
	}
	if st.LiveNodes != nil {
		rs.LiveNodes = st.LiveNodes
	}
	rs.LastWriteAge = ageSeconds(st.LastWrite, now)
	rs.OwnSlotAge = ageSeconds(st.OwnSlotRead, now)
	rs.WriteLatency = float64(st.WriteLatency) / float64(time.Millisecond)
	rs.IOInFlight = st.IOInFlight.Seconds()
	rs.ReadErrors, rs.WriteErrors, rs.BadBlocks, rs.Iterations = st.ReadErrors, st.WriteErrors, st.BadBlocks, st.Iterations
	rs.StaleReads = st.StaleReads
	rs.LatenessP50 = float64(st.LatenessP50) / float64(time.Millisecond)
	rs.LatenessP99 = float64(st.LatenessP99) / float64(time.Millisecond)
	rs.Reads, rs.Writes, rs.BytesRead, rs.BytesWritten = st.Reads, st.Writes, st.BytesRead, st.BytesWritten
	rs.IOThread = r.eng.IOThreadID()
	if rt := r.retry; rt != nil && st.State != hbdisk.Steady {
		retryStatus(&rs, r, rt, now)
	}
	return rs
}

// wireState is the state of an engine as status reports it: the same
// word (TestWireState).
func wireState(s hbdisk.State) hbclient.State { return hbclient.State(s) }

// ageSeconds is the age of t in seconds, or -1 for the zero time.
func ageSeconds(t time.Time, now time.Time) float64 {
	if t.IsZero() {
		return -1
	}
	return now.Sub(t).Seconds()
}

// retryStatus reports a region the daemon retries: failed, until a
// retry is steady, with the retries so far and the next one. d.mu held.
func retryStatus(rs *hbclient.RegionStatus, r *region, rt *retrying, now time.Time) {
	rs.State, rs.Retries = hbclient.StateFailed, rt.attempts
	if r.failure != "" {
		rs.Error = r.failure
	}
	switch {
	case rt.running:
		rs.Retrying = true
	case rt.blocked != "":
		rs.RetryBlocked = rt.blocked
	default:
		rs.RetryAt = rt.next.Format(hbclient.RetryTimeFormat)
		left := max(rt.next.Sub(now), 0).Seconds()
		rs.NextRetry = &left
	}
}

// Status returns every region and the union of live nodes.
func (d *Daemon) Status() *hbclient.Status {
	now := time.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	st := &hbclient.Status{
		Node: hbclient.Node{Name: d.node.Name, Number: d.node.Number}, Cluster: d.cluster, Mode: string(d.mode),
		IntervalMS: int(d.cfg.Interval / time.Millisecond), DeadThreshold: d.cfg.DeadThreshold,
		PID: os.Getpid(), Regions: []hbclient.RegionStatus{}, LiveNodes: []int{},
	}
	live := map[int]bool{}
	for _, uuid := range slices.Sorted(maps.Keys(d.regions)) {
		rs := regionStatus(d.regions[uuid], now)
		for _, n := range rs.LiveNodes {
			live[n] = true
		}
		st.Regions = append(st.Regions, rs)
	}
	for n := range live {
		st.LiveNodes = append(st.LiveNodes, n)
	}
	sort.Ints(st.LiveNodes)
	return st
}

// Info returns one region.
func (d *Daemon) Info(uuid string) (*hbclient.RegionStatus, error) {
	uuid, err := normalizeOrBad(uuid)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	r := d.regions[uuid]
	if r == nil {
		return nil, regionFail(uuid, ErrUnknownRegion, "not running on this node")
	}
	rs := regionStatus(r, time.Now())
	return &rs, nil
}

// Shutdown stops every region cleanly, keeping the state file so that a
// restart resumes them.
func (d *Daemon) Shutdown(ctx context.Context) {
	d.mu.Lock()
	if !d.stopping {
		close(d.quit)
	}
	d.stopping = true
	var engs []*hbdisk.Region
	for _, r := range d.regions {
		if r.eng != nil {
			engs = append(engs, r.eng)
		}
	}
	d.mu.Unlock()
	var wg sync.WaitGroup
	for _, e := range engs {
		wg.Go(func() {
			if err := e.Stop(ctx); err != nil {
				d.log.Warn("region did not stop cleanly", "err", err)
			}
		})
	}
	wg.Wait()
}
