package o2net

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Protocol constants, as the kernel defines them (tcp_internal.h,
// heartbeat.h, tcp.h; the handshake is filled in o2net_init and
// o2net_initialize_handshake).
const (
	// HandshakeSize is the length of the handshake on the wire, in bytes.
	HandshakeSize = 32
	// ProtocolVersion is the o2net protocol version the kernel sends and
	// requires of its peers (O2NET_PROTOCOL_VERSION; 11 in current kernels).
	ProtocolVersion = 11
	// MinProtocolVersion is the first version whose handshake carries the
	// four timeouts ("network timeout checking protocol"). Earlier
	// kernels sent a 16-byte handshake; Parse does not take it.
	MinProtocolVersion = 5
	// ConnectorID is the value every kernel puts in connector_id.
	ConnectorID = 1
	// RegionTimeoutMS is the o2hb iteration the heartbeat timeout is
	// counted in (O2HB_REGION_TIMEOUT_MS).
	RegionTimeoutMS = 2000
)

// Sentinel errors. Errors of this package wrap one of them (and, where
// the network failed, the net or syscall error too).
var (
	// ErrNotO2net: what the peer sent, or the bytes given to Parse, are
	// not an o2net handshake; or the peer sent nothing within the timeout.
	ErrNotO2net = errors.New("not o2net")
	// ErrNoHandshake: the peer accepted the connection and closed it
	// without sending a byte. That is what a kernel's o2net_accept_one
	// does with a connection it does not take (a source address of no
	// configured node, a connector whose node number is not higher than
	// its own, a node it does not see heartbeating, a node it already has
	// a connection with), and what many other services do too.
	ErrNoHandshake = errors.New("closed without a handshake")
	// ErrMismatch: a valid handshake whose protocol version or timeouts
	// the kernel's o2net_check_handshake would refuse (Handshake.Check).
	ErrMismatch = errors.New("o2net handshake mismatch")
)

// Handshake is the first thing each side of an o2net connection sends: a
// raw 32-byte struct o2net_handshake, big-endian, with no message header
// in front (o2net_advance_rx reads it before any struct o2net_msg).
//
//	offset  size  field (kernel name)
//	0       8     protocol_version           O2NET_PROTOCOL_VERSION (11)
//	8       8     connector_id               always 1
//	16      4     o2hb_heartbeat_timeout_ms  O2HB_MAX_WRITE_TIMEOUT_MS = 2000 * (dead_threshold - 1)
//	20      4     o2net_idle_timeout_ms      cluster's idle_timeout_ms
//	24      4     o2net_keepalive_delay_ms   cluster's keepalive_delay_ms
//	28      4     o2net_reconnect_delay_ms   cluster's reconnect_delay_ms (sent, never compared)
type Handshake struct {
	ProtocolVersion    uint64
	ConnectorID        uint64
	HeartbeatTimeoutMS uint32 // the o2hb write timeout, milliseconds
	IdleTimeoutMS      uint32 // o2net idle timeout, milliseconds
	KeepaliveDelayMS   uint32 // o2net keepalive delay, milliseconds
	ReconnectDelayMS   uint32 // o2net reconnect delay, milliseconds
}

// Timeouts are a cluster's heartbeat and network timing, as configfs holds
// them (heartbeat/dead_threshold and the cluster's three *_ms files).
type Timeouts struct {
	DeadThreshold    int    // o2hb iterations; the kernel keeps values above 2
	IdleTimeoutMS    uint32 // milliseconds
	KeepaliveDelayMS uint32 // milliseconds
	ReconnectDelayMS uint32 // milliseconds
}

// DefaultTimeouts are the kernel's defaults (O2HB_DEFAULT_DEAD_THRESHOLD and
// the O2NET_*_DEFAULT values of tcp.h).
var DefaultTimeouts = Timeouts{DeadThreshold: 31, IdleTimeoutMS: 30000, KeepaliveDelayMS: 2000, ReconnectDelayMS: 2000}

// HeartbeatTimeoutMS is the kernel's O2HB_MAX_WRITE_TIMEOUT_MS for a dead
// threshold: 2000 ms per iteration after the first. It is 0 below 2.
func HeartbeatTimeoutMS(deadThreshold int) uint32 {
	if deadThreshold < 2 {
		return 0
	}
	return uint32(RegionTimeoutMS * (deadThreshold - 1))
}

// Handshake is the handshake a kernel configured with t sends.
func (t Timeouts) Handshake() Handshake {
	return Handshake{
		ProtocolVersion:    ProtocolVersion,
		ConnectorID:        ConnectorID,
		HeartbeatTimeoutMS: HeartbeatTimeoutMS(t.DeadThreshold),
		IdleTimeoutMS:      t.IdleTimeoutMS,
		KeepaliveDelayMS:   t.KeepaliveDelayMS,
		ReconnectDelayMS:   t.ReconnectDelayMS,
	}
}

// DeadThreshold is the dead threshold the peer's heartbeat timeout stands
// for, the inverse of HeartbeatTimeoutMS.
func (h Handshake) DeadThreshold() int {
	return int(h.HeartbeatTimeoutMS/RegionTimeoutMS) + 1
}

// Timeouts are the peer's timeouts as configfs would show them.
func (h Handshake) Timeouts() Timeouts {
	return Timeouts{
		DeadThreshold:    h.DeadThreshold(),
		IdleTimeoutMS:    h.IdleTimeoutMS,
		KeepaliveDelayMS: h.KeepaliveDelayMS,
		ReconnectDelayMS: h.ReconnectDelayMS,
	}
}

func (h Handshake) String() string {
	return fmt.Sprintf("o2net v%d (dead_threshold %d, idle %d ms, keepalive %d ms, reconnect %d ms)",
		h.ProtocolVersion, h.DeadThreshold(), h.IdleTimeoutMS, h.KeepaliveDelayMS, h.ReconnectDelayMS)
}

// Marshal encodes h as the kernel puts it on the wire.
func (h Handshake) Marshal() []byte {
	b := make([]byte, HandshakeSize)
	binary.BigEndian.PutUint64(b[0:], h.ProtocolVersion)
	binary.BigEndian.PutUint64(b[8:], h.ConnectorID)
	binary.BigEndian.PutUint32(b[16:], h.HeartbeatTimeoutMS)
	binary.BigEndian.PutUint32(b[20:], h.IdleTimeoutMS)
	binary.BigEndian.PutUint32(b[24:], h.KeepaliveDelayMS)
	binary.BigEndian.PutUint32(b[28:], h.ReconnectDelayMS)
	return b
}

// Parse decodes a handshake of exactly HandshakeSize bytes and checks that
// it is one a kernel could have sent: connector_id 1, a protocol version
// from MinProtocolVersion to 65535, every timeout non-zero, the heartbeat
// timeout a multiple of RegionTimeoutMS, and the keepalive delay below the
// idle timeout (nodemanager.c refuses anything else). Any other bytes are
// ErrNotO2net. A version other than ProtocolVersion still parses; Check
// tells whether a kernel would accept it.
func Parse(b []byte) (*Handshake, error) {
	if len(b) != HandshakeSize {
		return nil, fmt.Errorf("%w: %d bytes, a handshake has %d", ErrNotO2net, len(b), HandshakeSize)
	}
	h := &Handshake{
		ProtocolVersion:    binary.BigEndian.Uint64(b[0:]),
		ConnectorID:        binary.BigEndian.Uint64(b[8:]),
		HeartbeatTimeoutMS: binary.BigEndian.Uint32(b[16:]),
		IdleTimeoutMS:      binary.BigEndian.Uint32(b[20:]),
		KeepaliveDelayMS:   binary.BigEndian.Uint32(b[24:]),
		ReconnectDelayMS:   binary.BigEndian.Uint32(b[28:]),
	}
	switch {
	case h.ConnectorID != ConnectorID:
		return nil, fmt.Errorf("%w: connector_id %#x, want %d", ErrNotO2net, h.ConnectorID, ConnectorID)
	case h.ProtocolVersion < MinProtocolVersion || h.ProtocolVersion > 0xffff:
		return nil, fmt.Errorf("%w: protocol version %#x", ErrNotO2net, h.ProtocolVersion)
	case h.HeartbeatTimeoutMS == 0 || h.HeartbeatTimeoutMS%RegionTimeoutMS != 0:
		return nil, fmt.Errorf("%w: heartbeat timeout %d ms is not a positive multiple of %d", ErrNotO2net, h.HeartbeatTimeoutMS, RegionTimeoutMS)
	case h.IdleTimeoutMS == 0 || h.KeepaliveDelayMS == 0 || h.ReconnectDelayMS == 0:
		return nil, fmt.Errorf("%w: zero timeout (idle %d, keepalive %d, reconnect %d ms)", ErrNotO2net, h.IdleTimeoutMS, h.KeepaliveDelayMS, h.ReconnectDelayMS)
	case h.KeepaliveDelayMS >= h.IdleTimeoutMS:
		return nil, fmt.Errorf("%w: keepalive delay %d ms not below idle timeout %d ms", ErrNotO2net, h.KeepaliveDelayMS, h.IdleTimeoutMS)
	}
	return h, nil
}

// Check reports, as ErrMismatch, the first difference between h (what a
// peer sent) and want (what this node would send) that the kernel's
// o2net_check_handshake refuses, in its order: protocol version, idle
// timeout, keepalive delay, heartbeat timeout. The reconnect delay is not
// compared. A kernel that sees such a mismatch logs "... Disconnecting."
// and does not reconnect until the node's heartbeat goes down and up.
func (h Handshake) Check(want Handshake) error {
	switch {
	case h.ProtocolVersion != want.ProtocolVersion:
		return fmt.Errorf("%w: protocol version %d, want %d", ErrMismatch, h.ProtocolVersion, want.ProtocolVersion)
	case h.IdleTimeoutMS != want.IdleTimeoutMS:
		return fmt.Errorf("%w: idle timeout %d ms, want %d ms", ErrMismatch, h.IdleTimeoutMS, want.IdleTimeoutMS)
	case h.KeepaliveDelayMS != want.KeepaliveDelayMS:
		return fmt.Errorf("%w: keepalive delay %d ms, want %d ms", ErrMismatch, h.KeepaliveDelayMS, want.KeepaliveDelayMS)
	case h.HeartbeatTimeoutMS != want.HeartbeatTimeoutMS:
		return fmt.Errorf("%w: heartbeat timeout %d ms (dead_threshold %d), want %d ms (dead_threshold %d)",
			ErrMismatch, h.HeartbeatTimeoutMS, h.DeadThreshold(), want.HeartbeatTimeoutMS, want.DeadThreshold())
	}
	return nil
}
