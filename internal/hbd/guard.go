package hbd

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/clusterconf"
	"github.com/o2cb-ra/o2cb-ra/internal/o2net"
)

// Guard is how a writing daemon looks for kernel nodes in its cluster.
// A kernel node that sees a node heartbeat on the disk but never gets an
// o2net connection from it holds its quorum decisions, and its mounts
// fail after 60 s; our writer is such a node. So while this node writes,
// the guard probes the o2net port of every lower-numbered peer of
// cluster.conf (a kernel answers only nodes it sees heartbeat, and only
// from higher-numbered ones) and listens on this node's own address for
// higher-numbered kernel nodes connecting. Either makes the daemon step
// back: its regions stop cleanly (the generation-0 block lets the kernel
// drop this node at once) and none starts again; status, and so monitor,
// say why. No byte is sent to a kernel node (package o2net).
type Guard struct {
	Interval time.Duration // from the end of a probe round to the next; 5 s if 0
	Timeout  time.Duration // of one probe; 1 s if 0
	// OwnKernel, when set, reports why this node's own kernel runs the
	// o2cb stack (a cluster registered in configfs), or "".
	OwnKernel func() string
}

// Guard runs g until ctx ends or the daemon stops.
func (d *Daemon) Guard(ctx context.Context, g Guard) {
	if g.Interval == 0 {
		g.Interval = 5 * time.Second
	}
	if g.Timeout == 0 {
		g.Timeout = time.Second
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-d.quit:
			cancel()
		case <-ctx.Done():
		}
	}()
	d.mu.Lock()
	self, peers := d.node, d.peers
	d.mu.Unlock()
	if self.Address.IsValid() {
		d.listen(ctx, self, peers)
	}
	// A round begins Interval after the last one ended, so a long round
	// (many peers that hold their probes) does not run back to back.
	t := time.NewTimer(g.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if why := d.probeRound(ctx, g, self); why != "" {
			d.stepBack(why)
			return
		}
		t.Reset(g.Interval)
	}
}

// listen reports higher-numbered kernel nodes connecting to this node's
// o2net address. An address this machine does not have, or one in use
// (the kernel's own o2net, or another test daemon), is logged and left.
func (d *Daemon) listen(ctx context.Context, self clusterconf.Node, peers []clusterconf.Node) {
	addr := netip.AddrPortFrom(self.Address, uint16(self.Port))
	l, err := o2net.Listen(addr, o2net.ListenConfig{})
	if err != nil {
		lvl := d.log.Debug
		if errors.Is(err, syscall.EADDRINUSE) {
			lvl = d.log.Warn
		}
		lvl("not listening for kernel nodes on this node's o2net address", "address", addr, "err", err)
		return
	}
	d.wg.Go(func() {
		defer l.Close()
		err := l.Serve(ctx, func(p o2net.Peer) {
			for _, n := range peers {
				if n.Address == p.Addr.Addr().Unmap() {
					d.stepBack(fmt.Sprintf("kernel node %s (number %d, %s) connected to this node's o2net address %s",
						n.Name, n.Number, n.Address, addr))
					return
				}
			}
			d.log.Warn("an o2net node that is not in cluster.conf connected", "from", p.Addr)
		})
		if err != nil && ctx.Err() == nil {
			d.log.Warn("listening for kernel nodes ended", "address", addr, "err", err)
		}
	})
}

// probeRound probes the lower-numbered peers once while a region
// writes, and returns why to step back (a kernel node answered: the
// lowest-numbered of those that did before the round ended), or "".
func (d *Daemon) probeRound(ctx context.Context, g Guard, self clusterconf.Node) string {
	if g.OwnKernel != nil {
		if why := g.OwnKernel(); why != "" {
			return why
		}
	}
	d.mu.Lock()
	writing := false
	for _, r := range d.regions {
		writing = writing || r.eng != nil
	}
	peers := d.peers
	d.mu.Unlock()
	if !writing {
		return ""
	}
	// The probes of a round run probeParallel at a time: a peer that
	// holds the connection and answers nothing (another of our daemons
	// listening, or a host that drops the SYN) costs a whole Timeout, and
	// one after another the round of node 255 would take 254 of them,
	// far past the 60 s after which a kernel node that sees our heartbeat
	// without a connection fails its mounts; 8 at a time it takes 32.
	var targets []clusterconf.Node
	for _, n := range peers {
		if n.Number < self.Number && n.Address.IsValid() {
			targets = append(targets, n)
		}
	}
	round, cancel := context.WithCancel(ctx)
	defer cancel()
	p := o2net.Prober{Local: self.Address}
	answers := make([]string, len(targets))
	slots := make(chan struct{}, probeParallel)
	var wg sync.WaitGroup
	for i, n := range targets {
		select {
		case slots <- struct{}{}:
		case <-round.Done():
		}
		if round.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-slots }()
			addr := netip.AddrPortFrom(n.Address, uint16(n.Port))
			if h, err := p.Probe(round, addr, g.Timeout); err == nil {
				answers[i] = fmt.Sprintf("kernel node %s (number %d) answers o2net at %s (%s)", n.Name, n.Number, addr, h)
				cancel()
			}
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return ""
	}
	for _, why := range answers {
		if why != "" {
			return why
		}
	}
	return ""
}

// probeParallel is how many o2net probes of a round are open at once.
const probeParallel = 8

// stepBack stops every region of this node for good: why is in status
// and in every later start's error.
func (d *Daemon) stepBack(why string) {
	why += ": this node stops writing heartbeats; run it with heartbeat_backend=observer (or kernel)"
	d.mu.Lock()
	if d.kernelPeer != "" || d.stopping {
		d.mu.Unlock()
		return
	}
	d.kernelPeer = why
	var stop []func(context.Context) error
	for _, r := range d.regions {
		r.failure = why
		if r.eng != nil {
			stop = append(stop, r.eng.Stop)
		}
		if r.retry != nil {
			r.retry.wake()
		}
	}
	d.mu.Unlock()
	d.log.Error("a kernel node shares the cluster", "why", why, "regions", len(stop))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, s := range stop {
		if err := s(ctx); err != nil {
			d.log.Warn("region did not stop cleanly when stepping back", "err", err)
		}
	}
}
