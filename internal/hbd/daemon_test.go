package hbd

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/backend"
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

func stop(t *testing.T, c *hbclient.Client, uuid, owner string, consumer bool) (*hbclient.Response, error) {
	t.Helper()
	return c.Do(t.Context(), hbclient.Request{Op: hbclient.OpStop, UUID: uuid, Owner: owner, Consumer: consumer})
}

func refs(t *testing.T, c *hbclient.Client, uuid string) int {
	t.Helper()
	resp, err := c.Do(t.Context(), hbclient.Request{Op: hbclient.OpInfo, UUID: uuid})
	if errors.Is(err, hbclient.ErrCode(hbclient.CodeUnknownRegion)) {
		return 0
	}
	if err != nil {
		t.Fatalf("info %s: %v", uuid, err)
	}
	return resp.Region.Refs
}

func TestLocalModeOwnersAndReferences(t *testing.T) {
	dir := t.TempDir()
	img, uuid := image(t, dir)
	conf := writeClusterConf(t, dir, "local", 3)
	_, c := inProcess(t, conf, dir+"/*.img")

	begin := time.Now()
	resp, err := start(t, c, strings.ToLower(uuid), "", "service:/mnt/a", true)
	if err != nil {
		t.Fatalf("start by UUID (lower case): %v", err)
	}
	if took := time.Since(begin); took > 3*testInterval {
		t.Errorf("start took %v, want steady within about 2 intervals (%v)", took, 2*testInterval)
	}
	if resp.Region == nil || resp.Region.State != hbclient.StateSteady || resp.Region.Device != img || !slices.Contains(resp.Region.LiveNodes, 1) {
		t.Fatalf("start answer: %+v, want steady on %s with node 1 live", resp.Region, img)
	}
	if _, err := start(t, c, uuid, img, "service:/mnt/a", true); err != nil {
		t.Fatal(err)
	}
	for range 2 { // a Pacemaker resource holds one reference, however often it starts
		if _, err := start(t, c, uuid, "", "pacemaker:hb1", false); err != nil {
			t.Fatal(err)
		}
	}
	if got := refs(t, c, uuid); got != 3 {
		t.Fatalf("refs = %d, want 3", got)
	}
	if _, err := stop(t, c, uuid, "service:/mnt/b", true); !errors.Is(err, hbclient.ErrCode(hbclient.CodeNotOwner)) {
		t.Fatalf("stop by a non-owner = %v, want not_owner", err)
	}
	if _, err := start(t, c, uuid, "", hbclient.OwnerGlobal, false); !errors.Is(err, hbclient.ErrCode(hbclient.CodeConfig)) {
		t.Fatalf("global owner in local mode = %v, want config error", err)
	}
	for i, owner := range []string{"service:/mnt/a", "pacemaker:hb1", "service:/mnt/a"} {
		if _, err := stop(t, c, uuid, owner, owner != "pacemaker:hb1"); err != nil {
			t.Fatalf("stop %s: %v", owner, err)
		}
		if got, want := refs(t, c, uuid), 2-i; got != want {
			t.Fatalf("after stop %d: refs = %d, want %d", i, got, want)
		}
	}
	st, _ := c.Status(t.Context())
	if len(st.Regions) != 0 {
		t.Fatalf("regions after the last stop: %+v", st.Regions)
	}
	if s := ownSlot(t, img, 1); s.Generation() != 0 || s.Seq() == 0 || s.Validate(1) != nil {
		t.Fatalf("node 1's slot after the last stop: %v, want a clean-stop block", s.Block())
	}
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

func TestGlobalModeRules(t *testing.T) {
	dir := t.TempDir()
	_, uuid := image(t, dir)
	_, other := image(t, dir)
	conf := writeClusterConf(t, dir, "global", 3, uuid)
	_, c := inProcess(t, conf, dir+"/*.img")

	resp, err := start(t, c, uuid, "", "service:/mnt", true)
	if err != nil || resp.Note == "" {
		t.Fatalf("consumer start in global mode = %+v, %v; want a no-op success with a note", resp, err)
	}
	if got := refs(t, c, uuid); got != 0 {
		t.Fatalf("consumer start changed refs to %d", got)
	}
	if _, err := start(t, c, other, "", hbclient.OwnerGlobal, false); !errors.Is(err, hbclient.ErrCode(hbclient.CodeConfig)) {
		t.Fatalf("global start of a region not in cluster.conf = %v, want config error", err)
	}
	if _, err := start(t, c, uuid, "", hbclient.OwnerGlobal, false); err != nil {
		t.Fatalf("global start: %v", err)
	}
	if _, err := start(t, c, uuid, "", "pacemaker:hb", false); !errors.Is(err, hbclient.ErrCode(hbclient.CodeGlobalOwned)) ||
		!strings.Contains(err.Error(), "manage_regions=false") {
		t.Fatalf("pacemaker start of a global region = %v, want global_owned naming manage_regions=false", err)
	}
	// A region outside cluster.conf may still be a pacemaker resource.
	if _, err := start(t, c, other, "", "pacemaker:hb", false); err != nil {
		t.Fatalf("pacemaker start of another region: %v", err)
	}
	if _, err := stop(t, c, uuid, "service:/mnt", true); err != nil {
		t.Fatalf("consumer stop in global mode: %v", err)
	}
	if got := refs(t, c, uuid); got != 1 {
		t.Fatalf("consumer stop changed refs to %d", got)
	}
	st, err := c.Status(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode != "global" || st.Cluster != "test" || st.Node.Name != "n1" || st.Node.Number != 1 || len(st.Regions) != 2 {
		t.Fatalf("status = %+v", st)
	}
	if !slices.Equal(st.LiveNodes, []int{1}) {
		t.Fatalf("live nodes = %v, want [1]", st.LiveNodes)
	}
}

func TestStartErrors(t *testing.T) {
	dir := t.TempDir()
	img, uuid := image(t, dir)
	_, other := image(t, dir)
	conf := writeClusterConf(t, dir, "local", 2)
	_, c := inProcess(t, conf, dir+"/*.img")
	junk := filepath.Join(dir, "junk")
	if err := os.WriteFile(junk, make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, uuid, device, owner, code string
	}{
		{"bad uuid", "XYZ", "", "service:a", hbclient.CodeBadRequest},
		{"bad owner", uuid, "", "nobody", hbclient.CodeBadRequest},
		{"empty service", uuid, "", "service:", hbclient.CodeBadRequest},
		{"unknown uuid", "00112233445566778899AABBCCDDEEFF", "", "service:a", hbclient.CodeUnknownRegion},
		{"device of another volume", other, img, "service:a", hbclient.CodeDeviceMismatch},
		{"device not OCFS2", uuid, junk, "service:a", hbclient.CodeDeviceMismatch},
		{"relative device path", uuid, "a.img", "service:a", hbclient.CodeBadRequest},
		{"missing device", uuid, filepath.Join(dir, "gone.img"), "service:a", hbclient.CodeIO},
	} {
		_, err := start(t, c, tc.uuid, tc.device, tc.owner, true)
		if !errors.Is(err, hbclient.ErrCode(tc.code)) {
			t.Errorf("%s: start = %v, want code %s", tc.name, err, tc.code)
		}
	}
	if st, _ := c.Status(t.Context()); len(st.Regions) != 0 {
		t.Fatalf("failed starts left regions: %+v", st.Regions)
	}
}

func TestStatePersistsAndResumes(t *testing.T) {
	dir := t.TempDir()
	_, uuid := image(t, dir)
	conf := writeClusterConf(t, dir, "local", 2)
	run := filepath.Join(t.TempDir(), "run")
	cfg := Config{RunDir: run, ClusterConf: conf, NodeName: "n1", Interval: testInterval,
		DeadThreshold: testThreshold, Source: backend.Userspace{Devices: []string{dir + "/*.img"}}, Logger: testLogger(t)}

	serve := func() (*hbclient.Client, func()) {
		d, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		s, err := Listen(d)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Serve(ctx) }()
		return hbclient.NewClient(run), func() { cancel(); <-done }
	}
	c, shutdown := serve()
	for _, o := range []string{"service:/a", "service:/a", "pacemaker:r"} {
		if _, err := start(t, c, uuid, "", o, true); err != nil {
			t.Fatal(err)
		}
	}
	resp, _ := c.Do(t.Context(), hbclient.Request{Op: hbclient.OpInfo, UUID: uuid})
	gen1 := resp.Region.Generation
	shutdown()

	var st stateFile
	b, err := os.ReadFile(filepath.Join(run, rundir.StateName))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Regions) != 1 || st.Regions[0].Owners["service:/a"] != 2 || st.Regions[0].Owners["pacemaker:r"] != 1 {
		t.Fatalf("state file = %s", b)
	}
	if fi, _ := os.Stat(filepath.Join(run, rundir.StateName)); fi.Mode().Perm()&0o077 != 0 {
		t.Fatalf("state file mode %v, want no group or other access", fi.Mode())
	}

	c, shutdown = serve()
	defer shutdown()
	deadline := time.Now().Add(20 * testInterval)
	for {
		resp, err := c.Do(t.Context(), hbclient.Request{Op: hbclient.OpInfo, UUID: uuid})
		if err == nil && resp.Region.State == hbclient.StateSteady {
			if resp.Region.Refs != 3 {
				t.Fatalf("resumed refs = %d, want 3", resp.Region.Refs)
			}
			if resp.Region.Generation == gen1 {
				t.Fatalf("resumed with the old generation %s", gen1)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("region not steady after resume: %+v %v", resp, err)
		}
		time.Sleep(testInterval / 2)
	}
}

func TestSecondDaemonRefused(t *testing.T) {
	dir := t.TempDir()
	conf := writeClusterConf(t, dir, "local", 2)
	d1, c := inProcess(t, conf, "")
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
	d, c := inProcess(t, conf, "")
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

func TestConcurrentReferences(t *testing.T) {
	dir := t.TempDir()
	_, uuid := image(t, dir)
	conf := writeClusterConf(t, dir, "local", 2)
	_, c := inProcess(t, conf, dir+"/*.img")
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range n {
		wg.Go(func() {
			_, err := c.Do(context.Background(), hbclient.Request{Op: hbclient.OpStart, UUID: uuid, Owner: "service:s" + string(rune('a'+i)), Consumer: true})
			errs <- err
		})
	}
	wg.Wait()
	if got := refs(t, c, uuid); got != n {
		t.Fatalf("refs after %d concurrent starts = %d", n, got)
	}
	for i := range n {
		wg.Go(func() {
			_, err := c.Do(context.Background(), hbclient.Request{Op: hbclient.OpStop, UUID: uuid, Owner: "service:s" + string(rune('a'+i)), Consumer: true})
			errs <- err
		})
		if i == n-2 {
			wg.Wait()
			if got := refs(t, c, uuid); got != 1 {
				t.Fatalf("refs with one owner left = %d", got)
			}
			if st, _ := c.Status(t.Context()); len(st.Regions) != 1 || st.Regions[0].State != hbclient.StateSteady {
				t.Fatalf("region with one owner left: %+v", st.Regions)
			}
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if got := refs(t, c, uuid); got != 0 {
		t.Fatalf("refs after all stops = %d", got)
	}
}

func TestClientHangUpDropsItsReference(t *testing.T) {
	dir := t.TempDir()
	_, uuid := image(t, dir)
	conf := writeClusterConf(t, dir, "local", 2)
	d, c := inProcess(t, conf, dir+"/*.img")
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
