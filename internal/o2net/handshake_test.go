package o2net

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// The handshake of a kernel with the default timeouts, written out by hand
// from struct o2net_handshake (tcp_internal.h): be64 protocol_version 11,
// be64 connector_id 1 (o2net_init), be32 O2HB_MAX_WRITE_TIMEOUT_MS =
// 2000 * (31 - 1) = 60000, be32 idle 30000, be32 keepalive 2000, be32
// reconnect 2000 (o2net_initialize_handshake).
const defaultHandshakeHex = "000000000000000b" + "0000000000000001" +
	"0000ea60" + "00007530" + "000007d0" + "000007d0"

func TestMarshalGolden(t *testing.T) {
	got := hex.EncodeToString(DefaultTimeouts.Handshake().Marshal())
	if got != defaultHandshakeHex {
		t.Errorf("DefaultTimeouts.Handshake().Marshal() = %s, want %s", got, defaultHandshakeHex)
	}
}

func TestParseGolden(t *testing.T) {
	b, _ := hex.DecodeString(defaultHandshakeHex)
	h, err := Parse(b)
	if err != nil {
		t.Fatalf("Parse(%s) error %v", defaultHandshakeHex, err)
	}
	want := Handshake{ProtocolVersion: 11, ConnectorID: 1, HeartbeatTimeoutMS: 60000,
		IdleTimeoutMS: 30000, KeepaliveDelayMS: 2000, ReconnectDelayMS: 2000}
	if *h != want {
		t.Errorf("Parse(%s) = %+v, want %+v", defaultHandshakeHex, *h, want)
	}
	if got := h.Timeouts(); got != DefaultTimeouts {
		t.Errorf("Timeouts() = %+v, want %+v", got, DefaultTimeouts)
	}
}

func TestParseRoundTrip(t *testing.T) {
	for _, tt := range []Timeouts{
		DefaultTimeouts,
		{DeadThreshold: 3, IdleTimeoutMS: 2, KeepaliveDelayMS: 1, ReconnectDelayMS: 1},
		{DeadThreshold: 7, IdleTimeoutMS: 10000, KeepaliveDelayMS: 5000, ReconnectDelayMS: 2000},
		{DeadThreshold: 2147, IdleTimeoutMS: 0xfffffffe, KeepaliveDelayMS: 0xfffffffd, ReconnectDelayMS: 0xfffffffe},
	} {
		h := tt.Handshake()
		got, err := Parse(h.Marshal())
		if err != nil {
			t.Errorf("Parse(Marshal(%+v)) error %v", h, err)
			continue
		}
		if *got != h {
			t.Errorf("Parse(Marshal(%+v)) = %+v", h, *got)
		}
		if got.Timeouts() != tt {
			t.Errorf("Parse(Marshal(%+v)).Timeouts() = %+v, want %+v", h, got.Timeouts(), tt)
		}
	}
}

// TestParseRejects corrupts one field at a time, and feeds what other
// services send first.
func TestParseRejects(t *testing.T) {
	good, _ := hex.DecodeString(defaultHandshakeHex)
	with := func(off int, v ...byte) []byte {
		b := bytes.Clone(good)
		copy(b[off:], v)
		return b
	}
	for _, tc := range []struct {
		name, want string
		b          []byte
	}{
		{"empty", "0 bytes", nil},
		{"short", "16 bytes", good[:16]},
		{"long", "33 bytes", append(bytes.Clone(good), 0)},
		{"connector 0", "connector_id", with(15, 0)},
		{"connector 2", "connector_id", with(15, 2)},
		{"connector high bit", "connector_id", with(8, 0x80)},
		{"version 0", "protocol version", with(7, 0)},
		{"version 4", "protocol version", with(7, 4)},
		{"version 2^16", "protocol version", with(5, 1, 0, 0)},
		{"heartbeat 0", "heartbeat timeout", with(16, 0, 0, 0, 0)},
		{"heartbeat 2001", "heartbeat timeout", with(16, 0, 0, 0x07, 0xd1)},
		{"idle 0", "zero timeout", with(20, 0, 0, 0, 0)},
		{"keepalive 0", "zero timeout", with(24, 0, 0, 0, 0)},
		{"reconnect 0", "zero timeout", with(28, 0, 0, 0, 0)},
		{"keepalive = idle", "keepalive delay", with(24, 0, 0, 0x75, 0x30)},
		{"ssh banner", "connector_id", []byte("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")},
		{"http", "connector_id", []byte("HTTP/1.1 400 Bad Request\r\nConten")},
		{"zeros", "connector_id", make([]byte, HandshakeSize)},
		{"ones", "connector_id", bytes.Repeat([]byte{0xff}, HandshakeSize)},
	} {
		h, err := Parse(tc.b)
		if !errors.Is(err, ErrNotO2net) || h != nil {
			t.Errorf("%s: Parse(%x) = %v, %v, want nil, ErrNotO2net", tc.name, tc.b, h, err)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Parse(%x) error %q, want it to mention %q", tc.name, tc.b, err, tc.want)
		}
	}
}

// TestParseOtherVersion: a kernel of another protocol version is still an
// o2net peer; Check says the kernel would refuse us.
func TestParseOtherVersion(t *testing.T) {
	h := DefaultTimeouts.Handshake()
	h.ProtocolVersion = 10
	got, err := Parse(h.Marshal())
	if err != nil || *got != h {
		t.Fatalf("Parse(version 10) = %v, %v, want %+v", got, err, h)
	}
	if err := got.Check(DefaultTimeouts.Handshake()); !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), "protocol version 10, want 11") {
		t.Errorf("Check(version 10 against 11) = %v, want ErrMismatch about the version", err)
	}
}

func TestCheck(t *testing.T) {
	want := DefaultTimeouts.Handshake()
	if err := want.Check(want); err != nil {
		t.Errorf("Check(same) = %v, want nil", err)
	}
	for _, tc := range []struct {
		name string
		mod  func(*Handshake)
		want string
	}{
		{"reconnect differs", func(h *Handshake) { h.ReconnectDelayMS = 5000 }, ""},
		{"idle", func(h *Handshake) { h.IdleTimeoutMS = 10000 }, "idle timeout 10000 ms, want 30000 ms"},
		{"keepalive", func(h *Handshake) { h.KeepaliveDelayMS = 1000 }, "keepalive delay 1000 ms, want 2000 ms"},
		{"heartbeat", func(h *Handshake) { h.HeartbeatTimeoutMS = HeartbeatTimeoutMS(7) },
			"heartbeat timeout 12000 ms (dead_threshold 7), want 60000 ms (dead_threshold 31)"},
		// The kernel checks the idle timeout before the keepalive delay.
		{"idle and keepalive", func(h *Handshake) { h.IdleTimeoutMS, h.KeepaliveDelayMS = 9000, 1000 }, "idle timeout 9000"},
	} {
		h := want
		tc.mod(&h)
		err := h.Check(want)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: Check = %v, want nil", tc.name, err)
		case tc.want != "" && (!errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: Check = %v, want ErrMismatch with %q", tc.name, err, tc.want)
		}
	}
}

func TestHeartbeatTimeoutMS(t *testing.T) {
	for _, tc := range []struct {
		dead int
		want uint32
	}{{-1, 0}, {0, 0}, {1, 0}, {2, 2000}, {3, 4000}, {7, 12000}, {31, 60000}} {
		if got := HeartbeatTimeoutMS(tc.dead); got != tc.want {
			t.Errorf("HeartbeatTimeoutMS(%d) = %d, want %d", tc.dead, got, tc.want)
		}
		if tc.want > 0 {
			if got := (Handshake{HeartbeatTimeoutMS: tc.want}).DeadThreshold(); got != tc.dead {
				t.Errorf("Handshake{HeartbeatTimeoutMS: %d}.DeadThreshold() = %d, want %d", tc.want, got, tc.dead)
			}
		}
	}
}

func FuzzParse(f *testing.F) {
	good, _ := hex.DecodeString(defaultHandshakeHex)
	f.Add(good)
	f.Add([]byte("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n"))
	f.Add(make([]byte, HandshakeSize))
	f.Add(good[:20])
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := Parse(b)
		if err != nil {
			if h != nil || !errors.Is(err, ErrNotO2net) {
				t.Fatalf("Parse(%x) = %v, %v: an error must be ErrNotO2net with no handshake", b, h, err)
			}
			return
		}
		if got := h.Marshal(); !bytes.Equal(got, b) {
			t.Fatalf("Marshal(Parse(%x)) = %x", b, got)
		}
		_ = h.String()
		_ = h.Check(DefaultTimeouts.Handshake())
	})
}
