// Package reason names a region in an exit reason. Pacemaker keeps the
// first 128 characters of an exit reason, so a region is named by the
// first 8 hex digits of its UUID, once, before the cause:
//
//	0 of 1 heartbeat regions started (region_quorum=any): 00112233: no OCFS2 volume ...
//
// The cause comes from a daemon's error (hbclient.Error: Region and
// Message), from a region's status (RegionStatus: UUID and Error), or
// from a layout driver's text (layout.Error).
package reason

import (
	"errors"

	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
)

// Short is a region UUID's first 8 hex digits.
func Short(uuid string) string { return uuid[:min(8, len(uuid))] }

// Region is the cause why about the region uuid: "<short>: why".
func Region(uuid, why string) string { return Short(uuid) + ": " + why }

// DaemonError returns the region and the message of a daemon's error
// that is about a region; ok is false for any other error.
func DaemonError(err error) (uuid, msg string, ok bool) {
	var e *hbclient.Error
	if errors.As(err, &e) && e.Region != "" {
		return e.Region, e.Message, true
	}
	return "", "", false
}
