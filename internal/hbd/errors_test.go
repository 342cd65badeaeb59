package hbd

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"

	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
	"github.com/o2cb-ra/o2cb-ra/internal/hbdisk"
	"github.com/o2cb-ra/o2cb-ra/internal/ocfs2"
)

const someUUID = "00112233445566778899AABBCCDDEEFF"

// TestWireErrorCodes: each error the daemon or its engine returns
// reaches the wire with its code, every code of the protocol is reached,
// and an error the table does not know is the device's.
func TestWireErrorCodes(t *testing.T) {
	engine := func(sentinel error) error {
		return &hbdisk.RegionError{UUID: someUUID, Err: fmt.Errorf("%w after 6 iterations", sentinel)}
	}
	tests := []struct {
		name string
		err  error
		code string
	}{
		{"bad request", fail(ErrBadRequest, "unknown operation %q", "x"), hbclient.CodeBadRequest},
		{"version", fail(ErrVersion, "protocol version 7"), hbclient.CodeVersion},
		{"permission", fail(ErrPermission, "uid 1000"), hbclient.CodePermission},
		{"unknown region", regionFail(someUUID, ErrUnknownRegion, "not running on this node"), hbclient.CodeUnknownRegion},
		{"device mismatch", mark(ErrDeviceMismatch, fmt.Errorf("/dev/x: %w", ocfs2.ErrNotOCFS2)), hbclient.CodeDeviceMismatch},
		{"not steady", regionFail(someUUID, ErrNotSteady, "not steady in time"), hbclient.CodeNotSteady},
		{"collision", regionFail(someUUID, ErrCollision, "stopped after a collision"), hbclient.CodeCollision},
		{"global owned", regionFail(someUUID, ErrGlobalOwned, "started by the o2cb cluster resource"), hbclient.CodeGlobalOwned},
		{"limit", fail(ErrLimit, "at most 32 regions"), hbclient.CodeLimit},
		{"io", mark(ErrIO, fmt.Errorf("open: %w", fs.ErrNotExist)), hbclient.CodeIO},
		{"config", fail(ErrConfig, "local heartbeat mode"), hbclient.CodeConfig},
		{"stopping", fail(ErrStopping, "the heartbeat daemon is stopping"), hbclient.CodeStopping},
		{"not owner", regionFail(someUUID, ErrNotOwner, "service:a holds no reference"), hbclient.CodeNotOwner},
		{"kernel peer", fail(ErrKernelPeer, "kernel node k1 answers o2net"), hbclient.CodeKernelPeer},
		{"engine collision", engine(hbdisk.ErrCollision), hbclient.CodeCollision},
		{"engine unsteady", engine(hbdisk.ErrUnsteady), hbclient.CodeNotSteady},
		{"engine I/O timeout", engine(hbdisk.ErrIOTimeout), hbclient.CodeIO},
		{"engine on another volume", engine(ocfs2.ErrOtherVolume), hbclient.CodeDeviceMismatch},
		{"engine on no OCFS2 volume", engine(ocfs2.ErrNotOCFS2), hbclient.CodeDeviceMismatch},
		{"a mark wins over the engine's error", mark(ErrIO, engine(hbdisk.ErrCollision)), hbclient.CodeIO},
		{"unknown error", errors.New("something else"), hbclient.CodeIO},
	}
	reached := map[string]bool{}
	for _, tc := range tests {
		e := wireError(tc.err)
		if e.Code != tc.code {
			t.Errorf("%s: wireError(%v).Code = %q, want %q", tc.name, tc.err, e.Code, tc.code)
		}
		reached[e.Code] = true
		if !errors.Is(e, hbclient.ErrCode(tc.code)) {
			t.Errorf("%s: errors.Is(wireError(%v), ErrCode(%q)) = false", tc.name, tc.err, tc.code)
		}
	}
	for _, c := range []string{
		hbclient.CodeBadRequest, hbclient.CodeVersion, hbclient.CodePermission, hbclient.CodeUnknownRegion,
		hbclient.CodeDeviceMismatch, hbclient.CodeNotSteady, hbclient.CodeCollision, hbclient.CodeGlobalOwned,
		hbclient.CodeLimit, hbclient.CodeIO, hbclient.CodeConfig, hbclient.CodeStopping, hbclient.CodeNotOwner, hbclient.CodeKernelPeer,
	} {
		if !reached[c] {
			t.Errorf("code %q is reached by no error", c)
		}
	}
	for _, c := range codes {
		if !reached[c.code] {
			t.Errorf("the table's code %q for %v is not tested", c.code, c.err)
		}
	}
}

// TestWireErrorRegion: an error of a region carries the region as a
// field and a message that does not repeat it, reading in full as
// before; other errors carry their text as it is.
func TestWireErrorRegion(t *testing.T) {
	tests := []struct {
		name           string
		err            error
		region, msg    string
		wantNoUUIDText bool
	}{
		{"daemon's", regionFail(someUUID, ErrUnknownRegion, "not running on this node"), someUUID, "not running on this node", true},
		{"engine's", &hbdisk.RegionError{UUID: someUUID, Err: hbdisk.ErrUnsteady}, someUUID, hbdisk.ErrUnsteady.Error(), true},
		{"engine's, marked", mark(ErrIO, &hbdisk.RegionError{UUID: someUUID, Err: errors.New("stop: device call still in flight")}), someUUID, "stop: device call still in flight", true},
		{"engine's error under the region's name", ofRegion(someUUID, errors.New("verify /dev/x: bad")), someUUID, "verify /dev/x: bad", true},
		{"already the region's, not named twice", ofRegion(someUUID, regionFail(someUUID, ErrCollision, "collided")), someUUID, "collided", true},
		{"no region", fail(ErrLimit, "global heartbeat allows at most 32 regions"), "", "global heartbeat allows at most 32 regions", false},
	}
	for _, tc := range tests {
		e := wireError(tc.err)
		if e.Region != tc.region || e.Message != tc.msg {
			t.Errorf("%s: wireError(%v) = region %q message %q, want %q %q", tc.name, tc.err, e.Region, e.Message, tc.region, tc.msg)
		}
		if tc.wantNoUUIDText && strings.Contains(e.Message, someUUID) {
			t.Errorf("%s: message %q repeats the region", tc.name, e.Message)
		}
		if e.Error() != tc.err.Error() {
			t.Errorf("%s: wire error reads %q, want %q as the daemon's error", tc.name, e.Error(), tc.err.Error())
		}
		if got := message(someUUID, tc.err); got != tc.msg {
			t.Errorf("%s: message(uuid, err) = %q, want %q", tc.name, got, tc.msg)
		}
	}
}
