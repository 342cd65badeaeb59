package memdisk_test

import (
	"bytes"
	"errors"
	"io"
	"syscall"
	"testing"

	"github.com/o2cb-ra/o2cb-ra/internal/hbdisk"
	"github.com/o2cb-ra/o2cb-ra/internal/hbdisk/memdisk"
)

var _ hbdisk.Device = memdisk.Handle{}

// Handles share the disk's bytes; faults hit them, not WriteRaw.
func TestDiskHandlesAndFaults(t *testing.T) {
	disk := memdisk.New(4096)
	a, b := disk.Device(), disk.Device()
	if n, err := a.WriteAt(bytes.Repeat([]byte{7}, 512), 512); n != 512 || err != nil {
		t.Fatalf("WriteAt = %d, %v", n, err)
	}
	got := make([]byte, 512)
	if n, err := b.ReadAt(got, 512); n != 512 || err != nil || got[0] != 7 || got[511] != 7 {
		t.Fatalf("ReadAt through another handle = %d, %v, %v; want the bytes written", n, err, got[:4])
	}
	if _, err := a.ReadAt(got, 4096); !errors.Is(err, io.EOF) {
		t.Errorf("ReadAt past the end = %v, want EOF", err)
	}
	if _, err := a.WriteAt(got, 4000); err == nil {
		t.Errorf("WriteAt across the end = nil, want an error")
	}
	disk.FailWrites(syscall.EIO)
	if _, err := a.WriteAt(got, 0); !errors.Is(err, syscall.EIO) {
		t.Errorf("WriteAt with writes failing = %v, want EIO", err)
	}
	disk.WriteRaw([]byte{9}, 0)
	disk.FailReads(syscall.EROFS)
	if _, err := a.ReadAt(got, 0); !errors.Is(err, syscall.EROFS) {
		t.Errorf("ReadAt with reads failing = %v, want EROFS", err)
	}
	if disk.Bytes()[0] != 9 || disk.Writes() != 1 {
		t.Errorf("after a raw write: byte 0 = %d, %d writes through handles; want 9 and 1", disk.Bytes()[0], disk.Writes())
	}
	if err := a.Close(); err != nil || disk.Bytes()[512] != 7 {
		t.Errorf("Close = %v; the disk keeps its bytes: %d", err, disk.Bytes()[512])
	}
}
