package reason

import (
	"errors"
	"fmt"
	"testing"

	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
)

func TestRegion(t *testing.T) {
	for _, tc := range []struct{ uuid, why, want string }{
		{"00112233445566778899AABBCCDDEEFF", "not running", "00112233: not running"},
		{"0011", "short", "0011: short"},
	} {
		if got := Region(tc.uuid, tc.why); got != tc.want {
			t.Errorf("Region(%q, %q) = %q, want %q", tc.uuid, tc.why, got, tc.want)
		}
	}
}

func TestDaemonError(t *testing.T) {
	const u = "00112233445566778899AABBCCDDEEFF"
	for _, tc := range []struct {
		err       error
		uuid, msg string
		ok        bool
	}{
		{&hbclient.Error{Code: hbclient.CodeCollision, Region: u, Message: "collision"}, u, "collision", true},
		{fmt.Errorf("start: %w", &hbclient.Error{Code: hbclient.CodeNotSteady, Region: u, Message: "not steady"}), u, "not steady", true},
		{&hbclient.Error{Code: hbclient.CodeConfig, Message: "region " + u + ": old daemon"}, "", "", false},
		{errors.New("other"), "", "", false},
	} {
		uuid, msg, ok := DaemonError(tc.err)
		if uuid != tc.uuid || msg != tc.msg || ok != tc.ok {
			t.Errorf("DaemonError(%v) = %q, %q, %v; want %q, %q, %v", tc.err, uuid, msg, ok, tc.uuid, tc.msg, tc.ok)
		}
	}
}
