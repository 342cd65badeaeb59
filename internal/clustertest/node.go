package clustertest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/fixture"
	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
	"github.com/o2cb-ra/o2cb-ra/internal/ocfs2"
	"github.com/o2cb-ra/o2cb-ra/internal/rundir"
)

// Node is one node's o2cb-ra daemon as a process: its run directory and
// the environment it (and the node's agents and ocfs2_hb_ctl) run with.
type Node struct {
	Name string   // O2CB_NODE_NAME
	Run  string   // O2CB_RUN_DIR
	Env  []string // the daemon's environment
	Bin  string   // o2cb-ra
}

// NodeConfig is what NewNode makes a Node of.
type NodeConfig struct {
	Bin       string        // o2cb-ra
	Conf      string        // cluster.conf
	Name      string        // the node's name in it
	Run       string        // run directory
	Devices   string        // O2CB_HB_DEVICES (a glob or a :-list)
	Interval  time.Duration // heartbeat interval
	Threshold int           // dead threshold
	Env       []string      // the environment before the O2CB_ variables; os.Environ() if nil
}

// NewNode returns the node of c; it starts nothing.
func NewNode(c NodeConfig) *Node {
	base := c.Env
	if base == nil {
		base = os.Environ()
	}
	n := &Node{Name: c.Name, Run: c.Run, Bin: c.Bin}
	n.Env = append(base[:len(base):len(base)],
		"O2CB_CLUSTER_CONF="+c.Conf, "O2CB_NODE_NAME="+c.Name, "O2CB_RUN_DIR="+c.Run,
		"O2CB_HB_DEVICES="+c.Devices,
		"O2CB_HEARTBEAT_INTERVAL_MS="+strconv.Itoa(int(c.Interval/time.Millisecond)),
		"O2CB_DEAD_THRESHOLD="+strconv.Itoa(c.Threshold))
	return n
}

// Start starts the node's daemon as the o2cb agent does, `o2cb-ra daemon`,
// which detaches once the daemon answers, and returns its pid from the
// run directory's pid file.
func (n *Node) Start() (int, error) {
	cmd := exec.Command(n.Bin, "daemon")
	cmd.Env = n.Env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("%s: o2cb-ra daemon: %v\n%s", n.Name, err, out)
	}
	pid := n.PID()
	if pid <= 1 {
		return 0, fmt.Errorf("%s: o2cb-ra daemon said %q but left no pid in %s", n.Name, out, filepath.Join(n.Run, rundir.PIDName))
	}
	return pid, nil
}

// PID returns the pid of the daemon's pid file, 0 if none.
func (n *Node) PID() int { return fixture.ReadPID(filepath.Join(n.Run, rundir.PIDName)) }

// Stop sends sig to the daemon and waits until it is gone, as fixture.StopProcess.
func (n *Node) Stop(sig syscall.Signal, wait time.Duration) error {
	return fixture.StopProcess(n.PID(), sig, wait)
}

// Client returns a client of the node's daemon with the given timeout (0:
// the client's default).
func (n *Node) Client(timeout time.Duration) *hbclient.Client {
	c := hbclient.NewClient(n.Run)
	if timeout != 0 {
		c.Timeout = timeout
	}
	return c
}

// Log returns the daemon's log so far ("" if it has none).
func (n *Node) Log() string {
	b, _ := os.ReadFile(filepath.Join(n.Run, rundir.LogName))
	return string(b)
}

// Mkfs formats an image as fixture.Mkfs and returns its path and the UUID
// mkfs.ocfs2 gave the volume (32 upper-case hex digits, as the heartbeat
// names its region).
func Mkfs(im fixture.Image) (path, uuid string, err error) {
	path, err = fixture.Mkfs(im)
	if err != nil {
		return "", "", err
	}
	sb, err := ocfs2.Probe(path)
	if err != nil {
		return "", "", err
	}
	return path, sb.UUID, nil
}
