package hbclient

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

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

// Health asks for the monitor's part of the status, and asks a daemon
// from before OpHealth for its whole status.
func TestHealth(t *testing.T) {
	full := &Status{Node: Node{Name: "n1", Number: 1}, Backend: BackendUserspace, IntervalMS: 2000, PID: 7,
		Regions: []RegionStatus{{UUID: "AB", Device: "/dev/sdb", State: StateSteady, LiveNodes: []int{1, 2},
			Owners: []Owner{{Name: OwnerGlobal, Refs: 1}}, OwnSlotAge: 0.5, IOInFlight: 1.5, Iterations: 9, Reads: 9}}}
	for _, old := range []bool{false, true} {
		dir := t.TempDir()
		var mu sync.Mutex
		var ops []string
		fakeDaemon(t, dir, 0, func(req Request) Response {
			mu.Lock()
			ops = append(ops, req.Op)
			mu.Unlock()
			switch {
			case req.Op == OpHealth && !old:
				return Response{V: ProtocolVersion, OK: true, Health: HealthOf(full)}
			case req.Op == OpStatus:
				return Response{V: ProtocolVersion, OK: true, Status: full}
			}
			return Response{V: ProtocolVersion, Error: &Error{Code: CodeBadRequest, Message: "unknown operation " + req.Op}}
		})
		var st *Status
		var err error
		for range 1000 { // until it listens
			if st, err = NewClient(dir).Health(t.Context()); !errors.Is(err, ErrNotRunning) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err != nil {
			t.Fatalf("old daemon %v: Health: %v", old, err)
		}
		want := []string{OpHealth}
		if old {
			want = append(want, OpStatus)
		}
		mu.Lock()
		got := strings.Join(ops, ",")
		mu.Unlock()
		if got != strings.Join(want, ",") {
			t.Errorf("old daemon %v: requests %s, want %v", old, got, want)
		}
		r := st.Regions[0]
		if len(st.Regions) != 1 || st.Node != full.Node || st.Backend != full.Backend || st.IntervalMS != 2000 ||
			r.UUID != "AB" || r.Device != "/dev/sdb" || r.State != StateSteady || len(r.LiveNodes) != 2 ||
			!r.HasOwner(OwnerGlobal) || r.OwnSlotAge != 0.5 || r.IOInFlight != 1.5 {
			t.Errorf("old daemon %v: Health() = %+v, want the judged fields of %+v", old, st, full)
		}
		if (r.Iterations != 0) != old {
			t.Errorf("old daemon %v: iterations %d: the health answer carries no counters, the status answer does", old, r.Iterations)
		}
	}
}

// A region's health has the JSON names of its status: a client that
// decodes either reads the same fields.
func TestRegionHealthNames(t *testing.T) {
	st := &Status{Regions: []RegionStatus{{UUID: "AB", Device: "/d", State: StateFailed, Error: "eio", LiveNodes: []int{3},
		Owners: []Owner{{Name: "service:x", Refs: 2}}, OwnSlotAge: 4, IOInFlight: 2}}}
	b, err := json.Marshal(HealthOf(st).Regions[0])
	if err != nil {
		t.Fatal(err)
	}
	var got RegionStatus
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if want := HealthOf(st).Status().Regions[0]; !reflect.DeepEqual(got, want) || got.Error != "eio" || got.OwnSlotAge != 4 {
		t.Errorf("health %s read as a status: %+v, want %+v", b, got, want)
	}
}
