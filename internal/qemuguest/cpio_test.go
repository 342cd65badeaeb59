package qemuguest

import (
	"bytes"
	"strconv"
	"syscall"
	"testing"
)

// entry is one parsed newc record.
type entry struct {
	name      string
	mode      uint32
	data      []byte
	rdevMajor int
	rdevMinor int
}

// parseNewc reads a newc archive as the kernel does: 110-byte headers of
// 8-digit hex fields, name and data each padded to 4 bytes.
func parseNewc(t *testing.T, b []byte) []entry {
	t.Helper()
	var out []entry
	off := 0
	field := func(i int) int {
		v, err := strconv.ParseUint(string(b[off+6+8*i:off+14+8*i]), 16, 32)
		if err != nil {
			t.Fatalf("header at %d, field %d: %v", off, i, err)
		}
		return int(v)
	}
	for off < len(b) {
		if off%4 != 0 {
			t.Fatalf("record at %d is not 4-byte aligned", off)
		}
		if string(b[off:off+6]) != "070701" {
			t.Fatalf("record at %d: magic %q, want 070701", off, b[off:off+6])
		}
		mode, size, maj, min, nameSize := field(1), field(6), field(9), field(10), field(11)
		nameAt := off + 110
		name := string(b[nameAt : nameAt+nameSize-1])
		if b[nameAt+nameSize-1] != 0 {
			t.Fatalf("%s: name not NUL-terminated", name)
		}
		dataAt := (nameAt + nameSize + 3) &^ 3
		e := entry{name: name, mode: uint32(mode), data: b[dataAt : dataAt+size], rdevMajor: maj, rdevMinor: min}
		out = append(out, e)
		off = (dataAt + size + 3) &^ 3
		if name == "TRAILER!!!" {
			if off != len(b) {
				t.Fatalf("%d bytes after the trailer", len(b)-off)
			}
			break
		}
	}
	return out
}

func TestCPIO(t *testing.T) {
	var buf bytes.Buffer
	w := NewCPIO(&buf)
	w.Dir("bin", "etc")
	w.File("init", 0o755, []byte("#!/bin/sh\n"))
	w.File("etc/x", 0o644, []byte("12345")) // odd sizes need padding
	w.Symlink("bin/sh", "busybox")
	w.Add("dev/console", syscall.S_IFCHR|0o600, nil, 5, 1)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got := parseNewc(t, buf.Bytes())
	want := []entry{
		{name: "bin", mode: syscall.S_IFDIR | 0o755},
		{name: "etc", mode: syscall.S_IFDIR | 0o755},
		{name: "init", mode: syscall.S_IFREG | 0o755, data: []byte("#!/bin/sh\n")},
		{name: "etc/x", mode: syscall.S_IFREG | 0o644, data: []byte("12345")},
		{name: "bin/sh", mode: syscall.S_IFLNK | 0o777, data: []byte("busybox")},
		{name: "dev/console", mode: syscall.S_IFCHR | 0o600, rdevMajor: 5, rdevMinor: 1},
		{name: "TRAILER!!!"},
	}
	if len(got) != len(want) {
		t.Fatalf("parsed %d records, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.name != w.name || g.mode != w.mode || !bytes.Equal(g.data, w.data) || g.rdevMajor != w.rdevMajor || g.rdevMinor != w.rdevMinor {
			t.Errorf("record %d = %q mode %o data %q rdev %d:%d, want %q mode %o data %q rdev %d:%d",
				i, g.name, g.mode, g.data, g.rdevMajor, g.rdevMinor, w.name, w.mode, w.data, w.rdevMajor, w.rdevMinor)
		}
	}
}

type failWriter struct{ n int }

func (f *failWriter) Write(b []byte) (int, error) {
	if f.n -= len(b); f.n < 0 {
		return 0, syscall.ENOSPC
	}
	return len(b), nil
}

func TestCPIOWriteErrorSticks(t *testing.T) {
	w := NewCPIO(&failWriter{n: 200})
	w.File("a", 0o644, make([]byte, 100))
	w.File("b", 0o644, make([]byte, 100))
	if err := w.Close(); err != syscall.ENOSPC {
		t.Errorf("Close() = %v, want ENOSPC", err)
	}
}
