package hbregion

import (
	"errors"
	"fmt"
	"testing"

	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
	"github.com/o2cb-ra/o2cb-ra/internal/ocf"
)

// TestDaemonError: a daemon error that names its region is named once,
// short; one that does not (a daemon of before the Region field) keeps
// this resource's region in full before it, as it always had.
func TestDaemonError(t *testing.T) {
	const u = "00112233445566778899AABBCCDDEEFF"
	r := &region{uuid: u}
	for _, tc := range []struct {
		err    error
		code   int
		reason string
	}{
		{&hbclient.Error{Code: hbclient.CodeGlobalOwned, Region: u, Message: "is started by the o2cb cluster resource"},
			ocf.ErrConfigured, "region 00112233: is started by the o2cb cluster resource"},
		{fmt.Errorf("start: %w", &hbclient.Error{Code: hbclient.CodeNotSteady, Region: u, Message: "not steady in time"}),
			ocf.ErrGeneric, "region 00112233: not steady in time"},
		{&hbclient.Error{Code: hbclient.CodeLimit, Message: "too many regions"}, ocf.ErrConfigured, "region " + u + ": too many regions"},
		{fmt.Errorf("%w: no daemon on /run/x", hbclient.ErrNotRunning), ocf.ErrGeneric, hbclient.ErrNotRunning.Error() + ": no daemon on /run/x"},
		{errors.New("connection reset"), ocf.ErrGeneric, "region " + u + ": connection reset"},
	} {
		err := daemonError(r, tc.err)
		if ocf.CodeOf(err) != tc.code || err.Error() != tc.reason {
			t.Errorf("daemonError(%v) = %s %q, want %s %q", tc.err, ocf.CodeName(ocf.CodeOf(err)), err, ocf.CodeName(tc.code), tc.reason)
		}
	}
}
