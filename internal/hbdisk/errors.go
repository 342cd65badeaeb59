package hbdisk

import "fmt"

// RegionError is an error of one region, named by its UUID (or, for a
// region configured without one, its device). Error gives
// "region <UUID>: <Err>"; Err alone says what went wrong, for a reader
// that names the region its own way.
type RegionError struct {
	UUID string
	Err  error
}

func (e *RegionError) Error() string { return "region " + e.UUID + ": " + e.Err.Error() }

func (e *RegionError) Unwrap() error { return e.Err }

// regionErrorf returns a RegionError of uuid whose Err is
// fmt.Errorf(format, a...).
func regionErrorf(uuid, format string, a ...any) error {
	return &RegionError{UUID: uuid, Err: fmt.Errorf(format, a...)}
}

// Message is err's text without the "region <uuid>: " of a RegionError of
// uuid at its head.
func Message(uuid string, err error) string {
	if re, ok := err.(*RegionError); ok && re.UUID == uuid {
		return re.Err.Error()
	}
	return err.Error()
}
