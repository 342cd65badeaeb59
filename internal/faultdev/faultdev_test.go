package faultdev_test

import (
	"bytes"
	"errors"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/faultdev"
	"github.com/o2cb-ra/o2cb-ra/internal/hbdisk"
	"github.com/o2cb-ra/o2cb-ra/internal/testenv"
)

// newDisk returns a loop device with 512-byte sectors over a faulty FUSE
// file backed by a 1 MiB image whose sector i is filled with byte i.
func newDisk(t *testing.T) (*testenv.FaultyDisk, *os.File) {
	t.Helper()
	testenv.RequireRoot(t)
	img := t.TempDir() + "/disk.img"
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = byte(i / 512)
	}
	if err := os.WriteFile(img, data, 0o600); err != nil {
		t.Fatal(err)
	}
	d := testenv.FaultyLoop(t, img, 512)
	f, err := hbdisk.OpenDirect(d.Device)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return d, f
}

func sector(b byte) []byte { return bytes.Repeat([]byte{b}, 512) }

func TestPassThrough(t *testing.T) {
	d, f := newDisk(t)
	buf := hbdisk.AlignedBuffer(512)
	if _, err := f.ReadAt(buf, 7*512); err != nil || !bytes.Equal(buf, sector(7)) {
		t.Fatalf("read sector 7 through %s: err %v, first byte %d, want 7", d.Device, err, buf[0])
	}
	copy(buf, sector(0xAB))
	if _, err := f.WriteAt(buf, 9*512); err != nil {
		t.Fatalf("write sector 9 through %s: %v", d.Device, err)
	}
	img, err := os.ReadFile(d.Image)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(img[9*512:10*512], sector(0xAB)) || !bytes.Equal(img[10*512:11*512], sector(10)) {
		t.Fatalf("the image does not hold exactly the written sector 9")
	}
	if c := d.Counts(); c.Reads == 0 || c.Writes == 0 {
		t.Fatalf("Counts() = %+v: the I/O did not reach the FUSE server", c)
	}
}

func TestFail(t *testing.T) {
	d, f := newDisk(t)
	buf := hbdisk.AlignedBuffer(512)
	d.Fail(faultdev.Writes, syscall.EIO)
	if _, err := f.WriteAt(buf, 3*512); !errors.Is(err, syscall.EIO) {
		t.Fatalf("write with writes failing = %v, want EIO", err)
	}
	if _, err := f.ReadAt(buf, 3*512); err != nil {
		t.Fatalf("read with only writes failing = %v, want success", err)
	}
	d.Heal()
	if _, err := f.WriteAt(buf, 3*512); err != nil {
		t.Fatalf("write after Heal = %v", err)
	}
}

func TestStall(t *testing.T) {
	d, f := newDisk(t)
	d.Stall(faultdev.Writes, time.Minute)
	done := make(chan error, 1)
	go func() {
		buf := hbdisk.AlignedBuffer(512)
		_, err := f.WriteAt(buf, 4*512)
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("write returned (%v) while writes stall", err)
	case <-time.After(300 * time.Millisecond):
	}
	if c := d.Counts(); c.Stalled == 0 {
		t.Fatalf("Counts() = %+v, want a stalled request", c)
	}
	d.Heal()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("stalled write after Heal = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("write still blocked 10s after Heal")
	}
}

func TestStallBound(t *testing.T) {
	d, f := newDisk(t)
	d.Stall(faultdev.Reads, 200*time.Millisecond)
	start := time.Now()
	buf := hbdisk.AlignedBuffer(512)
	if _, err := f.ReadAt(buf, 0); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 150*time.Millisecond || took > 5*time.Second {
		t.Fatalf("read under a 200ms stall took %v", took)
	}
}

func TestStale(t *testing.T) {
	d, f := newDisk(t)
	if err := d.Stale(); err != nil {
		t.Fatal(err)
	}
	buf := hbdisk.AlignedBuffer(512)
	copy(buf, sector(0xCD))
	if _, err := f.WriteAt(buf, 5*512); err != nil {
		t.Fatal(err)
	}
	if _, err := f.ReadAt(buf, 5*512); err != nil || !bytes.Equal(buf, sector(5)) {
		t.Fatalf("stale read of sector 5: err %v, first byte %#x, want the old 5", err, buf[0])
	}
	d.Heal()
	if _, err := f.ReadAt(buf, 5*512); err != nil || !bytes.Equal(buf, sector(0xCD)) {
		t.Fatalf("read after Heal: err %v, first byte %#x, want the written 0xcd", err, buf[0])
	}
}
