package hbclient

import (
	"bufio"
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/o2cb-ra/o2cb-ra/internal/rundir"
)

// A daemon that dies with a request in flight closes its end: the client
// says so, names the socket, and does not wait for its timeout.
func TestClientDaemonHangsUp(t *testing.T) {
	sock := filepath.Join(t.TempDir(), rundir.SocketName)
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		conn.Read(make([]byte, 4096)) // the request
		conn.Close()
	}()
	c := &Client{Socket: sock}
	_, err = c.Do(context.Background(), Request{Op: OpStart, UUID: "0123456789ABCDEF0123456789ABCDEF", Owner: "service:a"})
	if !errors.Is(err, ErrNoAnswer) || !strings.Contains(err.Error(), sock) || !strings.Contains(err.Error(), "start") {
		t.Fatalf("Do(start) against a daemon that hangs up = %v, want ErrNoAnswer naming %s and the operation", err, sock)
	}
}

// A status of hundreds of regions, every node live, goes through: the
// answer's bound is not the request's.
func TestLargeStatusAnswer(t *testing.T) {
	st := Status{Regions: make([]RegionStatus, 512)}
	for i := range st.Regions {
		st.Regions[i].UUID = strings.Repeat("A", 32)
		for n := range 255 {
			st.Regions[i].LiveNodes = append(st.Regions[i].LiveNodes, n)
		}
	}
	var buf strings.Builder
	if err := WriteMessage(&buf, Response{V: 1, OK: true, Status: &st}, MaxResponseBytes); err != nil {
		t.Fatal(err)
	}
	if buf.Len() < MaxMessageBytes {
		t.Fatalf("test status of %d bytes is not larger than a request may be", buf.Len())
	}
	var resp Response
	if err := ReadMessage(bufio.NewReader(strings.NewReader(buf.String())), &resp, MaxResponseBytes); err != nil || len(resp.Status.Regions) != 512 {
		t.Fatalf("readMessage of a %d-byte status: %v", buf.Len(), err)
	}
}

func TestErrorNamesItsRegionOnce(t *testing.T) {
	for _, c := range []struct {
		e    Error
		want string
	}{
		{Error{Code: CodeIO, Message: "write timed out"}, "write timed out"},
		{Error{Code: CodeIO, Message: "write timed out", Region: "0123456789ABCDEF0123456789ABCDEF"}, "region 0123456789ABCDEF0123456789ABCDEF: write timed out"},
	} {
		if got := c.e.Error(); got != c.want {
			t.Errorf("%+v: Error() = %q, want %q", c.e, got, c.want)
		}
		if !errors.Is(&c.e, ErrCode(CodeIO)) || errors.Is(&c.e, ErrCode(CodeConfig)) {
			t.Errorf("%+v: errors.Is does not match by code", c.e)
		}
	}
}

func TestHasOwner(t *testing.T) {
	r := RegionStatus{Owners: []Owner{{Name: OwnerGlobal, Refs: 1}, {Name: "service:/mnt", Refs: 2}}}
	for name, want := range map[string]bool{OwnerGlobal: true, "service:/mnt": true, "service:": false, "pacemaker:r": false} {
		if got := r.HasOwner(name); got != want {
			t.Errorf("HasOwner(%q) = %v, want %v", name, got, want)
		}
	}
}
