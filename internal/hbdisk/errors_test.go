package hbdisk

import (
	"errors"
	"fmt"
	"testing"
)

// A region's errors name it as a field, read the same as before as
// text, and still match their sentinel.
func TestRegionError(t *testing.T) {
	const uuid = "00112233445566778899AABBCCDDEEFF"
	err := regionErrorf(uuid, "%w after %d iterations", ErrUnsteady, 6)
	if got, want := err.Error(), "region "+uuid+": "+ErrUnsteady.Error()+" after 6 iterations"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	wrapped := fmt.Errorf("start: %w", err)
	if !errors.Is(wrapped, ErrUnsteady) {
		t.Errorf("errors.Is(%v, ErrUnsteady) = false", wrapped)
	}
	var re *RegionError
	if !errors.As(wrapped, &re) || re.UUID != uuid {
		t.Errorf("errors.As(%v) = %+v, want the region %s", wrapped, re, uuid)
	}
	if got, want := Message(uuid, err), ErrUnsteady.Error()+" after 6 iterations"; got != want {
		t.Errorf("Message(uuid, err) = %q, want %q", got, want)
	}
	if got := Message("FFEEDDCCBBAA99887766554433221100", err); got != err.Error() {
		t.Errorf("Message(other uuid, err) = %q, want the whole text %q", got, err.Error())
	}
}
