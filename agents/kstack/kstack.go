// Package kstack is what the agents do with the kernel's o2cb stack: the
// heartbeat_backend choice (the parameter is in package params), and the
// o2cb agent's kernel start, stop and monitor (package o2cbfs does the
// kernel's part of each).
package kstack

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/o2cb-ra/o2cb-ra/agents/clusterview"
	"github.com/o2cb-ra/o2cb-ra/agents/params"
	"github.com/o2cb-ra/o2cb-ra/internal/o2cbfs"
	"github.com/o2cb-ra/o2cb-ra/internal/ocf"
)

// Choose resolves heartbeat_backend: auto becomes kernel or userspace.
// why says what decided, for the log and the exit reasons.
func Choose(c *ocf.Context, k o2cbfs.Kernel) (backend, why string) {
	b := c.Params.String(params.BackendParam.Name)
	if b != params.Auto {
		return b, "heartbeat_backend=" + b
	}
	if ok, why := k.Available(); ok {
		return params.Kernel, "auto: " + why
	} else {
		return params.Userspace, "auto: " + why
	}
}

// TimeoutParams are the o2cb agent's parameters of the kernel's cluster
// timeouts, with ocfs2-tools' defaults (dead_threshold is the agent's
// own, shared with the userspace backend).
func TimeoutParams(checkInt func(func(int) error) func(string) error) []ocf.Param {
	positive := func(n int) error {
		if n < 1 {
			return fmt.Errorf("%d: must be positive", n)
		}
		return nil
	}
	d := o2cbfs.DefaultTimeouts
	return []ocf.Param{
		{Name: "idle_timeout_ms", Type: ocf.Integer, Default: fmt.Sprint(d.IdleTimeoutMS), EnvVar: "O2CB_IDLE_TIMEOUT_MS",
			Short: "o2net idle timeout (ms)", Check: checkInt(positive),
			Long: "Milliseconds without traffic after which the kernel's o2net drops a link (kernel backend). Every node must use the same value."},
		{Name: "keepalive_delay_ms", Type: ocf.Integer, Default: fmt.Sprint(d.KeepaliveDelayMS), EnvVar: "O2CB_KEEPALIVE_DELAY_MS",
			Short: "o2net keepalive delay (ms)", Check: checkInt(positive),
			Long: "Milliseconds of idleness after which o2net sends a keepalive (kernel backend); below idle_timeout_ms. Every node must use the same value."},
		{Name: "reconnect_delay_ms", Type: ocf.Integer, Default: fmt.Sprint(d.ReconnectDelayMS), EnvVar: "O2CB_RECONNECT_DELAY_MS",
			Short: "o2net reconnect delay (ms)", Check: checkInt(positive),
			Long: "Milliseconds between o2net's connection attempts (kernel backend)."},
		{Name: "fence_method", Type: ocf.String, Default: d.FenceMethod,
			Short: "how the kernel fences this node",
			Check: func(s string) error {
				if s != "reset" && s != "panic" {
					return fmt.Errorf("%q: want reset or panic", s)
				}
				return nil
			},
			Long: "reset: the kernel restarts the node at once when it loses its heartbeat or quorum; panic: it panics (for a kdump). Kernel backend."},
	}
}

// Want is the registration the kernel is to have for this node: the
// cluster of v, its nodes with this one local, the timeouts of c.
func Want(c *ocf.Context, v *clusterview.View) o2cbfs.Cluster {
	want := o2cbfs.Cluster{Name: v.Cluster.Name(), Mode: string(v.Mode), Timeouts: o2cbfs.Timeouts{
		DeadThreshold:    params.DeadThreshold(c),
		IdleTimeoutMS:    c.Params.Int("idle_timeout_ms"),
		KeepaliveDelayMS: c.Params.Int("keepalive_delay_ms"),
		ReconnectDelayMS: c.Params.Int("reconnect_delay_ms"),
		FenceMethod:      c.Params.String("fence_method"),
	}}
	for _, n := range v.Cluster.Nodes() {
		want.Nodes = append(want.Nodes, o2cbfs.Node{Name: n.Name, Num: n.Number, Address: n.Address, Port: n.Port, Local: n.Name == v.Node.Name})
	}
	return want
}

// Online brings the kernel's stack up as want says: modules, the
// pseudo-filesystems, the o2cb stack, the registration; and points the
// kernel's umount call at hbCtl. Global regions are the caller's.
func Online(c *ocf.Context, k o2cbfs.Kernel, want o2cbfs.Cluster, hbCtl string) error {
	if err := want.Timeouts.Check(); err != nil {
		return ocf.Errorf(ocf.ErrConfigured, "%v", err)
	}
	unlock, err := k.Lock(lockWait(c))
	if err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "%v", err)
	}
	defer unlock()
	warn := func(msg string, err error) { c.Log.Warn(msg, "err", err) }
	if err := k.Load(warn); err != nil {
		if errors.Is(err, o2cbfs.ErrNoStack) {
			return ocf.Errorf(ocf.ErrInstalled, "%v", err)
		}
		return ocf.Errorf(ocf.ErrGeneric, "%v", err)
	}
	if err := k.Register(want); err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "%v", err)
	}
	if hbCtl != "" {
		old, err := k.SetHbCtlPath(hbCtl)
		switch {
		case err != nil:
			c.Log.Warn("cannot point the kernel's umount call at our ocfs2_hb_ctl", "path", hbCtl, "err", err)
		case old != hbCtl:
			c.Log.Info("the kernel's umount call now runs our ocfs2_hb_ctl", "path", hbCtl, "was", old)
		}
	}
	return nil
}

// Offline takes the kernel's stack down: it refuses, changing nothing,
// while an OCFS2 volume is mounted or a region runs that is not the
// cluster's (a local-mode region of ocfs2_hb_ctl -S or an hbregion
// resource); otherwise it removes the global regions (in global mode
// every region is the cluster's), then the nodes and the cluster. The
// modules stay loaded. Nothing registered is success.
func Offline(c *ocf.Context, k o2cbfs.Kernel) error {
	if !k.Exists() {
		return nil
	}
	unlock, err := k.Lock(lockWait(c))
	if err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "%v", err)
	}
	defer unlock()
	have, err := k.Registered()
	if err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "%v", err)
	}
	if have == nil {
		return nil
	}
	mounts, err := k.Mounts()
	if err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "%v", err)
	}
	if len(mounts) > 0 {
		var ms []string
		for _, m := range mounts {
			ms = append(ms, m.Device+" on "+m.Dir)
		}
		return ocf.Errorf(ocf.ErrGeneric, "OCFS2 still mounted (stop its Filesystem resources first): %s", strings.Join(ms, ", "))
	}
	regions, err := k.Regions()
	if err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "%v", err)
	}
	if have.Mode != "global" && len(regions) > 0 {
		var us []string
		for _, r := range regions {
			us = append(us, r.UUID)
		}
		return ocf.Errorf(ocf.ErrGeneric, "local heartbeat regions still run (stop their users first): %s", strings.Join(us, ", "))
	}
	var failed []string
	for _, r := range regions {
		if err := k.StopRegion(r.UUID); err != nil {
			failed = append(failed, err.Error())
		}
	}
	if len(failed) > 0 {
		return ocf.Errorf(ocf.ErrGeneric, "could not stop heartbeat regions: %s", strings.Join(failed, "; "))
	}
	if err := k.Unregister(10 * time.Second); err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "%v", err)
	}
	c.Log.Info("kernel o2cb cluster unregistered", "cluster", have.Name, "regions_stopped", len(regions))
	return nil
}

// Check is the kernel's half of monitor: have, the cluster registered in
// k (k.Registered), is this node's, with this node local; then the
// regions whose kernel thread runs, and which of the configured (global)
// regions have none.
func Check(k o2cbfs.Kernel, have *o2cbfs.Cluster, v *clusterview.View) (running, notStarted []string, err error) {
	if have == nil {
		return nil, nil, fmt.Errorf("no cluster is registered in the kernel")
	}
	if have.Name != v.Cluster.Name() {
		return nil, nil, fmt.Errorf("the kernel has cluster %s registered, not %s", have.Name, v.Cluster.Name())
	}
	local := slices.IndexFunc(have.Nodes, func(n o2cbfs.Node) bool { return n.Local })
	if local < 0 || have.Nodes[local].Name != v.Node.Name {
		return nil, nil, fmt.Errorf("cluster %s is registered in the kernel without node %s as this node", have.Name, v.Node.Name)
	}
	regions, err := k.Regions()
	if err != nil {
		return nil, nil, err
	}
	for _, r := range regions {
		if r.Started() {
			running = append(running, r.UUID)
		}
	}
	for _, r := range v.Regions {
		i := slices.IndexFunc(regions, func(x o2cbfs.Region) bool { return x.UUID == r.UUID })
		if i < 0 || !regions[i].Started() {
			notStarted = append(notStarted, r.UUID)
		}
	}
	return running, notStarted, nil
}

// lockWait is how long a start or stop waits for a racing one: most of
// what is left of its timeout.
func lockWait(c *ocf.Context) time.Duration {
	if d, ok := c.Deadline(); ok {
		return time.Until(d) * 3 / 4
	}
	return time.Minute
}
