package hbd

import (
	"bufio"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/backend/memsource"
	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
	"github.com/o2cb-ra/o2cb-ra/internal/hbdisk"
	"github.com/o2cb-ra/o2cb-ra/internal/ocfs2"
	"github.com/o2cb-ra/o2cb-ra/internal/rundir"
	"github.com/o2cb-ra/o2cb-ra/internal/testenv"
)

func start(t *testing.T, c *hbclient.Client, uuid, device, owner string, consumer bool) (*hbclient.Response, error) {
	t.Helper()
	return c.Do(t.Context(), hbclient.Request{Op: hbclient.OpStart, UUID: uuid, Device: device, Owner: owner, Consumer: consumer})
}

// ownSlot reads node's slot from an image.
func ownSlot(t *testing.T, img string, node int) hbdisk.Slot {
	t.Helper()
	v, err := ocfs2.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	f, err := hbdisk.OpenDirectReadOnly(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := v.Heartbeat
	slots, err := hbdisk.ReadSlots(f, hbdisk.Geometry{BlockBytes: h.BlockBytes, StartBlock: h.StartBlock, Blocks: h.Blocks}, node, node)
	if err != nil {
		t.Fatal(err)
	}
	return slots[0]
}

// TestStartErrors: starts on real devices and images that do not hold
// the region, through the socket and the userspace source (the errors of
// the request itself are TestStartErrorsOfRequests').
func TestStartErrors(t *testing.T) {
	dir := t.TempDir()
	img, uuid := image(t, dir)
	_, other := image(t, dir)
	conf := writeClusterConf(t, dir, "local", 2)
	_, c := inProcess(t, conf, volumes(dir))
	junk := filepath.Join(dir, "junk")
	if err := os.WriteFile(junk, make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, uuid, device, owner, code string
	}{
		{"unknown uuid, devices searched", "00112233445566778899AABBCCDDEEFF", "", "service:a", hbclient.CodeUnknownRegion},
		{"device of another volume", other, img, "service:a", hbclient.CodeDeviceMismatch},
		{"device not OCFS2", uuid, junk, "service:a", hbclient.CodeDeviceMismatch},
		{"missing device", uuid, filepath.Join(dir, "gone.img"), "service:a", hbclient.CodeIO},
	} {
		_, err := start(t, c, tc.uuid, tc.device, tc.owner, true)
		if !errors.Is(err, hbclient.ErrCode(tc.code)) {
			t.Errorf("%s: start = %v, want code %s", tc.name, err, tc.code)
		}
		// The region travels as a field, not in the message.
		var e *hbclient.Error
		if !errors.As(err, &e) || e.Region != tc.uuid || strings.Contains(e.Message, tc.uuid) {
			t.Errorf("%s: start = %#v, want an error of region %s whose message does not name it", tc.name, err, tc.uuid)
		}
	}
	if st, _ := c.Status(t.Context()); len(st.Regions) != 0 {
		t.Fatalf("failed starts left regions: %+v", st.Regions)
	}
}

func TestSecondDaemonRefused(t *testing.T) {
	dir := t.TempDir()
	conf := writeClusterConf(t, dir, "local", 2)
	d1, c := inProcess(t, conf, memsource.New())
	d2, err := New(Config{RunDir: d1.cfg.RunDir, ClusterConf: conf, NodeName: "n1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(d2); !errors.Is(err, rundir.ErrAlreadyRunning) {
		t.Fatalf("second Listen on one run dir = %v, want ErrAlreadyRunning", err)
	}
	if _, err := c.Do(t.Context(), hbclient.Request{Op: hbclient.OpPing}); err != nil {
		t.Fatalf("first daemon after the refused second: %v", err)
	}
}

func TestRunDirMustBePrivate(t *testing.T) {
	dir := t.TempDir()
	open := filepath.Join(dir, "open")
	if err := os.Mkdir(open, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(open, 0o777)
	if err := rundir.PrepareRunDir(open); err == nil || !strings.Contains(err.Error(), "writable by group or others") {
		t.Fatalf("PrepareRunDir(0777 dir) = %v", err)
	}
	link := filepath.Join(dir, "link")
	os.Symlink(t.TempDir(), link)
	if err := rundir.PrepareRunDir(link); err == nil {
		t.Fatal("PrepareRunDir(symlink) = nil, want an error")
	}
}

// rawExchange sends raw bytes on the socket and returns the answer line.
func rawExchange(t *testing.T, sock string, data []byte) string {
	t.Helper()
	conn, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	go conn.Write(data)
	line, _ := bufio.NewReader(conn).ReadString('\n')
	return line
}

func TestHostileMessages(t *testing.T) {
	dir := t.TempDir()
	conf := writeClusterConf(t, dir, "local", 2)
	d, c := inProcess(t, conf, memsource.New())
	sock := filepath.Join(d.cfg.RunDir, rundir.SocketName)
	for _, tc := range []struct {
		name string
		data []byte
		code string
	}{
		{"oversized", append([]byte(`{"v":1,"op":"ping","uuid":"`), make([]byte, 2*hbclient.MaxMessageBytes)...), hbclient.CodeBadRequest},
		{"not json", []byte("hello\n"), hbclient.CodeBadRequest},
		{"two values", []byte(`{"v":1,"op":"ping"} {"v":1}` + "\n"), hbclient.CodeBadRequest},
		{"wrong version", []byte(`{"v":7,"op":"ping"}` + "\n"), hbclient.CodeVersion},
		{"unknown op", []byte(`{"v":1,"op":"format"}` + "\n"), hbclient.CodeBadRequest},
		{"unknown field", []byte(`{"v":1,"op":"ping","x":1}` + "\n"), hbclient.CodeBadRequest},
		{"control character in owner", []byte(`{"v":1,"op":"start","uuid":"00112233445566778899AABBCCDDEEFF","owner":"service:a\u0007"}` + "\n"), hbclient.CodeBadRequest},
	} {
		var resp hbclient.Response
		line := rawExchange(t, sock, tc.data)
		if err := json.Unmarshal([]byte(line), &resp); err != nil {
			t.Errorf("%s: answer %q is not a response: %v", tc.name, line, err)
			continue
		}
		if resp.OK || resp.Error == nil || resp.Error.Code != tc.code {
			t.Errorf("%s: answer %+v, want error code %s", tc.name, resp, tc.code)
		}
	}
	// A client that connects and says nothing does not hold up others.
	idle, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	if _, err := c.Do(t.Context(), hbclient.Request{Op: hbclient.OpPing}); err != nil {
		t.Fatalf("ping beside an idle client: %v", err)
	}
}

// A client that hangs up while its start waits for steady cancels it:
// its reference is dropped, not left behind.
func TestClientHangUpDropsItsReference(t *testing.T) {
	src := memsource.New()
	uuid := memUUID1
	src.Add(uuid, nil)
	conf := writeClusterConf(t, t.TempDir(), "local", 2)
	d, c := inProcess(t, conf, src)
	conn, err := net.Dial("unix", filepath.Join(d.cfg.RunDir, rundir.SocketName))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := json.Marshal(hbclient.Request{V: hbclient.ProtocolVersion, Op: hbclient.OpStart, UUID: uuid, Owner: "service:killed", Consumer: true})
	conn.Write(append(req, '\n'))
	time.Sleep(testInterval / 2) // the start is waiting for steady
	conn.Close()
	testenv.WaitFor(t, 5*testInterval, "the hung-up client's reference dropped", func() bool {
		st, err := c.Status(t.Context())
		return err == nil && len(st.Regions) == 0
	})
}
