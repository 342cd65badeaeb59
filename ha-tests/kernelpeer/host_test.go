package kernelpeer

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/clustertest"
	"github.com/o2cb-ra/o2cb-ra/internal/testenv"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.RemoveBinaries()
	if kernelDir != "" {
		os.RemoveAll(kernelDir)
	}
	os.Exit(code)
}

// writeClusterConf writes the host's cluster.conf: global heartbeat on
// region uuid, n1 (the guest's kernel) and n2 (our daemon).
func writeClusterConf(t *testing.T, dir, cluster, uuid string) string {
	t.Helper()
	return clustertest.Write(t, filepath.Join(dir, "cluster.conf"),
		clustertest.Cluster{Name: cluster, Global: true, Nodes: 2, Regions: []string{uuid}})
}

// host is our side: an o2cb-ra daemon as node n2, run in the foreground
// as the test's child so that its log is a file the test reads.
type host struct {
	t       *testing.T
	o2cbRA  string
	hbCtl   string
	uuid    string
	env     []string
	logPath string
	starts  int

	cmd    *exec.Cmd
	exited chan struct{}
}

func newHost(t *testing.T, conf, img, uuid string, intervalMS, threshold int) *host {
	t.Helper()
	o2cbRA, hbCtl := testenv.Binaries(t)
	dir := t.TempDir()
	h := &host{t: t, o2cbRA: o2cbRA, hbCtl: hbCtl, uuid: uuid, logPath: filepath.Join(dir, "o2hbd.log")}
	h.env = append(clustertest.NewNode(clustertest.NodeConfig{Bin: o2cbRA, Conf: conf, Name: "n2", Run: filepath.Join(dir, "run"),
		Devices: img, Interval: time.Duration(intervalMS) * time.Millisecond, Threshold: threshold}).Env,
		"O2CB_HEARTBEAT_OWNER=global")
	t.Cleanup(func() {
		h.signal(syscall.SIGTERM)
		if t.Failed() {
			t.Logf("our daemon's log:\n%s", h.log())
		}
	})
	return h
}

// start runs the daemon and waits until it answers status.
func (h *host) start() {
	h.t.Helper()
	logf, err := os.OpenFile(h.logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		h.t.Fatal(err)
	}
	defer logf.Close()
	h.starts++
	fmt.Fprintf(logf, "=== daemon start %d at %s\n", h.starts, time.Now().Format(time.RFC3339Nano))
	h.cmd = exec.Command(h.o2cbRA, "daemon", "--foreground")
	h.cmd.Env = h.env
	h.cmd.Stdout, h.cmd.Stderr = logf, logf
	h.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := h.cmd.Start(); err != nil {
		h.t.Fatalf("o2cb-ra daemon: %v", err)
	}
	h.exited = make(chan struct{})
	go func(cmd *exec.Cmd, ch chan struct{}) { cmd.Wait(); close(ch) }(h.cmd, h.exited)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := h.status(); err == nil {
			return
		}
		select {
		case <-h.exited:
			h.t.Fatalf("o2cb-ra daemon exited: %v\n%s", h.cmd.ProcessState, h.log())
		default:
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("o2cb-ra daemon does not answer status after 10s\n%s", h.log())
		}
	}
}

// signal sends sig to the daemon by its pid and waits until it is gone
// (SIGKILL after 10 s).
func (h *host) signal(sig syscall.Signal) {
	if h.cmd == nil || h.cmd.Process == nil {
		return
	}
	select {
	case <-h.exited:
		return
	default:
	}
	h.cmd.Process.Signal(sig)
	select {
	case <-h.exited:
	case <-time.After(10 * time.Second):
		h.t.Errorf("daemon pid %d still runs 10s after %v; killing it", h.cmd.Process.Pid, sig)
		h.cmd.Process.Kill()
		<-h.exited
	}
}

// hbCtlRun runs ocfs2_hb_ctl with args and returns how long it took.
func (h *host) hbCtlRun(args ...string) time.Duration {
	h.t.Helper()
	begin := time.Now()
	cmd := exec.Command(h.hbCtl, args...)
	cmd.Env = h.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		h.t.Fatalf("ocfs2_hb_ctl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return time.Since(begin)
}

// regionStart starts the region for the cluster, as the o2cb agent does;
// it returns when the region is steady.
func (h *host) regionStart() time.Duration { return h.hbCtlRun("-S", "-u", h.uuid) }

// regionStop stops it; the daemon writes the clean-stop block.
func (h *host) regionStop() time.Duration { return h.hbCtlRun("-K", "-u", h.uuid) }

type regionStatus struct {
	UUID      string `json:"uuid"`
	State     string `json:"state"`
	LiveNodes []int  `json:"live_nodes"`
	BadBlocks int    `json:"bad_blocks"`
}

type status struct {
	Node struct {
		Name   string `json:"name"`
		Number int    `json:"number"`
	} `json:"node"`
	Mode      string         `json:"mode"`
	Regions   []regionStatus `json:"regions"`
	LiveNodes []int          `json:"live_nodes"`
}

// status runs `o2cb-ra status --json`.
func (h *host) status() (*status, error) {
	cmd := exec.Command(h.o2cbRA, "status", "--json")
	cmd.Env = h.env
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("o2cb-ra status --json: %v: %s", err, out)
	}
	var st status
	if err := json.Unmarshal(out, &st); err != nil {
		return nil, fmt.Errorf("o2cb-ra status --json: %v: %s", err, out)
	}
	return &st, nil
}

// regionLive returns our region's live nodes, or nil when it does not run.
func (h *host) regionLive() ([]int, *status) {
	st, err := h.status()
	if err != nil {
		return nil, nil
	}
	for _, r := range st.Regions {
		if strings.EqualFold(r.UUID, h.uuid) {
			return r.LiveNodes, st
		}
	}
	return nil, st
}

// waitLive waits until our region's live nodes are want and returns how
// long that took.
func (h *host) waitLive(d time.Duration, what string, want ...int) time.Duration {
	h.t.Helper()
	begin := time.Now()
	for {
		got, st := h.regionLive()
		if slices.Equal(got, want) {
			return time.Since(begin)
		}
		if time.Since(begin) > d {
			h.t.Fatalf("%s: our region's live nodes never became %v within %v (now %v; status %+v)", what, want, d, got, st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// log returns the daemon's log so far.
func (h *host) log() string {
	b, _ := os.ReadFile(h.logPath)
	return string(b)
}

// slots runs `o2cb-ra slots IMG`.
func (h *host) slots(img string) string {
	h.t.Helper()
	cmd := exec.Command(h.o2cbRA, "slots", img)
	cmd.Env = h.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		h.t.Fatalf("o2cb-ra slots %s: %v\n%s", img, err, out)
	}
	return string(out)
}
