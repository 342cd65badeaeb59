package o2net

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"
)

// Prober connects to o2net ports and reads what answers. It never writes
// a byte: a kernel marks a connection valid (and counts the peer as
// connected for its quorum) only after it has read and checked the peer's
// handshake (o2net_advance_rx, o2net_check_handshake), so a connection that
// sends nothing can never count.
type Prober struct {
	// Local is the address to connect from; the zero Addr lets the system
	// pick. A kernel answers only a connection from the ipv4_address of a
	// node it has configured, whose number is higher than its own and
	// whose heartbeat it sees (o2net_accept_one); from any other address
	// it logs "Attempt to connect from unknown node" and closes. So set
	// Local to this node's cluster.conf address.
	Local netip.Addr
}

// Probe is Prober{}.Probe: it connects from an address the system picks.
func Probe(ctx context.Context, addr netip.AddrPort, timeout time.Duration) (*Handshake, error) {
	return Prober{}.Probe(ctx, addr, timeout)
}

// Probe connects to addr, waits at most timeout (and no longer than ctx
// allows) for the peer's handshake, and closes the connection. It returns
// the handshake when the peer sent a valid one. Otherwise the error names
// addr and wraps:
//
//   - syscall.ECONNREFUSED (and the *net.OpError): nothing listens there;
//   - ErrNoHandshake: the peer accepted and closed without a byte, what a
//     kernel does with a connection it does not take (see Prober.Local);
//   - ErrNotO2net: the peer sent something that is not a handshake, or
//     nothing within the timeout (then also os.ErrDeadlineExceeded);
//   - ctx.Err() when ctx ended first;
//   - the dial error otherwise (unreachable, bad Local address, ...).
func (p Prober) Probe(ctx context.Context, addr netip.AddrPort, timeout time.Duration) (*Handshake, error) {
	if err := checkAddr(addr); err != nil {
		return nil, fmt.Errorf("o2net probe %s: %w", addr, err)
	}
	if timeout <= 0 {
		return nil, fmt.Errorf("o2net probe %s: timeout %v is not positive", addr, timeout)
	}
	if p.Local.IsValid() && !p.Local.Unmap().Is4() {
		return nil, fmt.Errorf("o2net probe %s: local address %s is not IPv4 (o2net speaks IPv4 only)", addr, p.Local)
	}
	deadline := time.Now().Add(timeout)
	d := net.Dialer{Deadline: deadline}
	if p.Local.IsValid() {
		d.LocalAddr = net.TCPAddrFromAddrPort(netip.AddrPortFrom(p.Local.Unmap(), 0))
	}
	c, err := d.DialContext(ctx, "tcp4", netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port()).String())
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("o2net probe %s: connect: %w", addr, context.Cause(ctx))
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, fmt.Errorf("o2net probe %s: connect: no answer within %v: %w", addr, timeout, err)
		}
		return nil, fmt.Errorf("o2net probe %s: connect: %w", addr, err)
	}
	defer c.Close()
	// The read ends at the deadline, or at once when ctx ends.
	_ = c.SetReadDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = c.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()

	h, _, err := readHandshake(c)
	switch {
	case err == nil:
		return h, nil
	case ctx.Err() != nil:
		return nil, fmt.Errorf("o2net probe %s: %w", addr, context.Cause(ctx))
	case errors.Is(err, os.ErrDeadlineExceeded):
		return nil, fmt.Errorf("o2net probe %s: no handshake within %v: %w", addr, timeout, err)
	}
	return nil, fmt.Errorf("o2net probe %s: %w", addr, err)
}

// readHandshake reads exactly one handshake from c and classifies what
// came instead. It returns how many bytes it read.
func readHandshake(c net.Conn) (*Handshake, int, error) {
	var buf [HandshakeSize]byte
	n, err := io.ReadFull(c, buf[:])
	switch {
	case err == nil:
		h, err := Parse(buf[:])
		return h, n, err
	case n == 0 && (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)):
		return nil, 0, fmt.Errorf("%w: %w", ErrNoHandshake, err)
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET):
		return nil, n, fmt.Errorf("%w: closed after %d bytes of a %d-byte handshake: %w", ErrNotO2net, n, HandshakeSize, err)
	default:
		return nil, n, fmt.Errorf("%w: %d bytes of a %d-byte handshake: %w", ErrNotO2net, n, HandshakeSize, err)
	}
}

// checkAddr accepts what a kernel node could have in configfs: IPv4 (an
// IPv4-mapped IPv6 address is taken as IPv4) and a non-zero port.
func checkAddr(addr netip.AddrPort) error {
	switch {
	case !addr.IsValid():
		return errors.New("no address")
	case !addr.Addr().Unmap().Is4():
		return errors.New("not an IPv4 address (o2net speaks IPv4 only)")
	case addr.Port() == 0:
		return errors.New("port 0")
	}
	return nil
}
