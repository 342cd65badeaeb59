package o2net

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"time"
)

// fakeKernel plays one kernel node's o2net, built from what fs/ocfs2/cluster/tcp.c
// does (the facts, not its code):
//
//   - o2net_accept_one: the acceptor looks the connection's source address up
//     among its configured nodes (o2nm_get_node_by_ip) and closes, sending
//     nothing, when it is unknown ("Attempt to connect from unknown node"),
//     when the connector's number is not higher than its own ("Unexpected
//     connect attempt"), when it does not see the connector heartbeating, or
//     when it already has a connection with that node. Otherwise it sends its
//     handshake at once, without waiting for the connector's.
//   - o2net_start_connect, o2net_sc_connect_completed: the higher-numbered
//     node connects from its own configured address and sends its handshake
//     as soon as the connect completes.
//   - o2net_advance_rx, o2net_check_handshake: either side reads exactly one
//     handshake before anything else; only a handshake that passes the checks
//     makes the connection valid (o2net_set_nn_state ... valid 1, "Connected
//     to" / "Accepted connection from", o2quo_conn_up).
//
// Its events let a test assert that our side never sent a byte and was never
// counted as connected.
type fakeKernel struct {
	t            *testing.T
	num          uint8
	hand         Handshake
	nodes        map[netip.Addr]uint8 // configured nodes by ipv4_address
	heartbeating map[uint8]bool       // nodes its heartbeat sees live

	ln     *net.TCPListener
	events chan kernelEvent
	wg     sync.WaitGroup

	mu    sync.Mutex
	conns map[uint8]bool // nodes with an open connection (nn_sc)
}

// kernelEvent is what the fake kernel did with one connection.
type kernelEvent struct {
	what     string // one of the kev* constants
	node     uint8  // the peer's node number, when known
	received int    // bytes the peer sent before it closed
}

const (
	kevUnknown        = "unknown node"       // source address of no configured node
	kevUnexpected     = "unexpected connect" // connector's number not above ours
	kevNotHeartbeat   = "not heartbeating"
	kevBusy           = "already connected"
	kevConnected      = "connected"             // a valid handshake came back: the peer counts as connected
	kevClosedByPeer   = "closed by peer"        // the peer closed without making the connection valid
	kevPeerSilent     = "peer silent"           // the peer neither sent nor closed within the test's bound
	kevBadHandshake   = "bad handshake"         // the peer sent 32 bytes the kernel refuses
	kevConnectRefused = "connect refused/error" // connector role: connect failed
)

// peerWait bounds how long the fake kernel waits for the other side, far
// beyond anything our code may take.
const peerWait = 5 * time.Second

func newFakeKernel(t *testing.T, num uint8, self netip.Addr, hand Handshake) *fakeKernel {
	t.Helper()
	k := &fakeKernel{
		t:            t,
		num:          num,
		hand:         hand,
		nodes:        map[netip.Addr]uint8{self: num},
		heartbeating: map[uint8]bool{},
		events:       make(chan kernelEvent, 64),
		conns:        map[uint8]bool{},
	}
	return k
}

// configure adds a node to the fake kernel's cluster, heartbeating or not.
func (k *fakeKernel) configure(addr netip.Addr, num uint8, heartbeating bool) {
	k.nodes[addr] = num
	k.heartbeating[num] = heartbeating
}

// listen starts the acceptor role on addr (port 0 picks one), as writing
// local=1 does (o2net_start_listening). It stops at the end of the test.
func (k *fakeKernel) listen(addr netip.Addr) netip.AddrPort {
	k.t.Helper()
	ln, err := net.ListenTCP("tcp4", net.TCPAddrFromAddrPort(netip.AddrPortFrom(addr, 0)))
	if err != nil {
		k.t.Fatalf("fake kernel listen %s: %v", addr, err)
	}
	k.ln = ln
	k.wg.Add(1)
	go func() {
		defer k.wg.Done()
		for {
			c, err := ln.AcceptTCP()
			if err != nil {
				return
			}
			k.wg.Add(1)
			go func() {
				defer k.wg.Done()
				k.acceptOne(c)
			}()
		}
	}()
	k.t.Cleanup(func() {
		_ = ln.Close()
		k.wg.Wait()
	})
	return ln.Addr().(*net.TCPAddr).AddrPort()
}

func (k *fakeKernel) acceptOne(c *net.TCPConn) {
	defer c.Close()
	src := c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr()
	node, ok := k.nodes[src]
	switch {
	case !ok:
		k.events <- kernelEvent{what: kevUnknown}
		return
	case k.num >= node:
		k.events <- kernelEvent{what: kevUnexpected, node: node}
		return
	case !k.heartbeating[node]:
		k.events <- kernelEvent{what: kevNotHeartbeat, node: node}
		return
	}
	k.mu.Lock()
	busy := k.conns[node]
	k.conns[node] = true
	k.mu.Unlock()
	if busy {
		k.events <- kernelEvent{what: kevBusy, node: node}
		return
	}
	ev := kernelEvent{what: kevClosedByPeer, node: node}
	if _, err := c.Write(k.hand.Marshal()); err == nil {
		ev = k.awaitHandshake(c, node)
	}
	// The connection is gone (nn_sc cleared) before the test hears of it.
	_ = c.Close()
	k.mu.Lock()
	delete(k.conns, node)
	k.mu.Unlock()
	k.events <- ev
}

// connect plays the connector role: from our own address to a lower-numbered
// node's address, handshake first.
func (k *fakeKernel) connect(from netip.Addr, to netip.AddrPort, node uint8) kernelEvent {
	k.t.Helper()
	d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(from, 0)), Timeout: peerWait}
	c, err := d.Dial("tcp4", to.String())
	if err != nil {
		return kernelEvent{what: kevConnectRefused, node: node}
	}
	defer c.Close()
	if _, err := c.Write(k.hand.Marshal()); err != nil {
		return kernelEvent{what: kevClosedByPeer, node: node}
	}
	return k.awaitHandshake(c, node)
}

// awaitHandshake reads what the peer sends until it closes, at most a
// handshake's worth, and says whether the connection became valid.
func (k *fakeKernel) awaitHandshake(c net.Conn, node uint8) kernelEvent {
	_ = c.SetReadDeadline(time.Now().Add(peerWait))
	var buf [HandshakeSize]byte
	n, err := io.ReadFull(c, buf[:])
	switch {
	case err == nil:
		h, perr := Parse(buf[:])
		if perr != nil || h.Check(k.hand) != nil {
			return kernelEvent{what: kevBadHandshake, node: node, received: n}
		}
		return kernelEvent{what: kevConnected, node: node, received: n}
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || isReset(err):
		return kernelEvent{what: kevClosedByPeer, node: node, received: n}
	default:
		return kernelEvent{what: kevPeerSilent, node: node, received: n}
	}
}

func isReset(err error) bool { return errors.Is(err, syscall.ECONNRESET) }

// event waits for the fake kernel's next event.
func (k *fakeKernel) event() kernelEvent {
	k.t.Helper()
	select {
	case e := <-k.events:
		return e
	case <-time.After(2 * peerWait):
		k.t.Fatalf("fake kernel node %d: no event within %v", k.num, 2*peerWait)
		return kernelEvent{}
	}
}

// loopback returns 127.0.0.n; Linux routes all of 127/8 to lo, so tests can
// give each fake node its own address without root.
func loopback(t *testing.T, n byte) netip.Addr {
	t.Helper()
	a := netip.AddrFrom4([4]byte{127, 0, 0, n})
	ln, err := net.ListenTCP("tcp4", net.TCPAddrFromAddrPort(netip.AddrPortFrom(a, 0)))
	if err != nil {
		t.Skipf("cannot bind %s (loopback is not 127/8 here): %v", a, err)
	}
	_ = ln.Close()
	return a
}
