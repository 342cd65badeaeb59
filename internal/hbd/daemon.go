package hbd

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/backend"
	"github.com/o2cb-ra/o2cb-ra/internal/clusterconf"
	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
	"github.com/o2cb-ra/o2cb-ra/internal/hbdisk"
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
	Logger        *slog.Logger  // nil: discard
	// Retry spaces the retries of a failed cluster region (recover.go);
	// zero fields take retry.DefaultFirst and retry.DefaultMax.
	Retry retry.Backoff
	// Procs is told, at each start of a region, how many Ps
	// (GOMAXPROCS) the regions want (phases.go); nil: the daemon asks
	// for none. It is called with the daemon's lock held and must not
	// call the daemon.
	Procs func(want int)
	// Source resolves and runs the regions; nil: backend.Userspace{},
	// our writer on OCFS2 volumes found by the default search.
	Source backend.Source
	// Backend names what writes the heartbeat, for status: one of
	// hbclient.BackendUserspace (if ""), BackendObserver or
	// BackendKernel. The caller picks a Source that matches it (an
	// observer for the last two).
	Backend string
}

// MaxGlobalRegions is the kernel's limit of regions in global mode, kept
// so that kernel nodes can share the cluster.
const MaxGlobalRegions = hbdisk.MaxRegions

// Daemon is the node's heartbeat daemon: its regions and their owners.
type Daemon struct {
	cfg     Config
	src     backend.Source
	log     *slog.Logger
	cluster string
	mode    clusterconf.Mode
	global  map[string]bool // regions of cluster.conf, in global mode
	node    clusterconf.Node
	nodes   []int
	peers   []clusterconf.Node

	// kernelPeer, once set, is why this node stepped back (guard.go):
	// no region of it writes again.
	kernelPeer string

	mu       sync.Mutex
	regions  map[string]*region
	stopping bool
	saveErr  error
	quit     chan struct{} // closed when the daemon stops
	// wg counts the daemon's goroutines: engine starts, watches and the
	// retries of recover.go, which run in the watches. Shutdown waits
	// for them.
	wg sync.WaitGroup

	epoch time.Time // origin of the regions' phase grids
}

// region is one heartbeat region with its owners.
type region struct {
	uuid   string
	device string         // spec.Device
	spec   backend.Spec   // as the source resolved it
	owners map[string]int // owner -> references
	eng    backend.Engine // nil before the first start
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
	// What happened to it since it was added: running engines that
	// failed, of them those stopped by a collision, and restarts by the
	// daemon itself that came back steady.
	failures, collisions, restarts uint64
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
	switch cfg.Backend {
	case "":
		cfg.Backend = hbclient.BackendUserspace
	case hbclient.BackendUserspace, hbclient.BackendObserver, hbclient.BackendKernel:
	default:
		return nil, fmt.Errorf("heartbeat backend %q is none of %s, %s, %s", cfg.Backend,
			hbclient.BackendUserspace, hbclient.BackendObserver, hbclient.BackendKernel)
	}
	cfg.Retry = cfg.Retry.WithDefaults()
	if err := cfg.Retry.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	src := cfg.Source
	if src == nil {
		src = backend.Userspace{}
	}
	d := &Daemon{cfg: cfg, src: src, log: log, regions: map[string]*region{}, global: map[string]bool{}, epoch: time.Now(), quit: make(chan struct{})}
	if err := d.loadClusterConf(); err != nil {
		return nil, err
	}
	return d, nil
}

// Shutdown stops every region cleanly, keeping the state file so that a
// restart resumes them, and returns once every goroutine of the daemon
// has ended, or, should a device call hang past it, when ctx ends.
func (d *Daemon) Shutdown(ctx context.Context) {
	d.mu.Lock()
	if !d.stopping {
		close(d.quit)
	}
	d.stopping = true
	var engs []backend.Engine
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
	ended := make(chan struct{})
	go func() {
		d.wg.Wait()
		close(ended)
	}()
	select {
	case <-ended:
	case <-ctx.Done():
		d.log.Warn("heartbeat daemon stopped with a region's goroutine still waiting on its device", "err", context.Cause(ctx))
	}
}
