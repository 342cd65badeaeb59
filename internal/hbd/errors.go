package hbd

import (
	"errors"
	"fmt"

	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
	"github.com/o2cb-ra/o2cb-ra/internal/hbdisk"
	"github.com/o2cb-ra/o2cb-ra/internal/ocfs2"
)

// Errors of the daemon's requests, for errors.Is; wireError maps each to
// its code of the control protocol (codes). They mark an error without
// adding to its text (fail).
var (
	ErrBadRequest     = errors.New("bad request")
	ErrVersion        = errors.New("protocol version not spoken")
	ErrPermission     = errors.New("permission denied")
	ErrUnknownRegion  = errors.New("unknown region")
	ErrDeviceMismatch = errors.New("device does not hold the region")
	ErrNotSteady      = errors.New("region not steady in time")
	ErrCollision      = errors.New("region in collision")
	ErrGlobalOwned    = errors.New("region owned by the cluster")
	ErrLimit          = errors.New("too many regions")
	ErrIO             = errors.New("device failed")
	ErrConfig         = errors.New("cluster configuration")
	ErrStopping       = errors.New("daemon stopping")
	ErrNotOwner       = errors.New("not an owner of the region")
	ErrKernelPeer     = errors.New("a kernel node shares the cluster")
)

// codes maps errors to wire codes, first match wins: the daemon's own
// errors, then those of the engine and the volume it ends with. Any other
// error is the device's (CodeIO).
var codes = []struct {
	err  error
	code string
}{
	{ErrBadRequest, hbclient.CodeBadRequest},
	{ErrVersion, hbclient.CodeVersion},
	{ErrPermission, hbclient.CodePermission},
	{ErrUnknownRegion, hbclient.CodeUnknownRegion},
	{ErrDeviceMismatch, hbclient.CodeDeviceMismatch},
	{ErrNotSteady, hbclient.CodeNotSteady},
	{ErrCollision, hbclient.CodeCollision},
	{ErrGlobalOwned, hbclient.CodeGlobalOwned},
	{ErrLimit, hbclient.CodeLimit},
	{ErrIO, hbclient.CodeIO},
	{ErrConfig, hbclient.CodeConfig},
	{ErrStopping, hbclient.CodeStopping},
	{ErrNotOwner, hbclient.CodeNotOwner},
	{ErrKernelPeer, hbclient.CodeKernelPeer},
	{hbdisk.ErrCollision, hbclient.CodeCollision},
	{hbdisk.ErrUnsteady, hbclient.CodeNotSteady},
	{ocfs2.ErrNotOCFS2, hbclient.CodeDeviceMismatch},
	{ocfs2.ErrOtherVolume, hbclient.CodeDeviceMismatch},
}

// code is the wire code of err.
func code(err error) string {
	for _, c := range codes {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return hbclient.CodeIO
}

// kindError marks err as one of the errors above: errors.Is finds both,
// and its text is err's alone.
type kindError struct {
	kind error
	err  error
}

func (e *kindError) Error() string   { return e.err.Error() }
func (e *kindError) Unwrap() []error { return []error{e.kind, e.err} }

// fail returns fmt.Errorf(format, a...) marked as kind.
func fail(kind error, format string, a ...any) error {
	return &kindError{kind: kind, err: fmt.Errorf(format, a...)}
}

// mark returns err marked as kind.
func mark(kind error, err error) error { return &kindError{kind: kind, err: err} }

// regionFail returns an error of region uuid, marked as kind.
func regionFail(uuid string, kind error, format string, a ...any) error {
	return &hbdisk.RegionError{UUID: uuid, Err: fail(kind, format, a...)}
}

// notRunning is the error of a request about region uuid, which does
// not run here.
func notRunning(uuid string) error {
	return regionFail(uuid, ErrUnknownRegion, "not running on this node")
}

// ofRegion returns err as an error of region uuid: err itself if it is
// one already (the engine's errors are), else err under the region's
// name.
func ofRegion(uuid string, err error) error {
	if u, _, ok := splitRegion(err); ok && u == uuid {
		return err
	}
	return &hbdisk.RegionError{UUID: uuid, Err: err}
}

// splitRegion tells whether err is an error of a region, a
// *hbdisk.RegionError under marks only, and returns the region and the
// message without the region's name.
func splitRegion(err error) (uuid, msg string, ok bool) {
	for {
		switch e := err.(type) {
		case *hbdisk.RegionError:
			return e.UUID, e.Err.Error(), true
		case *kindError:
			err = e.err
		default:
			return "", "", false
		}
	}
}

// message is err's text, without the region's name for an error of
// region uuid: what status reports beside the region's UUID.
func message(uuid string, err error) string {
	if u, msg, ok := splitRegion(err); ok && u == uuid {
		return msg
	}
	return err.Error()
}

// wireError is err as the control protocol carries it: its code, and
// for an error of a region, the region as a field and a message that
// does not repeat it.
func wireError(err error) *hbclient.Error {
	e := &hbclient.Error{Code: code(err), Message: err.Error()}
	if uuid, msg, ok := splitRegion(err); ok {
		e.Region, e.Message = uuid, msg
	}
	return e
}
