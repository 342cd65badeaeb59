package faults

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
	"github.com/o2cb-ra/o2cb-ra/internal/process"
	"github.com/o2cb-ra/o2cb-ra/internal/rundir"
	"github.com/o2cb-ra/o2cb-ra/internal/testenv"
)

// procKB reads a "Name:   N kB" field of /proc/PID/status.
func procKB(t *testing.T, pid int, field string) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			if err != nil {
				t.Fatalf("/proc/%d/status %s: %v", pid, field, err)
			}
			return n
		}
	}
	t.Fatalf("/proc/%d/status has no %s", pid, field)
	return 0
}

func openFDs(t *testing.T, pid int) int {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// rawAnswer sends payload on a new connection to sock (then half-closes
// it if closeWrite) and returns the daemon's answer, decoded.
func rawAnswer(t *testing.T, sock string, payload []byte, closeWrite bool) (hbclient.Response, string) {
	t.Helper()
	conn, err := net.DialTimeout("unix", sock, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(15 * time.Second))
	// The daemon may refuse and hang up before it has read everything:
	// a failed write is fine, its answer is what counts.
	conn.Write(payload)
	if closeWrite {
		conn.(*net.UnixConn).CloseWrite()
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		t.Fatalf("read the answer to %.40q: %v (got %q)", payload, err, line)
	}
	var resp hbclient.Response
	if err := json.Unmarshal([]byte(line), &resp); err != nil {
		t.Fatalf("answer %q: %v", line, err)
	}
	return resp, strings.TrimSpace(line)
}

func TestHostileMessages(t *testing.T) {
	f := record(t, "input",
		"to a daemon with a running region, on its socket: a 100 MiB line without a newline, a line 1 byte over MaxMessageBytes (64 KiB), a valid line padded to 1 byte under it, truncated JSON then half-close, invalid UTF-8, 30000-deep nesting, wrong types, unknown op, unknown field, two values on a line, NUL bytes, wrong version, an owner with a control character; a client that sends nothing; 200 concurrent idle connections",
		"each hostile message answered bad_request (or version) and closed, the padded valid one answered; the idle ones answered after the 5 s read timeout; status answered to another client throughout; peak RSS grows by less than 8 MiB; file descriptors back to where they were; owners and state.json unchanged")
	n, v := oneRegion(t, f)
	dir := n.c.dir
	pid := n.pid()
	sock := filepath.Join(n.Run, rundir.SocketName)
	statePath := filepath.Join(n.Run, rundir.StateName)
	stateBefore := identify(t, statePath)
	ownersBefore := n.region(v.UUID).Owners
	var slowest time.Duration
	var statusCalls int
	var statusMu sync.Mutex
	alive := func(when string) {
		t.Helper()
		begin := time.Now()
		st, err := n.client().Status(context.Background())
		took := time.Since(begin)
		if err != nil || len(st.Regions) != 1 || st.Regions[0].State != "running" && st.Regions[0].State != hbclient.StateSteady {
			var state hbclient.State
			if st != nil && len(st.Regions) == 1 {
				state = st.Regions[0].State
			}
			t.Errorf("status %s = %v, region state %q; want an answer with the region running", when, err, state)
			return
		}
		statusMu.Lock()
		slowest, statusCalls = max(slowest, took), statusCalls+1
		statusMu.Unlock()
	}
	alive("before")
	state0 := n.region(v.UUID).State
	// The daemon may not have closed the status call's connection yet
	// when the client has its answer: the baseline is the fewest
	// descriptors seen over a moment, else the 201 idle connections below
	// could never reach it plus 201.
	fds0 := openFDs(t, pid)
	for range 20 {
		time.Sleep(10 * time.Millisecond)
		fds0 = min(fds0, openFDs(t, pid))
	}
	hwm0, rss0 := procKB(t, pid, "VmHWM"), procKB(t, pid, "VmRSS")

	over := []byte(`{"v":1,"op":"status","uuid":"` + strings.Repeat("A", hbclient.MaxMessageBytes) + `"}` + "\n")
	padded := []byte(`{"v":1,"op":"ping"}`)
	padded = append(padded, bytes.Repeat([]byte(" "), hbclient.MaxMessageBytes-1-len(padded))...)
	padded = append(padded, '\n')
	for _, tc := range []struct {
		name       string
		payload    []byte
		closeWrite bool
		code, want string // code "" means the request is answered ok
	}{
		{"1 byte over the limit", over, false, hbclient.CodeBadRequest, "exceeds the size limit"},
		{"padded to 1 byte under the limit", padded, false, "", ""},
		{"truncated then half-closed", []byte(`{"v":1,"op":"sta`), true, hbclient.CodeBadRequest, "unexpected EOF"},
		{"invalid UTF-8", []byte("{\"v\":1,\"op\":\"st\xff\xfeatus\"}\n"), false, hbclient.CodeBadRequest, "unknown operation"},
		{"30000-deep nesting", []byte(`{"v":1,"op":"status","owner":` + strings.Repeat("[", 30000) + strings.Repeat("]", 30000) + "}\n"), false, hbclient.CodeBadRequest, "exceeded max depth"},
		{"wrong types", []byte(`{"v":"1","op":["status"],"timeout_ms":1e400}` + "\n"), false, hbclient.CodeBadRequest, "cannot unmarshal"},
		{"unknown op", []byte(`{"v":1,"op":"format"}` + "\n"), false, hbclient.CodeBadRequest, `unknown operation "format"`},
		{"unknown field", []byte(`{"v":1,"op":"stop","uuid":"` + v.UUID + `","owner":"service:mnt","force":true}` + "\n"), false, hbclient.CodeBadRequest, `unknown field "force"`},
		{"two values on a line", []byte(`{"v":1,"op":"status"} {"v":1,"op":"stop","uuid":"` + v.UUID + `","owner":"service:mnt"}` + "\n"), false, hbclient.CodeBadRequest, "more than one JSON value"},
		{"NUL bytes", append(make([]byte, 4096), '\n'), false, hbclient.CodeBadRequest, "malformed message"},
		{"wrong version", []byte(`{"v":2,"op":"stop","uuid":"` + v.UUID + `","owner":"service:mnt"}` + "\n"), false, hbclient.CodeVersion, "version 2"},
		{"owner with a control character", []byte(`{"v":1,"op":"start","uuid":"` + v.UUID + `","owner":"service:a\u0000b"}` + "\n"), false, hbclient.CodeBadRequest, "control character"},
	} {
		resp, line := rawAnswer(t, sock, tc.payload, tc.closeWrite)
		switch {
		case tc.code == "" && !resp.OK:
			t.Errorf("%s: answer %s, want ok", tc.name, line)
		case tc.code != "" && (resp.OK || resp.Error == nil || resp.Error.Code != tc.code || !strings.Contains(resp.Error.Message, tc.want)):
			t.Errorf("%s: answer %.300s, want error %s saying %q", tc.name, line, tc.code, tc.want)
		case tc.code == "":
			f.observe(t, "%s (%d bytes): ok", tc.name, len(tc.payload))
		default:
			f.observe(t, "%s (%d bytes): %s %.80q", tc.name, len(tc.payload), resp.Error.Code, resp.Error.Message)
		}
		alive("after " + tc.name)
	}

	// 100 MiB without a newline, status asked meanwhile.
	conn, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	const flood = 100 << 20
	var sent int
	var werr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		chunk := bytes.Repeat([]byte("a"), 1<<20)
		copy(chunk, `{"v":1,"op":"`)
		for sent < flood {
			var k int
			k, werr = conn.Write(chunk)
			sent += k
			if werr != nil {
				return
			}
		}
	}()
	alive("during the flood")
	answer, rerr := bufio.NewReader(conn).ReadString('\n')
	<-done
	conn.Close()
	if rerr != nil || !strings.Contains(answer, hbclient.CodeBadRequest) || !strings.Contains(answer, "exceeds the size limit") {
		t.Errorf("100 MiB line: answer %q, %v; want bad_request, exceeds the size limit", answer, rerr)
	}
	if sent >= flood {
		t.Errorf("100 MiB line: the daemon took all %d bytes, want it to stop reading at the limit", sent)
	}
	f.observe(t, "100 MiB line: answered %q; the socket took %d KiB before the write failed (%v)", strings.TrimSpace(answer), sent>>10, strings.ReplaceAll(fmt.Sprint(werr), dir, "$TMP"))
	alive("after the flood")

	// One client that says nothing, then 200 at once.
	var wg sync.WaitGroup
	const idle = 200
	conns := make([]net.Conn, idle+1)
	for i := range conns {
		if conns[i], err = net.Dial("unix", sock); err != nil {
			t.Fatalf("idle connection %d: %v", i, err)
		}
		defer conns[i].Close()
	}
	begin := time.Now()
	var fdsHeld int
	testenv.WaitFor(t, 5*time.Second, "daemon accepts the idle connections", func() bool {
		fdsHeld = openFDs(t, pid)
		return fdsHeld >= fds0+idle+1
	})
	waits := make([]time.Duration, len(conns))
	answers := make([]string, len(conns))
	for i, cn := range conns {
		wg.Go(func() {
			cn.SetDeadline(time.Now().Add(20 * time.Second))
			answers[i], _ = bufio.NewReader(cn).ReadString('\n')
			waits[i] = time.Since(begin)
		})
	}
	for range 5 {
		alive("with 201 idle connections")
		time.Sleep(200 * time.Millisecond)
	}
	wg.Wait()
	minW, maxW := waits[0], waits[0]
	for i, a := range answers {
		minW, maxW = min(minW, waits[i]), max(maxW, waits[i])
		if !strings.Contains(a, hbclient.CodeBadRequest) || !strings.Contains(a, "no complete request line within 5s") {
			t.Fatalf("idle connection %d: answer %q, want bad_request: no complete request line within 5s", i, a)
		}
	}
	if minW < 4*time.Second || maxW > 15*time.Second {
		t.Errorf("idle connections answered after %v to %v, want about the 5 s read timeout", minW, maxW)
	}
	f.observe(t, "201 idle connections (daemon fds %d -> %d): each answered %q after %v to %v; status answered meanwhile",
		fds0, fdsHeld, firstLine(answers[0]), minW.Round(10*time.Millisecond), maxW.Round(10*time.Millisecond))
	for _, cn := range conns {
		cn.Close()
	}
	alive("after the idle connections")

	// What is left: memory, descriptors, the daemon and its state.
	if !process.Running(pid) || n.pid() != pid {
		t.Fatalf("daemon %d gone (pid file says %d)", pid, n.pid())
	}
	var fds1 int
	testenv.WaitFor(t, 5*time.Second, "daemon's descriptors back to where they were", func() bool {
		fds1 = openFDs(t, pid)
		return fds1 <= fds0+2
	})
	hwm1, rss1 := procKB(t, pid, "VmHWM"), procKB(t, pid, "VmRSS")
	if grew := hwm1 - hwm0; grew > 8<<10 {
		t.Errorf("daemon peak RSS grew by %d KiB (VmHWM %d -> %d kB), want under 8 MiB", grew, hwm0, hwm1)
	}
	f.observe(t, "daemon memory: VmHWM %d -> %d kB (+%d KiB), VmRSS %d -> %d kB; open fds %d -> %d -> %d; %d status calls answered, slowest %v",
		hwm0, hwm1, hwm1-hwm0, rss0, rss1, fds0, fdsHeld, fds1, statusCalls, slowest.Round(time.Millisecond))
	if got := n.region(v.UUID); !reflect.DeepEqual(got.Owners, ownersBefore) || got.State != state0 {
		t.Fatalf("region after the hostile clients: owners %v, state %s; want %v, %s", got.Owners, got.State, ownersBefore, state0)
	}
	if got := identify(t, statePath); got != stateBefore {
		t.Fatalf("state.json after the hostile clients = %+v, want %+v", got, stateBefore)
	}
	if strings.Contains(n.log(), "panic") {
		t.Fatalf("daemon log mentions a panic:\n%s", n.log())
	}
	f.dataChecked("owners, region state and state.json (content, mode, mtime) unchanged; daemon pid unchanged")
}
