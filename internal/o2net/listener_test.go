package o2net

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"
)

// serve runs l.Serve in the background, collecting what it reports, and
// stops it at the end of the test.
type served struct {
	peers    chan Peer
	rejected chan error
	stop     context.CancelFunc
	done     chan error
}

func serve(t *testing.T, ours netip.Addr, cfg ListenConfig) (*Listener, *served) {
	t.Helper()
	s := &served{peers: make(chan Peer, 16), rejected: make(chan error, 16), done: make(chan error, 1)}
	cfg.Rejected = func(_ netip.AddrPort, err error) { s.rejected <- err }
	l, err := Listen(netip.AddrPortFrom(ours, 0), cfg)
	if err != nil {
		t.Fatalf("Listen(%s:0): %v", ours, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	go func() { s.done <- l.Serve(ctx, func(p Peer) { s.peers <- p }) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.done:
		case <-time.After(peerWait):
			t.Errorf("Serve did not return within %v of its context's end", peerWait)
		}
	})
	return l, s
}

func (s *served) peer(t *testing.T) Peer {
	t.Helper()
	select {
	case p := <-s.peers:
		return p
	case err := <-s.rejected:
		t.Fatalf("Listener rejected a connection: %v", err)
	case <-time.After(peerWait):
		t.Fatalf("Listener reported nothing within %v", peerWait)
	}
	return Peer{}
}

// TestListenerSeesKernel: a higher-numbered kernel node connects to our
// address from its own, handshake first; the Listener reports it, and the
// kernel saw the connection closed with not a byte from us.
func TestListenerSeesKernel(t *testing.T) {
	us, k3 := loopback(t, 2), loopback(t, 3)
	hand := Timeouts{DeadThreshold: 31, IdleTimeoutMS: 30000, KeepaliveDelayMS: 2000, ReconnectDelayMS: 4000}.Handshake()
	k := newFakeKernel(t, 3, k3, hand)
	l, s := serve(t, us, ListenConfig{})

	ev := k.connect(k3, l.Addr(), 2)
	if ev.what != kevClosedByPeer || ev.received != 0 {
		t.Errorf("kernel's connection to %s: %+v, want %q with 0 bytes received", l.Addr(), ev, kevClosedByPeer)
	}
	p := s.peer(t)
	if p.Addr.Addr() != k3 || p.Handshake != hand {
		t.Errorf("Listener reported %+v, want a peer at %s with %+v", p, k3, hand)
	}

	// It keeps listening: the kernel's next attempt is reported too.
	if ev := k.connect(k3, l.Addr(), 2); ev.what != kevClosedByPeer || ev.received != 0 {
		t.Errorf("kernel's second connection: %+v", ev)
	}
	if p := s.peer(t); p.Addr.Addr() != k3 {
		t.Errorf("second report %+v, want a peer at %s", p, k3)
	}
}

// TestListenerIgnoresOthers: connections without a valid handshake are not
// reported (only passed to Rejected), and a kernel's right after them is.
func TestListenerIgnoresOthers(t *testing.T) {
	us, k3 := loopback(t, 2), loopback(t, 3)
	l, s := serve(t, us, ListenConfig{HandshakeTimeout: 300 * time.Millisecond})

	send := func(b []byte, closeAfter bool) {
		c, err := net.Dial("tcp4", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_, _ = c.Write(b)
		if closeAfter {
			return
		}
		// The Listener closes it, sending nothing (a reset when it left
		// bytes unread).
		_ = c.SetReadDeadline(time.Now().Add(peerWait))
		n, err := io.Copy(io.Discard, c)
		if (err != nil && !errors.Is(err, syscall.ECONNRESET)) || n != 0 {
			t.Errorf("Listener sent %d bytes (%v), want 0 and a close", n, err)
		}
	}
	for _, tc := range []struct {
		name       string
		b          []byte
		closeAfter bool
		want       error
	}{
		{"garbage", []byte("GET / HTTP/1.0\r\nHost: example\r\n\r\n"), false, ErrNotO2net},
		{"silent", nil, false, ErrNotO2net},
		{"short then close", []byte{0, 0, 0, 0}, true, ErrNotO2net},
		{"close at once", nil, true, ErrNoHandshake},
	} {
		send(tc.b, tc.closeAfter)
		select {
		case err := <-s.rejected:
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), l.Addr().String()) {
				t.Errorf("%s: rejected with %v, want %v naming %s", tc.name, err, tc.want, l.Addr())
			}
		case p := <-s.peers:
			t.Errorf("%s: Listener reported %+v", tc.name, p)
		case <-time.After(peerWait):
			t.Errorf("%s: Listener neither reported nor rejected the connection", tc.name)
		}
	}

	k := newFakeKernel(t, 3, k3, DefaultTimeouts.Handshake())
	k.connect(k3, l.Addr(), 2)
	if p := s.peer(t); p.Addr.Addr() != k3 {
		t.Errorf("Listener reported %+v, want the kernel at %s", p, k3)
	}
}

// TestListenerBounded: beyond MaxPending connections being read, a new one
// is closed unread; once they are done the Listener reads again.
func TestListenerBounded(t *testing.T) {
	us, k3 := loopback(t, 2), loopback(t, 3)
	l, s := serve(t, us, ListenConfig{MaxPending: 2, HandshakeTimeout: peerWait})

	var silent []net.Conn
	for range 2 {
		c, err := net.Dial("tcp4", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		silent = append(silent, c)
	}
	// Wait until both are accepted and being read: a third is closed
	// unread, at once. Accepting is asynchronous, so retry briefly.
	deadline := time.Now().Add(peerWait)
	for {
		c, err := net.Dial("tcp4", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		_, err = c.Read(make([]byte, 1))
		_ = c.Close()
		if errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a third connection was not closed at once (read: %v)", err)
		}
	}
	// Retried connections that did get read are rejected as
	// ErrNoHandshake once closed; skip those.
	for unread := false; !unread; {
		select {
		case err := <-s.rejected:
			switch {
			case strings.Contains(err.Error(), "closed unread"):
				unread = true
			case !errors.Is(err, ErrNoHandshake):
				t.Fatalf("rejected with %v, want closed unread", err)
			}
		case <-time.After(peerWait):
			t.Fatalf("no rejection for the connection beyond MaxPending")
		}
	}
	for _, c := range silent {
		_ = c.Close()
	}
	// Once the slots are free again a kernel's connection is read and
	// reported; until then it is closed unread and, as a kernel does
	// after reconnect_delay_ms, tried again.
	k := newFakeKernel(t, 3, k3, DefaultTimeouts.Handshake())
	deadline = time.Now().Add(peerWait)
	for time.Now().Before(deadline) {
		k.connect(k3, l.Addr(), 2)
		select {
		case p := <-s.peers:
			if p.Addr.Addr() != k3 {
				t.Errorf("after the bound: reported %+v, want the kernel at %s", p, k3)
			}
			return
		case err := <-s.rejected:
			if !errors.Is(err, ErrNoHandshake) && !strings.Contains(err.Error(), "closed unread") {
				t.Fatalf("after the bound: rejected %v", err)
			}
		case <-time.After(peerWait):
			t.Fatalf("after the bound: the kernel's connection was neither reported nor rejected")
		}
	}
	t.Fatalf("after the bound: the kernel was not reported within %v", peerWait)
}

// TestListenerStops: ending the context closes the listener and the
// connections being read, without reporting them, and Serve returns nil.
func TestListenerStops(t *testing.T) {
	us := loopback(t, 2)
	l, s := serve(t, us, ListenConfig{HandshakeTimeout: time.Minute})
	c, err := net.Dial("tcp4", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	time.Sleep(50 * time.Millisecond) // let Serve accept it
	start := time.Now()
	s.stop()
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("Serve = %v, want nil", err)
		}
		s.done <- err // for the cleanup
	case <-time.After(peerWait):
		t.Fatalf("Serve did not return after its context ended")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Serve took %v to stop with a connection being read", d)
	}
	select {
	case err := <-s.rejected:
		t.Errorf("Rejected called during the stop: %v", err)
	default:
	}
	if _, err := net.Dial("tcp4", l.Addr().String()); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial after stop = %v, want ECONNREFUSED", err)
	}
	_ = c.SetReadDeadline(time.Now().Add(peerWait))
	if n, err := io.Copy(io.Discard, c); n != 0 || err != nil {
		t.Errorf("open connection after stop: read %d bytes, %v; want a clean close", n, err)
	}
}

func TestListenErrors(t *testing.T) {
	busy, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	inUse := busy.Addr().(*net.TCPAddr).AddrPort()

	for _, tc := range []struct {
		name string
		addr netip.AddrPort
		cfg  ListenConfig
		want string
		errs error
	}{
		{"in use", inUse, ListenConfig{}, inUse.String(), syscall.EADDRINUSE},
		{"not ours", netip.MustParseAddrPort("192.0.2.1:7777"), ListenConfig{}, "192.0.2.1:7777", syscall.EADDRNOTAVAIL},
		{"ipv6", netip.MustParseAddrPort("[::1]:7777"), ListenConfig{}, "IPv4 only", nil},
		{"negative", netip.MustParseAddrPort("127.0.0.1:7777"), ListenConfig{MaxPending: -1}, "negative", nil},
	} {
		l, err := Listen(tc.addr, tc.cfg)
		if err == nil {
			_ = l.Close()
			t.Errorf("%s: Listen(%s) succeeded", tc.name, tc.addr)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "o2net listen") {
			t.Errorf("%s: Listen(%s) = %v, want an error with %q", tc.name, tc.addr, err, tc.want)
		}
		if tc.errs != nil && !errors.Is(err, tc.errs) {
			t.Errorf("%s: Listen(%s) = %v, want it to wrap %v", tc.name, tc.addr, err, tc.errs)
		}
	}
}

// TestServeTwice: one Listener serves once at a time.
func TestServeTwice(t *testing.T) {
	us, k3 := loopback(t, 2), loopback(t, 3)
	l, s := serve(t, us, ListenConfig{})
	newFakeKernel(t, 3, k3, DefaultTimeouts.Handshake()).connect(k3, l.Addr(), 2)
	s.peer(t) // the first Serve runs
	ctx, cancel := context.WithTimeout(context.Background(), peerWait)
	defer cancel()
	if err := l.Serve(ctx, func(Peer) {}); err == nil || !strings.Contains(err.Error(), "already serving") {
		t.Errorf("second Serve = %v, want already serving", err)
	}
}
