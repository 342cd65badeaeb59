package o2net

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The cluster of these tests, all on loopback:
//
//	node 1  kernel  127.0.0.1
//	node 2  us      127.0.0.2
//	node 3  kernel  127.0.0.3
//	        127.0.0.4 is no node's address.

// TestProbeKernelAcceptor: a lower-numbered kernel node that sees us
// heartbeating answers our connection with its handshake; we read it and
// close, and the kernel never got a byte from us nor counted us connected.
func TestProbeKernelAcceptor(t *testing.T) {
	k1, us := loopback(t, 1), loopback(t, 2)
	hand := Timeouts{DeadThreshold: 7, IdleTimeoutMS: 10000, KeepaliveDelayMS: 1000, ReconnectDelayMS: 2000}.Handshake()
	k := newFakeKernel(t, 1, k1, hand)
	k.configure(us, 2, true)
	addr := k.listen(k1)

	const timeout = 3 * time.Second
	start := time.Now()
	h, err := Prober{Local: us}.Probe(context.Background(), addr, timeout)
	elapsed := time.Since(start)
	if err != nil {
		t.Fatalf("Probe(%s) from %s error %v", addr, us, err)
	}
	if *h != hand {
		t.Errorf("Probe(%s) = %+v, want %+v", addr, *h, hand)
	}
	if elapsed > timeout/2 {
		t.Errorf("Probe(%s) took %v: it should return as soon as the handshake is read", addr, elapsed)
	}
	if e := k.event(); e.what != kevClosedByPeer || e.received != 0 || e.node != 2 {
		t.Errorf("kernel saw %+v, want %q by node 2 with 0 bytes received", e, kevClosedByPeer)
	}

	// Once the kernel has dropped that connection, probe again, by an
	// IPv4-mapped address, which is the same address.
	mapped := netip.AddrPortFrom(netip.AddrFrom16(addr.Addr().As16()), addr.Port())
	if h, err := (Prober{Local: us}).Probe(context.Background(), mapped, timeout); err != nil || *h != hand {
		t.Errorf("Probe(%s) = %v, %v, want %+v", mapped, h, err, hand)
	}
	if e := k.event(); e.what != kevClosedByPeer || e.received != 0 {
		t.Errorf("kernel saw %+v, want %q with 0 bytes received", e, kevClosedByPeer)
	}
}

// TestProbeKernelRefuses: what a kernel does not take it closes unanswered;
// Probe reports ErrNoHandshake at once.
func TestProbeKernelRefuses(t *testing.T) {
	k1, us, k3, stranger := loopback(t, 1), loopback(t, 2), loopback(t, 3), loopback(t, 4)
	for _, tc := range []struct {
		name      string
		kernel    uint8
		kaddr     netip.Addr
		heartbeat bool
		from      netip.Addr
		want      string
	}{
		{"unknown source address", 1, k1, true, stranger, kevUnknown},
		{"kernel node number higher", 3, k3, true, us, kevUnexpected},
		{"our heartbeat not seen", 1, k1, false, us, kevNotHeartbeat},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := newFakeKernel(t, tc.kernel, tc.kaddr, DefaultTimeouts.Handshake())
			k.configure(us, 2, tc.heartbeat)
			addr := k.listen(tc.kaddr)
			const timeout = 3 * time.Second
			start := time.Now()
			h, err := Prober{Local: tc.from}.Probe(context.Background(), addr, timeout)
			if !errors.Is(err, ErrNoHandshake) || h != nil {
				t.Fatalf("Probe(%s) from %s = %v, %v, want ErrNoHandshake", addr, tc.from, h, err)
			}
			if !strings.Contains(err.Error(), addr.String()) {
				t.Errorf("Probe error %q does not name %s", err, addr)
			}
			if d := time.Since(start); d > timeout/2 {
				t.Errorf("Probe took %v for a connection closed at once", d)
			}
			if e := k.event(); e.what != tc.want {
				t.Errorf("kernel saw %+v, want %q", e, tc.want)
			}
		})
	}
}

// TestProbeKernelBusy: while the kernel holds a connection with our node
// number it closes a second one unanswered.
func TestProbeKernelBusy(t *testing.T) {
	k1, us := loopback(t, 1), loopback(t, 2)
	k := newFakeKernel(t, 1, k1, DefaultTimeouts.Handshake())
	k.configure(us, 2, true)
	addr := k.listen(k1)

	// Another connection from node 2 that stays open, reading the
	// kernel's handshake and sending nothing.
	first, err := (&net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(us, 0))}).Dial("tcp4", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := readHandshake(first); err != nil {
		t.Fatalf("first connection: %v", err)
	}
	h, err := Prober{Local: us}.Probe(context.Background(), addr, 3*time.Second)
	if !errors.Is(err, ErrNoHandshake) {
		t.Errorf("Probe while connected = %v, %v, want ErrNoHandshake", h, err)
	}
	if e := k.event(); e.what != kevBusy {
		t.Errorf("kernel saw %+v, want %q", e, kevBusy)
	}
	_ = first.Close()
	if e := k.event(); e.what != kevClosedByPeer || e.received != 0 {
		t.Errorf("kernel saw %+v for the first connection, want %q with 0 bytes", e, kevClosedByPeer)
	}
}

// TestProbeNoListener: a port nobody listens on is refused at once.
func TestProbeNoListener(t *testing.T) {
	ln, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().(*net.TCPAddr).AddrPort()
	_ = ln.Close()

	const timeout = 5 * time.Second
	start := time.Now()
	h, err := Probe(context.Background(), addr, timeout)
	if !errors.Is(err, syscall.ECONNREFUSED) || h != nil {
		t.Fatalf("Probe(%s) = %v, %v, want ECONNREFUSED", addr, h, err)
	}
	if errors.Is(err, ErrNotO2net) || errors.Is(err, ErrNoHandshake) {
		t.Errorf("Probe(%s) error %v also claims a peer answered", addr, err)
	}
	if !strings.Contains(err.Error(), addr.String()) {
		t.Errorf("Probe error %q does not name %s", err, addr)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Probe(%s) took %v to be refused", addr, d)
	}
}

// service is a TCP server that is not o2net: it sends what it is given
// (perhaps nothing) and keeps the connection open until the test ends or
// closes it at once.
func service(t *testing.T, send []byte, closeAfter bool) (netip.AddrPort, <-chan int) {
	t.Helper()
	ln, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	got := make(chan int, 16) // bytes the client sent, for each connection
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if len(send) > 0 {
					_, _ = c.Write(send)
				}
				if closeAfter {
					got <- 0
					return
				}
				var n int
				buf := make([]byte, 64)
				_ = c.SetReadDeadline(time.Now().Add(peerWait))
				for {
					m, err := c.Read(buf)
					n += m
					if err != nil {
						break
					}
				}
				got <- n
				<-done
			}()
		}
	}()
	t.Cleanup(func() { close(done); _ = ln.Close() })
	return ln.Addr().(*net.TCPAddr).AddrPort(), got
}

// TestProbeNotO2net: services that are not o2net are told apart without
// waiting past the timeout, and Probe sends them nothing.
func TestProbeNotO2net(t *testing.T) {
	const timeout = 700 * time.Millisecond
	for _, tc := range []struct {
		name       string
		send       []byte
		closeAfter bool
		want       error
		wait       bool // the answer needs the whole timeout
	}{
		{"silent", nil, false, ErrNotO2net, true},
		{"banner", []byte("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n"), false, ErrNotO2net, false},
		{"short answer", []byte("220 ready\r\n"), false, ErrNotO2net, true},
		{"short answer then close", []byte("220 ready\r\n"), true, ErrNotO2net, false},
		{"closes at once", nil, true, ErrNoHandshake, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, got := service(t, tc.send, tc.closeAfter)
			start := time.Now()
			h, err := Probe(context.Background(), addr, timeout)
			d := time.Since(start)
			if !errors.Is(err, tc.want) || h != nil {
				t.Fatalf("Probe(%s) = %v, %v, want %v", addr, h, err, tc.want)
			}
			if !strings.Contains(err.Error(), addr.String()) {
				t.Errorf("Probe error %q does not name %s", err, addr)
			}
			if tc.wait && !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("Probe error %v: want it to say the timeout passed", err)
			}
			if max := timeout + 500*time.Millisecond; d > max || (!tc.wait && d > timeout/2) {
				t.Errorf("Probe(%s) took %v (timeout %v)", addr, d, timeout)
			}
			select {
			case n := <-got:
				if n != 0 {
					t.Errorf("the service got %d bytes from Probe, want 0", n)
				}
			case <-time.After(peerWait + time.Second):
				t.Errorf("the service did not see Probe close")
			}
		})
	}
}

// TestProbeContext: cancelling the context ends a probe at once, and the
// error says so rather than "not o2net".
func TestProbeContext(t *testing.T) {
	addr, _ := service(t, nil, false)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err := Probe(ctx, addr, 10*time.Second)
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrNotO2net) {
		t.Errorf("Probe with a cancelled context = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Probe took %v after its context was cancelled", d)
	}
}

func TestProbeBadArguments(t *testing.T) {
	good := netip.MustParseAddrPort("127.0.0.1:7777")
	for _, tc := range []struct {
		name    string
		p       Prober
		addr    netip.AddrPort
		timeout time.Duration
		want    string
	}{
		{"no address", Prober{}, netip.AddrPort{}, time.Second, "no address"},
		{"ipv6", Prober{}, netip.MustParseAddrPort("[::1]:7777"), time.Second, "IPv4 only"},
		{"port 0", Prober{}, netip.MustParseAddrPort("127.0.0.1:0"), time.Second, "port 0"},
		{"timeout 0", Prober{}, good, 0, "timeout 0s is not positive"},
		{"ipv6 local", Prober{Local: netip.MustParseAddr("::1")}, good, time.Second, "local address ::1"},
	} {
		h, err := tc.p.Probe(context.Background(), tc.addr, tc.timeout)
		if err == nil || h != nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "o2net probe") {
			t.Errorf("%s: Probe = %v, %v, want an error with %q", tc.name, h, err, tc.want)
		}
	}
}
