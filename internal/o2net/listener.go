package o2net

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Listener defaults.
const (
	// DefaultHandshakeTimeout is how long an accepted connection may take
	// to present its handshake. A kernel connector sends it as soon as its
	// connect completes (o2net_sc_connect_completed).
	DefaultHandshakeTimeout = 2 * time.Second
	// DefaultMaxPending is how many accepted connections are read at once.
	DefaultMaxPending = 16
)

// Peer is a connection that presented a valid o2net handshake.
type Peer struct {
	// Addr is the connection's remote address. A kernel connects from its
	// node's configured ipv4_address (o2net_start_connect binds it) and an
	// ephemeral port, so Addr.Addr() names the node in cluster.conf.
	Addr      netip.AddrPort
	Handshake Handshake
}

// ListenConfig tunes a Listener; the zero value takes the defaults.
type ListenConfig struct {
	// HandshakeTimeout bounds the wait for each connection's handshake;
	// 0 means DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// MaxPending bounds the connections being read at once; a connection
	// beyond it is closed unread (a kernel retries after its
	// reconnect_delay_ms). 0 means DefaultMaxPending.
	MaxPending int
	// Rejected, if set, is told about each connection that did not present
	// a valid handshake (err wraps ErrNotO2net or ErrNoHandshake) or that
	// was closed because MaxPending connections were being read.
	Rejected func(remote netip.AddrPort, err error)
}

// Listener listens on this node's o2net address (its cluster.conf
// ip_address:ip_port) for kernel nodes that connect to it, as a kernel
// node with a higher number does once it sees this node heartbeating. It
// reads each connection's handshake, reports it and closes the
// connection, never writing a byte, so the kernel never counts this node
// as connected: it logs the closed connection at KERN_INFO and tries
// again after reconnect_delay_ms.
type Listener struct {
	ln  *net.TCPListener
	cfg ListenConfig

	closeOnce sync.Once
	closeErr  error
	serving   atomic.Bool
}

// Listen binds addr, an IPv4 address and port. Binding fails (naming addr) when the address is not
// this machine's or when a kernel o2net already listens there, which
// means this node's o2cb stack is registered in the kernel.
func Listen(addr netip.AddrPort, cfg ListenConfig) (*Listener, error) {
	// Port 0 (the system picks one) is for tests: no kernel connects there.
	if err := checkAddr(addr); err != nil && !(addr.IsValid() && addr.Addr().Unmap().Is4() && addr.Port() == 0) {
		return nil, fmt.Errorf("o2net listen %s: %w", addr, err)
	}
	if cfg.HandshakeTimeout < 0 || cfg.MaxPending < 0 {
		return nil, fmt.Errorf("o2net listen %s: negative handshake timeout (%v) or max pending (%d)", addr, cfg.HandshakeTimeout, cfg.MaxPending)
	}
	if cfg.HandshakeTimeout == 0 {
		cfg.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if cfg.MaxPending == 0 {
		cfg.MaxPending = DefaultMaxPending
	}
	ln, err := net.ListenTCP("tcp4", net.TCPAddrFromAddrPort(netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())))
	if err != nil {
		return nil, fmt.Errorf("o2net listen %s: %w", addr, err)
	}
	return &Listener{ln: ln, cfg: cfg}, nil
}

// Addr is the bound address (with the port the system chose for port 0,
// which only tests use).
func (l *Listener) Addr() netip.AddrPort {
	return l.ln.Addr().(*net.TCPAddr).AddrPort()
}

// Close stops the listener; a running Serve returns.
func (l *Listener) Close() error {
	l.closeOnce.Do(func() { l.closeErr = l.ln.Close() })
	return l.closeErr
}

// Serve accepts connections until ctx ends or Close is called, then closes
// the listener and the connections being read, waits for them, and
// returns nil. found is called once for each connection that presented a
// valid handshake, after that connection is closed. found and
// ListenConfig.Rejected are called one at a time, never after Serve
// returns; they must not block for long, as connections wait meanwhile.
// Serve returns an error only when it is called twice at once.
func (l *Listener) Serve(ctx context.Context, found func(Peer)) error {
	addr := l.Addr()
	if !l.serving.CompareAndSwap(false, true) {
		return fmt.Errorf("o2net listen %s: already serving", addr)
	}
	defer l.serving.Store(false)
	stop := context.AfterFunc(ctx, func() { _ = l.Close() })
	defer stop()
	defer func() { _ = l.Close() }()

	var (
		wg      sync.WaitGroup
		mu      sync.Mutex // serialises the callbacks; guards conns and done
		conns   = make(map[*net.TCPConn]struct{})
		done    bool
		pending = make(chan struct{}, l.cfg.MaxPending)
		backoff time.Duration
	)
	defer func() {
		mu.Lock()
		done = true
		for c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	}()
	reject := func(remote netip.AddrPort, err error) {
		mu.Lock()
		defer mu.Unlock()
		if !done && l.cfg.Rejected != nil {
			l.cfg.Rejected(remote, err)
		}
	}
	for {
		c, err := l.ln.AcceptTCP()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			// EMFILE, ENOBUFS, ECONNABORTED and the like pass; back off
			// as net/http does and go on.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(backoff):
			}
			continue
		}
		backoff = 0
		remote := c.RemoteAddr().(*net.TCPAddr).AddrPort()
		select {
		case pending <- struct{}{}:
		default:
			_ = c.Close()
			reject(remote, fmt.Errorf("o2net listen %s: connection from %s closed unread: %d connections being read", addr, remote, l.cfg.MaxPending))
			continue
		}
		mu.Lock()
		conns[c] = struct{}{}
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-pending }()
			_ = c.SetReadDeadline(time.Now().Add(l.cfg.HandshakeTimeout))
			h, _, err := readHandshake(c)
			_ = c.Close()
			mu.Lock()
			defer mu.Unlock()
			delete(conns, c)
			switch {
			case done:
			case err != nil:
				if l.cfg.Rejected != nil {
					l.cfg.Rejected(remote, fmt.Errorf("o2net listen %s: connection from %s: %w", addr, remote, err))
				}
			default:
				found(Peer{Addr: remote, Handshake: *h})
			}
		}()
	}
}
