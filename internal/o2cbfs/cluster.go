package o2cbfs

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Cluster is a cluster as registered in the kernel, or as it is to be.
type Cluster struct {
	Name  string
	Mode  string // heartbeat mode: "local" or "global"
	Nodes []Node // sorted by number
	Timeouts
}

// Timeouts are the cluster's heartbeat and network settings. Every node
// must use the same DeadThreshold, IdleTimeoutMS and KeepaliveDelayMS:
// the o2net handshake refuses a peer whose values differ.
type Timeouts struct {
	DeadThreshold    int    // heartbeat/dead_threshold, iterations of 2 s
	IdleTimeoutMS    int    // idle_timeout_ms
	KeepaliveDelayMS int    // keepalive_delay_ms
	ReconnectDelayMS int    // reconnect_delay_ms
	FenceMethod      string // fence_method: "reset" or "panic"
}

// DefaultTimeouts are the kernel's and ocfs2-tools' defaults.
var DefaultTimeouts = Timeouts{DeadThreshold: 31, IdleTimeoutMS: 30000, KeepaliveDelayMS: 2000, ReconnectDelayMS: 2000, FenceMethod: "reset"}

// Check reports a value the kernel would refuse.
func (t Timeouts) Check() error {
	switch {
	case t.DeadThreshold < 3:
		return fmt.Errorf("dead_threshold %d: the kernel ignores values below 3", t.DeadThreshold)
	case t.IdleTimeoutMS < 1, t.KeepaliveDelayMS < 1, t.ReconnectDelayMS < 1:
		return fmt.Errorf("idle_timeout_ms, keepalive_delay_ms and reconnect_delay_ms must be positive (%d, %d, %d)",
			t.IdleTimeoutMS, t.KeepaliveDelayMS, t.ReconnectDelayMS)
	case t.IdleTimeoutMS <= t.KeepaliveDelayMS:
		return fmt.Errorf("idle_timeout_ms %d must be greater than keepalive_delay_ms %d", t.IdleTimeoutMS, t.KeepaliveDelayMS)
	case t.FenceMethod != "reset" && t.FenceMethod != "panic":
		return fmt.Errorf("fence_method %q: want reset or panic", t.FenceMethod)
	}
	return nil
}

// Node is a registered node.
type Node struct {
	Name    string
	Num     int
	Address netip.Addr
	Port    int
	Local   bool
}

func (n Node) String() string {
	return fmt.Sprintf("%s (number %d, %s:%d)", n.Name, n.Num, n.Address, n.Port)
}

// complete reports whether all of port, address and number were written:
// a killed start can leave a node with only some of them.
func (n Node) complete() bool {
	return n.Port != 0 && n.Address.IsValid() && !n.Address.IsUnspecified()
}

func clusterPath(name string, p ...string) string {
	return strings.Join(append([]string{clusterDir, name}, p...), "/")
}

// Exists reports whether the kernel's cluster directory is there: configfs
// mounted with the o2cb modules loaded.
func (k Kernel) Exists() bool { return k.exists(clusterDir) }

// Registered returns the registered cluster, or nil when none is.
func (k Kernel) Registered() (*Cluster, error) {
	names, err := k.dirs(clusterDir)
	if err != nil || len(names) == 0 {
		return nil, err
	}
	c := &Cluster{Name: names[0]}
	if c.Mode, err = k.read(clusterPath(c.Name, "heartbeat", "mode")); err != nil {
		return nil, err
	}
	if c.Timeouts, err = k.timeouts(c.Name); err != nil {
		return nil, err
	}
	nodes, err := k.dirs(clusterPath(c.Name, "node"))
	if err != nil {
		return nil, err
	}
	for _, name := range nodes {
		n, err := k.node(c.Name, name)
		if err != nil {
			return nil, err
		}
		c.Nodes = append(c.Nodes, n)
	}
	slices.SortFunc(c.Nodes, func(a, b Node) int { return a.Num - b.Num })
	return c, nil
}

func (k Kernel) timeouts(cluster string) (Timeouts, error) {
	var t Timeouts
	var err error
	for _, f := range []struct {
		p string
		v *int
	}{
		{clusterPath(cluster, "heartbeat", "dead_threshold"), &t.DeadThreshold},
		{clusterPath(cluster, "idle_timeout_ms"), &t.IdleTimeoutMS},
		{clusterPath(cluster, "keepalive_delay_ms"), &t.KeepaliveDelayMS},
		{clusterPath(cluster, "reconnect_delay_ms"), &t.ReconnectDelayMS},
	} {
		if *f.v, err = k.readInt(f.p); err != nil {
			return t, err
		}
	}
	t.FenceMethod, err = k.read(clusterPath(cluster, "fence_method"))
	return t, err
}

func (k Kernel) node(cluster, name string) (Node, error) {
	n := Node{Name: name}
	var err error
	if n.Num, err = k.readInt(clusterPath(cluster, "node", name, "num")); err != nil {
		return n, err
	}
	if n.Port, err = k.readInt(clusterPath(cluster, "node", name, "ipv4_port")); err != nil {
		return n, err
	}
	a, err := k.read(clusterPath(cluster, "node", name, "ipv4_address"))
	if err != nil {
		return n, err
	}
	if n.Address, err = netip.ParseAddr(a); err != nil {
		return n, &Error{Op: "read", Path: clusterPath(cluster, "node", name, "ipv4_address"), Err: err}
	}
	local, err := k.readInt(clusterPath(cluster, "node", name, "local"))
	n.Local = local == 1
	return n, err
}

// Register makes the kernel's registration what want says, in the order
// the kernel requires: the cluster, its heartbeat mode and timeouts
// (before any region exists), each node's port, address and number, and
// last this node's local flag, which starts o2net listening on its
// address. Every write is read back.
//
// A registration that already matches is adopted as it is. One that
// differs in what cannot change while it runs (another cluster, a node
// registered otherwise or not configured, another mode or dead threshold
// while regions exist, other network timeouts once a peer is connected)
// fails with an error wrapping ErrMismatch that names the difference.
// Nodes left half-written by a killed start are removed and written
// again; a node registered by Register and failing a later write is
// removed, so nothing half-written stays.
func (k Kernel) Register(want Cluster) error {
	if err := want.Timeouts.Check(); err != nil {
		return err
	}
	have, err := k.Registered()
	if err != nil {
		return err
	}
	if have != nil && have.Name != want.Name {
		return fmt.Errorf("%w: cluster %q is registered, not %q (stop it first)", ErrMismatch, have.Name, want.Name)
	}
	if have == nil {
		if err := k.mkdir(clusterPath(want.Name)); err != nil && !isErrno(err, syscall.EEXIST) {
			if isErrno(err, syscall.ENOSPC) {
				err.(*Error).Hint = "another cluster is registered"
			}
			return err
		}
		if have, err = k.Registered(); err != nil {
			return err
		}
	}
	regions, err := k.dirs(clusterPath(want.Name, "heartbeat"))
	if err != nil {
		return err
	}
	if err := k.setHeartbeat(want, have, len(regions) > 0); err != nil {
		return err
	}
	if err := k.setNetwork(want.Name, want.Timeouts, have.Timeouts); err != nil {
		return err
	}
	plan, err := planNodes(have.Nodes, want.Nodes)
	if err != nil {
		return err
	}
	for _, n := range plan.remove {
		if err := k.rmdir(clusterPath(want.Name, "node", n.Name)); err != nil {
			return fmt.Errorf("remove node %s left half-registered: %w", n.Name, err)
		}
	}
	for _, n := range plan.add {
		if err := k.addNode(want.Name, n); err != nil {
			return err
		}
	}
	return k.setLocal(want)
}

// setHeartbeat writes the heartbeat mode and dead threshold. The kernel
// ignores both, returning success, while any region exists.
func (k Kernel) setHeartbeat(want Cluster, have *Cluster, regions bool) error {
	for _, a := range []struct{ name, want, have string }{
		{"mode", want.Mode, have.Mode},
		{"dead_threshold", fmt.Sprint(want.DeadThreshold), fmt.Sprint(have.DeadThreshold)},
	} {
		if a.want == a.have {
			continue
		}
		if regions {
			return fmt.Errorf("%w: heartbeat %s is %s, not %s, and cannot change while heartbeat regions run (stop them first)",
				ErrMismatch, a.name, a.have, a.want)
		}
		p := clusterPath(want.Name, "heartbeat", a.name)
		if err := k.write(p, a.want+"\n"); err != nil {
			return err
		}
		if got, err := k.read(p); err != nil {
			return err
		} else if got != a.want {
			return fmt.Errorf("%w: heartbeat %s reads %s after writing %s (the kernel ignored the write)", ErrMismatch, a.name, got, a.want)
		}
	}
	return nil
}

// setNetwork writes the o2net timeouts and the fence method. idle must
// stay above keepalive after every single write, so the order depends on
// the values; the kernel refuses to change idle or keepalive once a peer
// is connected.
func (k Kernel) setNetwork(cluster string, want, have Timeouts) error {
	type attr struct {
		name       string
		want, have int
	}
	idle := attr{"idle_timeout_ms", want.IdleTimeoutMS, have.IdleTimeoutMS}
	keep := attr{"keepalive_delay_ms", want.KeepaliveDelayMS, have.KeepaliveDelayMS}
	order := []attr{idle, keep}
	if want.IdleTimeoutMS <= have.KeepaliveDelayMS { // idle first would fall below keepalive
		order = []attr{keep, idle}
	}
	order = append(order, attr{"reconnect_delay_ms", want.ReconnectDelayMS, have.ReconnectDelayMS})
	for _, a := range order {
		if a.want == a.have {
			continue
		}
		p := clusterPath(cluster, a.name)
		if err := k.write(p, fmt.Sprintf("%d\n", a.want)); err != nil {
			if isErrno(err, syscall.EINVAL) {
				return fmt.Errorf("%w: %s is %d, not %d, and the kernel refuses the change (it cannot change once a peer is connected): %v",
					ErrMismatch, a.name, a.have, a.want, err)
			}
			return err
		}
		if got, err := k.readInt(p); err != nil {
			return err
		} else if got != a.want {
			return fmt.Errorf("%w: %s reads %d after writing %d", ErrMismatch, a.name, got, a.want)
		}
	}
	if !strings.EqualFold(want.FenceMethod, have.FenceMethod) {
		// The kernel wants exactly the name and a newline.
		p := clusterPath(cluster, "fence_method")
		if err := k.write(p, want.FenceMethod+"\n"); err != nil {
			return err
		}
		if got, err := k.read(p); err != nil {
			return err
		} else if !strings.EqualFold(got, want.FenceMethod) {
			return fmt.Errorf("%w: fence_method reads %s after writing %s", ErrMismatch, got, want.FenceMethod)
		}
	}
	return nil
}

// nodePlan is what Register does to the nodes.
type nodePlan struct {
	remove []Node // half-written by a killed start
	add    []Node // configured, not registered
}

// planNodes compares the registered nodes with the wanted ones. A node
// registered with other values, or registered and not wanted, is a
// mismatch: removing it would cut a running cluster's peer.
func planNodes(have, want []Node) (nodePlan, error) {
	var p nodePlan
	var diffs []string
	byName := map[string]Node{}
	for _, n := range want {
		byName[n.Name] = n
	}
	registered := map[string]bool{}
	for _, h := range have {
		w, ok := byName[h.Name]
		switch {
		case !h.complete():
			p.remove = append(p.remove, h)
			continue
		case !ok:
			diffs = append(diffs, fmt.Sprintf("node %s is registered but not configured", h))
		case h.Num != w.Num || h.Address != w.Address || h.Port != w.Port:
			diffs = append(diffs, fmt.Sprintf("node %s is registered as %s", w, h))
		}
		registered[h.Name] = true
	}
	if len(diffs) > 0 {
		return p, fmt.Errorf("%w: %s", ErrMismatch, strings.Join(diffs, "; "))
	}
	for _, n := range want {
		if !registered[n.Name] {
			p.add = append(p.add, n)
		}
	}
	return p, nil
}

// addNode registers n as libo2cb does: mkdir, then port, address and
// number (num needs the other two). Any failure removes the node again.
func (k Kernel) addNode(cluster string, n Node) (err error) {
	dir := clusterPath(cluster, "node", n.Name)
	if err := k.mkdir(dir); err != nil {
		return fmt.Errorf("register node %s: %w", n, err)
	}
	defer func() {
		if err != nil {
			if rerr := k.rmdir(dir); rerr != nil {
				err = errors.Join(err, rerr)
			}
			err = fmt.Errorf("register node %s: %w", n, err)
		}
	}()
	for _, a := range []struct{ name, value string }{
		{"ipv4_port", fmt.Sprint(n.Port)},
		{"ipv4_address", n.Address.String()},
		{"num", fmt.Sprint(n.Num)},
	} {
		if err := k.write(dir+"/"+a.name, a.value+"\n"); err != nil {
			if isErrno(err, syscall.EEXIST) {
				err.(*Error).Hint = "another registered node has this " + strings.TrimPrefix(a.name, "ipv4_")
			}
			return err
		}
	}
	return nil
}

// setLocal marks this node local, which makes the kernel listen on its
// address. Only one node may be local.
func (k Kernel) setLocal(want Cluster) error {
	var self *Node
	for i := range want.Nodes {
		if want.Nodes[i].Local {
			self = &want.Nodes[i]
		}
	}
	if self == nil {
		return errors.New("no node of the cluster is this one")
	}
	have, err := k.Registered()
	if err != nil {
		return err
	}
	for _, n := range have.Nodes {
		switch {
		case n.Local && n.Name != self.Name:
			return fmt.Errorf("%w: node %s is registered as this node, not %s", ErrMismatch, n, self.Name)
		case n.Local:
			return nil
		}
	}
	p := clusterPath(want.Name, "node", self.Name, "local")
	if err := k.write(p, "1\n"); err != nil {
		if isErrno(err, syscall.EADDRNOTAVAIL) || isErrno(err, syscall.EINVAL) {
			err.(*Error).Hint = fmt.Sprintf("o2net could not listen on %s:%d: is the address configured on an interface?", self.Address, self.Port)
		}
		return err
	}
	return nil
}

// Unregister removes the registered cluster: its nodes, peers first, and
// then the cluster. It refuses, changing nothing, while any heartbeat
// region exists. A peer still connected is retried for up to wait (o2net
// drops links after the last region stops). No cluster is success.
func (k Kernel) Unregister(wait time.Duration) error {
	have, err := k.Registered()
	if err != nil || have == nil {
		return err
	}
	regions, err := k.dirs(clusterPath(have.Name, "heartbeat"))
	if err != nil {
		return err
	}
	if len(regions) > 0 {
		return fmt.Errorf("%w: heartbeat regions still run in cluster %s: %s", ErrInUse, have.Name, strings.Join(regions, ", "))
	}
	nodes := slices.Clone(have.Nodes)
	slices.SortStableFunc(nodes, func(a, b Node) int {
		switch {
		case a.Local == b.Local:
			return 0
		case b.Local:
			return -1
		}
		return 1
	})
	deadline := time.Now().Add(wait)
	for _, n := range nodes {
		for {
			err := k.rmdir(clusterPath(have.Name, "node", n.Name))
			if err == nil || isErrno(err, syscall.ENOENT) {
				break
			}
			if !isErrno(err, syscall.EBUSY) || time.Now().After(deadline) {
				return fmt.Errorf("unregister node %s: %w", n.Name, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if err := k.rmdir(clusterPath(have.Name)); err != nil && !isErrno(err, syscall.ENOENT) {
		return err
	}
	return nil
}
