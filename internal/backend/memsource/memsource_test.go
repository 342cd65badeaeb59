package memsource

import (
	"context"
	"errors"
	"io/fs"
	"testing"
	"testing/synctest"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/backend"
	"github.com/o2cb-ra/o2cb-ra/internal/hbdisk"
)

const (
	uuidA = "00112233445566778899AABBCCDDEEFF"
	uuidB = "FFEEDDCCBBAA99887766554433221100"
)

var _ backend.Source = (*Source)(nil)

// Resolve finds what was added, and fails as a device search or a wrong
// device does.
func TestResolve(t *testing.T) {
	s := New()
	s.Add(uuidA, nil)
	s.Add(uuidB, nil)
	spec, err := s.Resolve(uuidA, "")
	if err != nil || spec.UUID != uuidA || spec.Device != Device(uuidA) || spec.Geometry != Geometry {
		t.Fatalf("Resolve(%s, \"\") = %+v, %v", uuidA, spec, err)
	}
	if spec, err := s.Resolve(uuidA, Device(uuidA)); err != nil || spec.Device != Device(uuidA) {
		t.Errorf("Resolve on its device = %+v, %v", spec, err)
	}
	for _, tc := range []struct {
		uuid, device string
		want         error
	}{
		{"0123456789ABCDEF0123456789ABCDEF", "", backend.ErrNotFound},
		{uuidA, Device(uuidB), backend.ErrOtherRegion},
		{uuidA, "/mem/elsewhere", fs.ErrNotExist},
	} {
		if _, err := s.Resolve(tc.uuid, tc.device); !errors.Is(err, tc.want) {
			t.Errorf("Resolve(%s, %q) = %v, want %v", tc.uuid, tc.device, err, tc.want)
		}
	}
}

// A region of the source heartbeats on its disk, through the Open hook.
func TestRunHeartbeatsOnTheDisk(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New()
		disk := s.Add(uuidA, nil)
		opens := 0
		s.Open = func(spec backend.Spec, dev hbdisk.Device) (hbdisk.Device, error) {
			opens++
			return dev, nil
		}
		spec, err := s.Resolve(uuidA, "")
		if err != nil {
			t.Fatal(err)
		}
		eng, err := s.Run(spec, backend.Params{Node: 2, Nodes: []int{1, 2}, Interval: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if err := eng.Start(t.Context()); err != nil {
			t.Fatalf("Start: %v", err)
		}
		if err := eng.Stop(context.Background()); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		slot := hbdisk.Slot(disk.Bytes()[Geometry.SlotOffset(2):][:Geometry.BlockBytes])
		if slot.Validate(2) != nil || slot.Seq() == 0 || slot.Generation() != 0 || opens == 0 {
			t.Errorf("node 2's slot after a stop: %v (opens %d), want a clean-stop block written through the hook", slot.Block(), opens)
		}
	})
}
