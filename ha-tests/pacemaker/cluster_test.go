package pacemaker

// The machinery of both suites: the install tree, nodes (namespace
// holders running corosync and pacemakerd), commands inside a node,
// crm_mon's XML and the daemon's status, and the dumps printed when a test
// fails.

import (
	"bufio"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/clustertest"
	"github.com/o2cb-ra/o2cb-ra/internal/fixture"
	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
	"github.com/o2cb-ra/o2cb-ra/internal/ocfs2"
	"github.com/o2cb-ra/o2cb-ra/internal/process"
	"github.com/o2cb-ra/o2cb-ra/internal/rundir"
	"github.com/o2cb-ra/o2cb-ra/internal/testenv"
)

const (
	// interval and threshold are the heartbeat's pace in these tests: a
	// node is dead about threshold × interval after its last write.
	interval  = 200 * time.Millisecond
	threshold = 5
	// ocfRoot is where Pacemaker looks for agents, whatever the prefix.
	ocfRoot = "/usr/lib/ocf/resource.d"
	// daemonRunDir is the agents' default run_dir, private to each node
	// (tmpfs /run).
	daemonRunDir = "/run/o2cb"
	// clusterName is the o2cb cluster of cluster.conf and mkfs.ocfs2.
	clusterName = "o2cbtest"
)

// pathEnv is the PATH of everything run inside a node, as Pacemaker has it.
const pathEnv = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// world is one `make install DESTDIR=...` tree, the provider directory
// the nodes mount and the files a test shares between its nodes.
type world struct {
	base    string // world-readable temporary directory holding everything
	destdir string // the install image
	o2cbRA  string // the installed o2cb-ra
	resD    string // what each node sees as /usr/lib/ocf/resource.d
	images  string // image files of the regions
	home    string // HOME of pcs and crm_mon
}

// newWorld checks the requirements, installs the tree and lays out the
// provider directory: the host's providers and ours, the install tree's
// ocfs2, so that the host's /usr/lib/ocf is never changed.
func newWorld(t *testing.T) *world {
	t.Helper()
	testenv.RequireRoot(t)
	testenv.RequireCommand(t, "make", "corosync", "corosync-cfgtool", "pacemakerd", "pcs", "crm_mon",
		"cibadmin", "nsenter", "ip", "mount", "hostname", "mkfs.ocfs2", "losetup", "blockdev")
	if _, err := os.Stat(ocfRoot); err != nil {
		testenv.Unavailable(t, fmt.Sprintf("needs %s (resource-agents): %v", ocfRoot, err))
	}
	// Pacemaker's daemons run as hacluster and the agents' meta-data may
	// be read as another user: everything here is world-readable.
	base, err := fixture.WorldDir("o2cb-ra-pcmk-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if os.Getenv("O2CB_TEST_PCMK_KEEP") == "1" {
			t.Logf("O2CB_TEST_PCMK_KEEP=1: keeping %s (logs in nodeN/var/log)", base)
			return
		}
		os.RemoveAll(base)
	})
	w := &world{base: base, destdir: filepath.Join(base, "image"), resD: filepath.Join(base, "resource.d"),
		images: filepath.Join(base, "images"), home: filepath.Join(base, "home")}
	w.o2cbRA = filepath.Join(w.destdir, "usr/lib/o2cb-ra/o2cb-ra")
	for _, d := range []string{w.resD, w.images, w.home, filepath.Join(base, "ocf-host")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := fixture.MakeTarget(root, "install", w.destdir, filepath.Join(base, "bin")); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	// The nodes mount the host's resource.d on base/ocf-host, then this
	// directory over resource.d: the host's providers through that mount,
	// ours from the install tree.
	entries, err := os.ReadDir(ocfRoot)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() == "ocfs2" {
			continue // an installed provider of the same name: ours replaces it in the nodes
		}
		if err := os.Symlink(filepath.Join(base, "ocf-host", e.Name()), filepath.Join(w.resD, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(w.destdir, ocfRoot, "ocfs2"), filepath.Join(w.resD, "ocfs2")); err != nil {
		t.Fatal(err)
	}
	return w
}

// region is one OCFS2 image file and its UUID.
type region struct {
	img  string
	uuid string
}

// mkRegions formats n images in the world's image directory.
func (w *world) mkRegions(t *testing.T, n int) []region {
	t.Helper()
	var rs []region
	for range n {
		img := testenv.MkfsOCFS2(t, testenv.Image{SizeMiB: 40, Dir: w.images, Cluster: clusterName})
		sb, err := ocfs2.Probe(img)
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, region{img: img, uuid: sb.UUID})
	}
	return rs
}

// writeClusterConf writes a global-mode cluster.conf with nodes node1..n
// and the given regions, and returns its path.
func (w *world) writeClusterConf(t *testing.T, nodes int, regions ...region) string {
	t.Helper()
	var uuids []string
	for _, r := range regions {
		uuids = append(uuids, r.uuid)
	}
	return clustertest.Write(t, filepath.Join(w.base, "cluster.conf"), clustertest.Cluster{
		Name: clusterName, Global: true, Nodes: nodes, NamePrefix: "node", Subnet: "192.168.250.", Regions: uuids})
}

// holder is the first process of a set of new namespaces: PID 1 of its
// PID namespace, so it reaps what the node's processes leave (the
// detached heartbeat daemon) and killing it kills them all. It dies with
// the test process (Pdeathsig).
type holder struct {
	pid    int
	pidNS  string // readlink /proc/PID/ns/pid
	exited chan struct{}
	log    string // its stderr
}

// startHolder runs script with bash in new namespaces (flags) and waits
// until it prints "ready".
func startHolder(t *testing.T, logPath string, flags uintptr, script string, args ...string) *holder {
	t.Helper()
	h := &holder{exited: make(chan struct{}), log: logPath}
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	r, wr, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	started := make(chan error, 1)
	go func() {
		// Pdeathsig is sent when the thread that started the child exits:
		// keep this one for as long as the holder lives.
		runtime.LockOSThread()
		defer close(h.exited)
		cmd := exec.Command("/bin/bash", append([]string{"-c", script, "holder"}, args...)...)
		cmd.Env = []string{pathEnv, "LC_ALL=C"}
		cmd.Stdout, cmd.Stderr = wr, logf
		cmd.Dir = "/"
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: flags, Pdeathsig: syscall.SIGKILL}
		err := cmd.Start()
		wr.Close()
		if err != nil {
			started <- err
			return
		}
		h.pid = cmd.Process.Pid
		started <- nil
		cmd.Wait()
	}()
	if err := <-started; err != nil {
		t.Fatalf("start namespace holder: %v", err)
	}
	t.Cleanup(h.kill)
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(r).ReadString('\n')
		line <- strings.TrimSpace(s)
	}()
	select {
	case s := <-line:
		if s != "ready" {
			log, _ := os.ReadFile(logPath)
			t.Fatalf("namespace holder: %q, not ready\n%s", s, log)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("namespace holder not ready within 30s")
	}
	link, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", h.pid))
	if err != nil {
		t.Fatal(err)
	}
	h.pidNS = link
	return h
}

// kill kills the holder and with it every process of its PID namespace,
// and waits until they are all gone.
func (h *holder) kill() {
	if h.pid <= 0 {
		return
	}
	syscall.Kill(h.pid, syscall.SIGKILL)
	select {
	case <-h.exited:
	case <-time.After(10 * time.Second):
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(h.procs()) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
}

// proc is a process of a holder's PID namespace.
type proc struct {
	pid, nsPID int    // in the host's and the node's PID namespace
	state      string // R, S, Z, ...
	cmdline    string
}

func (p proc) String() string {
	return fmt.Sprintf("%d (%d in the node) %s %s", p.pid, p.nsPID, p.state, p.cmdline)
}

// procs lists the processes of the holder's PID namespace.
func (h *holder) procs() []proc {
	var out []proc
	if h.pidNS == "" {
		return nil
	}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if link, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid)); err != nil || link != h.pidNS {
			continue
		}
		p := proc{pid: pid}
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(status), "\n") {
			k, v, _ := strings.Cut(l, ":")
			f := strings.Fields(v)
			switch {
			case k == "State" && len(f) > 0:
				p.state = f[0]
			case k == "NSpid" && len(f) > 0:
				p.nsPID, _ = strconv.Atoi(f[len(f)-1])
			}
		}
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		p.cmdline = strings.TrimSpace(strings.ReplaceAll(string(cmdline), "\x00", " "))
		out = append(out, p)
	}
	return out
}

// hostPID is the host's PID of the node's process nsPID, 0 if none.
func (h *holder) hostPID(nsPID int) int {
	for _, p := range h.procs() {
		if p.nsPID == nsPID {
			return p.pid
		}
	}
	return 0
}

// waitExit waits until pid has exited (or is a zombie), at most d.
func waitExit(pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for process.Running(pid) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

// nodeScript sets up a node's namespaces: private mounts, host name,
// loopback. Arguments: node directory, host name, world directory.
const nodeScript = `set -eu
D=$1 NAME=$2 W=$3
# First of all: nothing mounted here may reach the host.
mount --make-rprivate /
mount -t proc proc /proc
hostname "$NAME"
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
for d in etc/corosync var/lib/corosync var/lib/pacemaker var/log/corosync var/log/pacemaker; do
	mount --bind "$D/$d" "/$d"
done
mount --bind /usr/lib/ocf/resource.d "$W/ocf-host"
mount --bind "$W/resource.d" /usr/lib/ocf/resource.d
ip link set lo up
echo ready
exec > /dev/null
set +e
# PID 1: bash reaps every child, adopted ones too, while it waits.
while :; do sleep 3600 & wait $!; done
`

// node is one cluster node: a holder and what runs in its namespaces.
type node struct {
	t          *testing.T
	w          *world
	name       string
	id         int
	addr       string // ring0 address
	dir        string // its files on the host: etc/, var/
	h          *holder
	corosync   int // host PIDs
	pacemakerd int
}

// newNode makes a node's directories and namespaces.
func newNode(t *testing.T, w *world, id int, addr string) *node {
	t.Helper()
	n := &node{t: t, w: w, id: id, name: fmt.Sprintf("node%d", id), addr: addr}
	n.dir = filepath.Join(w.base, n.name)
	hacluster, err := user.Lookup("hacluster")
	if err != nil {
		testenv.Unavailable(t, fmt.Sprintf("needs the hacluster user (pacemaker): %v", err))
	}
	haclient, err := user.LookupGroup("haclient")
	if err != nil {
		testenv.Unavailable(t, fmt.Sprintf("needs the haclient group (pacemaker): %v", err))
	}
	uid, _ := strconv.Atoi(hacluster.Uid)
	gid, _ := strconv.Atoi(haclient.Gid)
	dirs := []struct {
		path string
		mode os.FileMode
		ha   bool // owned by hacluster:haclient
	}{
		{"etc/corosync", 0o755, false},
		{"etc/corosync/uidgid.d", 0o755, false},
		{"var/lib/corosync", 0o755, false},
		{"var/log/corosync", 0o755, false},
		{"var/lib/pacemaker", 0o755, false},
		{"var/lib/pacemaker/cib", 0o750, true},
		{"var/lib/pacemaker/pengine", 0o750, true},
		{"var/lib/pacemaker/blackbox", 0o750, true},
		{"var/lib/pacemaker/cores", 0o750, true},
		{"var/log/pacemaker", 0o770, true},
		{"var/log/pacemaker/bundles", 0o770, true},
	}
	for _, d := range dirs {
		p := filepath.Join(n.dir, d.path)
		if err := os.MkdirAll(p, d.mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, d.mode)
		if d.ha {
			if err := os.Chown(p, uid, gid); err != nil {
				t.Fatal(err)
			}
		}
	}
	os.Chmod(n.dir, 0o755)
	n.h = startHolder(t, filepath.Join(n.dir, "holder.log"),
		syscall.CLONE_NEWNS|syscall.CLONE_NEWUTS|syscall.CLONE_NEWIPC|syscall.CLONE_NEWNET|syscall.CLONE_NEWPID,
		nodeScript, n.dir, n.name, w.base)
	return n
}

// result is what a command did.
type result = fixture.Result

// exec runs a command inside the node (all its namespaces), bounded by
// timeout; a command that cannot run or times out is code -1.
func (n *node) exec(timeout time.Duration, name string, args ...string) result {
	return nsExec(n.h.pid, []string{"-m", "-u", "-i", "-n", "-p"}, n.w.home, timeout, name, args...)
}

// nsExec runs a command in the namespaces (nsenter flags) of process pid.
func nsExec(pid int, flags []string, home string, timeout time.Duration, name string, args ...string) result {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	argv := slices.Concat([]string{"-t", strconv.Itoa(pid)}, flags, []string{"--", name}, args)
	cmd := exec.CommandContext(ctx, "nsenter", argv...)
	cmd.Env = []string{pathEnv, "LC_ALL=C.UTF-8", "HOME=" + home}
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// nsenter forks the command into the node's PID namespace: kill both.
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	r, err := fixture.Exec(cmd)
	switch {
	case err == nil && r.Code == 0:
	case ctx.Err() != nil:
		r.Code = -1
		r.Stderr += fmt.Sprintf("\n(timed out after %v)", timeout)
	case err != nil:
		r.Stderr += "\n" + err.Error()
	}
	return r
}

// must runs a command inside the node that must succeed.
func (n *node) must(timeout time.Duration, name string, args ...string) string {
	n.t.Helper()
	r := n.exec(timeout, name, args...)
	if r.Code != 0 {
		n.t.Fatalf("%s: %s %s: %s", n.name, name, strings.Join(args, " "), r)
	}
	return r.Stdout
}

// pcs runs pcs inside the node; it must succeed.
func (n *node) pcs(args ...string) string {
	n.t.Helper()
	n.t.Logf("%s: pcs %s", n.name, strings.Join(args, " "))
	return n.must(90*time.Second, "pcs", args...)
}

// spawn starts a long-running program inside the node, its output
// appended to the node's file logName, and returns its host PID.
func (n *node) spawn(logName string, argv ...string) int {
	n.t.Helper()
	script := `cd / && "$@" < /dev/null >> "$LOGFILE" 2>&1 & echo $!`
	out := n.must(10*time.Second, "/usr/bin/env", append([]string{"LOGFILE=" + filepath.Join(n.dir, logName), "/bin/sh", "-c", script, "sh"}, argv...)...)
	nsPID, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		n.t.Fatalf("%s: start %v: %q", n.name, argv, out)
	}
	var pid int
	for deadline := time.Now().Add(5 * time.Second); pid == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		pid = n.h.hostPID(nsPID)
	}
	if pid == 0 {
		n.t.Fatalf("%s: %v (pid %d in the node) is not running; %s:\n%s", n.name, argv, nsPID, logName, tail(filepath.Join(n.dir, logName), 30))
	}
	return pid
}

// corosyncConf is corosync.conf for the nodes: knet without crypto (the
// traffic never leaves the test's namespaces) and a short token so that a
// lost node is noticed in about two seconds.
func corosyncConf(nodes []*node) string {
	var b strings.Builder
	b.WriteString("totem {\n\tversion: 2\n\tcluster_name: o2cbra\n\ttransport: knet\n\tcrypto_cipher: none\n\tcrypto_hash: none\n\ttoken: 1000\n}\n")
	b.WriteString("nodelist {\n")
	for _, n := range nodes {
		fmt.Fprintf(&b, "\tnode {\n\t\tname: %s\n\t\tnodeid: %d\n\t\tring0_addr: %s\n\t}\n", n.name, n.id, n.addr)
	}
	b.WriteString("}\nquorum {\n\tprovider: corosync_votequorum\n}\n")
	b.WriteString("logging {\n\tto_logfile: yes\n\tlogfile: /var/log/corosync/corosync.log\n\tto_syslog: no\n\tto_stderr: no\n\ttimestamp: on\n}\n")
	return b.String()
}

// cibOptions are the cluster options a test seeds its CIB with: the
// policy without quorum, and whether fencing is enabled (the test then
// configures fence devices; without them it must say so to the o2cb
// agent, allow_stonith_disabled=true).
type cibOptions struct {
	noQuorumPolicy string
	stonith        bool
}

// seedCIB is an empty CIB of this Pacemaker with the cluster options: a
// short DC deadtime, fencing and the policy without quorum as given.
func seedCIB(t *testing.T, o cibOptions) string {
	t.Helper()
	out, err := exec.Command("cibadmin", "--empty").Output()
	if err != nil {
		t.Fatalf("cibadmin --empty: %v", err)
	}
	props := fmt.Sprintf(`<crm_config>
      <cluster_property_set id="cib-bootstrap-options">
        <nvpair id="opt-stonith-enabled" name="stonith-enabled" value="%t"/>
        <nvpair id="opt-dc-deadtime" name="dc-deadtime" value="2s"/>
        <nvpair id="opt-no-quorum-policy" name="no-quorum-policy" value="%s"/>
        <nvpair id="opt-recheck" name="cluster-recheck-interval" value="1min"/>
      </cluster_property_set>
    </crm_config>`, o.stonith, o.noQuorumPolicy)
	cib := strings.Replace(string(out), "<crm_config/>", props, 1)
	if cib == string(out) {
		t.Fatalf("cibadmin --empty has no <crm_config/>:\n%s", out)
	}
	return cib
}

// startCluster starts corosync, then pacemakerd, on every node with a
// seeded CIB, and waits until every node sees all of them online with a
// DC. Stopping is registered for the end of the test; failure dumps run
// before it.
func startCluster(t *testing.T, o cibOptions, nodes ...*node) {
	t.Helper()
	conf, cib := corosyncConf(nodes), seedCIB(t, o)
	ha, _ := user.Lookup("hacluster")
	uid, _ := strconv.Atoi(ha.Uid)
	gid, _ := strconv.Atoi(ha.Gid)
	for _, n := range nodes {
		if err := os.WriteFile(filepath.Join(n.dir, "etc/corosync/corosync.conf"), []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(n.dir, "var/lib/pacemaker/cib/cib.xml")
		if err := os.WriteFile(p, []byte(cib), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { stopCluster(t, nodes...) })
	begin := time.Now()
	for _, n := range nodes {
		n.corosync = n.spawn("corosync.out", "corosync", "-f")
	}
	for _, n := range nodes {
		waitFor(t, 30*time.Second, n.name+": corosync answers", func() (bool, string) {
			if !process.Running(n.corosync) {
				t.Fatalf("%s: corosync exited:\n%s\n%s", n.name, tail(filepath.Join(n.dir, "corosync.out"), 20),
					tail(filepath.Join(n.dir, "var/log/corosync/corosync.log"), 30))
			}
			r := n.exec(10*time.Second, "corosync-cfgtool", "-s")
			return r.Code == 0, r.String()
		})
	}
	for _, n := range nodes {
		n.pacemakerd = n.spawn("pacemakerd.out", "pacemakerd")
		t.Logf("%s: corosync pid %d, pacemakerd pid %d", n.name, n.corosync, n.pacemakerd)
	}
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("O2CB_TEST_PCMK_LOGS") == "1" {
			for _, n := range nodes {
				n.dump()
			}
		}
	})
	for _, n := range nodes {
		waitFor(t, 60*time.Second, n.name+": every node online with a DC", func() (bool, string) {
			m, err := n.crmMon()
			if err != nil {
				return false, err.Error()
			}
			if !m.Summary.DC.Present {
				return false, "no DC yet"
			}
			for _, o := range nodes {
				if !m.online(o.name) {
					return false, o.name + " not online"
				}
			}
			return true, ""
		})
	}
	t.Logf("cluster of %d node(s) online in %v", len(nodes), time.Since(begin).Round(10*time.Millisecond))
}

// stopPacemaker stops pacemakerd (which stops the resources first) and
// waits for it.
func (n *node) stopPacemaker(d time.Duration) error {
	if !process.Running(n.pacemakerd) {
		n.pacemakerd = 0
		return nil
	}
	syscall.Kill(n.pacemakerd, syscall.SIGTERM)
	if !waitExit(n.pacemakerd, d) {
		return fmt.Errorf("%s: pacemakerd %d still runs %v after SIGTERM", n.name, n.pacemakerd, d)
	}
	return nil
}

// stopCorosync stops corosync and waits for it.
func (n *node) stopCorosync(d time.Duration) error {
	if !process.Running(n.corosync) {
		return nil
	}
	syscall.Kill(n.corosync, syscall.SIGTERM)
	if !waitExit(n.corosync, d) {
		return fmt.Errorf("%s: corosync %d still runs %v after SIGTERM", n.name, n.corosync, d)
	}
	return nil
}

// stopCluster stops Pacemaker on every node at once, then corosync. It
// is what the tests check as a clean stop, and the cleanup of a failed
// test (the holders kill whatever is left).
func stopCluster(t *testing.T, nodes ...*node) {
	var wg sync.WaitGroup
	errs := make([]error, len(nodes))
	for i, n := range nodes {
		wg.Go(func() {
			begin := time.Now()
			if errs[i] = n.stopPacemaker(2 * time.Minute); errs[i] == nil && n.pacemakerd != 0 {
				t.Logf("%s: pacemakerd stopped %v after SIGTERM", n.name, time.Since(begin).Round(10*time.Millisecond))
			}
		})
	}
	wg.Wait()
	for i, n := range nodes {
		if err := n.stopCorosync(30 * time.Second); err != nil && errs[i] == nil {
			errs[i] = err
		}
	}
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

// leftovers lists the node's processes other than its holder and the
// holder's sleep.
func (n *node) leftovers() []proc {
	var out []proc
	for _, p := range n.h.procs() {
		// The holder, and zombies its reaping has not reached yet: they
		// run nothing.
		if p.nsPID == 1 || p.cmdline == "sleep 3600" || p.state == "Z" {
			continue
		}
		out = append(out, p)
	}
	return out
}

// dump logs what tells why a test failed: crm_mon, Pacemaker's and
// corosync's logs, the heartbeat daemon's log and the node's processes.
func (n *node) dump() {
	t := n.t
	var b strings.Builder
	fmt.Fprintf(&b, "===== %s =====\n", n.name)
	if process.Running(n.pacemakerd) {
		r := n.exec(20*time.Second, "crm_mon", "-1", "-r", "-f", "-o", "-t")
		fmt.Fprintf(&b, "--- crm_mon -1 -r -f -o -t:\n%s%s\n", r.Stdout, r.Stderr)
	}
	fmt.Fprintf(&b, "--- processes:\n")
	for _, p := range n.h.procs() {
		fmt.Fprintf(&b, "%v\n", p)
	}
	fmt.Fprintf(&b, "--- pacemaker.log (last lines about resources and errors):\n%s\n",
		tailMatching(filepath.Join(n.dir, "var/log/pacemaker/pacemaker.log"), 80,
			"o2cb", "hb-", "error", "warning", "ocf-exit-reason", "notice: Result of", "Node "))
	fmt.Fprintf(&b, "--- corosync.log:\n%s\n", tail(filepath.Join(n.dir, "var/log/corosync/corosync.log"), 25))
	fmt.Fprintf(&b, "--- %s/o2hbd.log:\n%s\n", daemonRunDir, tail(n.rootPath(filepath.Join(daemonRunDir, rundir.LogName)), 40))
	fmt.Fprintf(&b, "--- holder:\n%s\n", tail(n.h.log, 10))
	t.Log(b.String())
}

// rootPath is a path of the node's mount namespace as the host reaches it.
func (n *node) rootPath(p string) string {
	return fmt.Sprintf("/proc/%d/root%s", n.h.pid, p)
}

// tail is the last lines of a file.
func tail(path string, lines int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	ls := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	return strings.Join(ls, "\n")
}

// tailMatching is the last lines of a file that contain one of words.
func tailMatching(path string, lines int, words ...string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	var ls []string
	for _, l := range strings.Split(string(b), "\n") {
		if slices.ContainsFunc(words, func(w string) bool { return strings.Contains(l, w) }) {
			ls = append(ls, l)
		}
	}
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	return strings.Join(ls, "\n")
}

// waitFor polls cond every 100 ms until it holds; past timeout the test
// fails with desc and cond's last detail. It returns how long it took.
func waitFor(t *testing.T, timeout time.Duration, desc string, cond func() (bool, string)) time.Duration {
	t.Helper()
	begin := time.Now()
	for {
		ok, detail := cond()
		if ok {
			return time.Since(begin)
		}
		if time.Since(begin) > timeout {
			t.Fatalf("%s: not within %v: %s", desc, timeout, detail)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// crmMon is what the tests read of `crm_mon --output-as=xml`.
type crmMon struct {
	Summary struct {
		DC struct {
			Present    bool   `xml:"present,attr"`
			Name       string `xml:"name,attr"`
			WithQuorum bool   `xml:"with_quorum,attr"`
		} `xml:"current_dc"`
	} `xml:"summary"`
	Nodes []struct {
		Name    string `xml:"name,attr"`
		Online  bool   `xml:"online,attr"`
		Unclean bool   `xml:"unclean,attr"`
	} `xml:"nodes>node"`
	Clones []struct {
		ID        string   `xml:"id,attr"`
		Resources []monRes `xml:"resource"`
	} `xml:"resources>clone"`
	Resources []monRes `xml:"resources>resource"`
	History   []struct {
		Name      string `xml:"name,attr"`
		Resources []struct {
			ID        string `xml:"id,attr"`
			FailCount string `xml:"fail-count,attr"`
			Ops       []struct {
				Task     string `xml:"task,attr"`
				Interval string `xml:"interval,attr"`
				RC       int    `xml:"rc,attr"`
			} `xml:"operation_history"`
		} `xml:"resource_history"`
	} `xml:"node_history>node"`
	Failures []monFailure `xml:"failures>failure"`
	// The node attributes (crm_mon -A).
	NodeAttributes []struct {
		Name  string `xml:"name,attr"`
		Attrs []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:"value,attr"`
		} `xml:"attribute"`
	} `xml:"node_attributes>node"`
}

// attribute is the value of node attribute name on node, "" if unset.
func (m *crmMon) attribute(node, name string) string {
	for _, n := range m.NodeAttributes {
		if n.Name != node {
			continue
		}
		for _, a := range n.Attrs {
			if a.Name == name {
				return a.Value
			}
		}
	}
	return ""
}

type monRes struct {
	ID     string `xml:"id,attr"`
	Role   string `xml:"role,attr"`
	Active bool   `xml:"active,attr"`
	Failed bool   `xml:"failed,attr"`
	Nodes  []struct {
		Name string `xml:"name,attr"`
	} `xml:"node"`
}

type monFailure struct {
	OpKey      string `xml:"op_key,attr"`
	Node       string `xml:"node,attr"`
	ExitStatus string `xml:"exitstatus,attr"`
	ExitReason string `xml:"exitreason,attr"`
	ExitCode   int    `xml:"exitcode,attr"`
	Task       string `xml:"task,attr"`
}

func (f monFailure) String() string {
	return fmt.Sprintf("%s on %s: %s (%d) %q", f.OpKey, f.Node, f.ExitStatus, f.ExitCode, f.ExitReason)
}

// crmMon runs crm_mon once in the node and parses its XML, node
// attributes included.
func (n *node) crmMon() (*crmMon, error) {
	r := n.exec(20*time.Second, "crm_mon", "-1", "-A", "--output-as=xml")
	if r.Code != 0 {
		return nil, fmt.Errorf("crm_mon: %s", r)
	}
	var m crmMon
	if err := xml.Unmarshal([]byte(r.Stdout), &m); err != nil {
		return nil, fmt.Errorf("crm_mon XML: %v\n%s", err, r.Stdout)
	}
	return &m, nil
}

func (m *crmMon) online(name string) bool {
	for _, n := range m.Nodes {
		if n.Name == name {
			return n.Online
		}
	}
	return false
}

// startedOn lists the nodes where resource id (a primitive, cloned or
// not) is started and not failed.
func (m *crmMon) startedOn(id string) []string {
	var out []string
	res := slices.Clone(m.Resources)
	for _, c := range m.Clones {
		res = append(res, c.Resources...)
	}
	for _, r := range res {
		if r.ID != id || !r.Active || r.Failed || r.Role != "Started" {
			continue
		}
		for _, n := range r.Nodes {
			out = append(out, n.Name)
		}
	}
	slices.Sort(out)
	return out
}

// failCount is the fail count of resource id on node (INFINITY as 1000000).
func (m *crmMon) failCount(node, id string) int {
	for _, h := range m.History {
		if h.Name != node {
			continue
		}
		for _, r := range h.Resources {
			if r.ID == id && r.FailCount != "" {
				if r.FailCount == "INFINITY" {
					return 1000000
				}
				n, _ := strconv.Atoi(r.FailCount)
				return n
			}
		}
	}
	return 0
}

// failures lists the failed operations of resource id on node.
func (m *crmMon) failures(node, id string) []monFailure {
	var out []monFailure
	for _, f := range m.Failures {
		if f.Node == node && strings.HasPrefix(f.OpKey, id+"_") {
			out = append(out, f)
		}
	}
	return out
}

// status runs `o2cb-ra status --json` inside the node; nil when no
// daemon answers.
func (n *node) status() (*hbclient.Status, error) {
	r := n.exec(10*time.Second, n.w.o2cbRA, "status", "--json")
	if r.Code == 3 {
		return nil, nil
	}
	if r.Code != 0 {
		return nil, fmt.Errorf("o2cb-ra status: %s", r)
	}
	var st hbclient.Status
	if err := json.Unmarshal([]byte(r.Stdout), &st); err != nil {
		return nil, fmt.Errorf("o2cb-ra status --json: %v\n%s", err, r.Stdout)
	}
	return &st, nil
}

// regionOf is the status of region uuid, nil if the daemon does not run it.
func regionOf(st *hbclient.Status, uuid string) *hbclient.RegionStatus {
	if st == nil {
		return nil
	}
	for i := range st.Regions {
		if st.Regions[i].UUID == uuid {
			return &st.Regions[i]
		}
	}
	return nil
}

// daemonPID is the host PID of the node's heartbeat daemon (from its pid
// file), 0 if none runs.
func (n *node) daemonPID() int {
	b, err := os.ReadFile(n.rootPath(filepath.Join(daemonRunDir, "o2hbd.pid")))
	if err != nil {
		return 0
	}
	nsPID, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if nsPID <= 0 {
		return 0
	}
	pid := n.h.hostPID(nsPID)
	if !process.Running(pid) {
		return 0
	}
	return pid
}

// The monitor intervals of both suites. hbregion's is the faster: after
// the daemon dies, hbregion's monitor notices first, and Pacemaker
// recovers hb-extra while the o2cb clone still looks started. That is
// the order in which hbregion's start once found no daemon and failed
// for good (a start failure is fatal by default); the suites assert that
// recovery succeeds in it, every time, rather than hope for the other.
const (
	o2cbMonitor = 3 * time.Second
	hbMonitor   = 1 * time.Second
	// hbStartTimeout bounds hbregion's start, which waits for a daemon
	// being recovered: longer than the clone's monitor interval and its
	// restart.
	hbStartTimeout = 60 * time.Second
)

// opResultRE is how the controller logs an operation's result on the
// node that ran it: "Result of stop operation for o2cb on node1: ok".
var opResultRE = regexp.MustCompile(`Result of (\S+) operation for (\S+) on (\S+): (.*)`)

// opResults counts, from the node's pacemaker.log, the results of
// resource rsc's operations that ran on the node, by operation (start,
// stop, reload-agent, monitor, ...).
func (n *node) opResults(rsc string) map[string]int {
	n.t.Helper()
	b, err := os.ReadFile(filepath.Join(n.dir, "var/log/pacemaker/pacemaker.log"))
	if err != nil {
		n.t.Fatalf("%s: %v", n.name, err)
	}
	out := map[string]int{}
	for _, l := range strings.Split(string(b), "\n") {
		if m := opResultRE.FindStringSubmatch(l); m != nil && m[2] == rsc && m[3] == n.name {
			out[m[1]]++
		}
	}
	return out
}

// fenceEvent is one entry of the fencer's history.
type fenceEvent struct {
	Action    string `xml:"action,attr"`
	Target    string `xml:"target,attr"`
	Status    string `xml:"status,attr"`
	Delegate  string `xml:"delegate,attr"`
	Origin    string `xml:"origin,attr"`
	Completed string `xml:"completed,attr"`
}

// fenceHistory is the cluster's fencing history as the node's fencer
// knows it (stonith_admin --history='*' --verbose; without --verbose it
// leaves failed actions out): every fencing action asked for, done or
// failed.
func (n *node) fenceHistory() ([]fenceEvent, error) {
	r := n.exec(20*time.Second, "stonith_admin", "--history=*", "--verbose", "--output-as=xml")
	if r.Code != 0 {
		return nil, fmt.Errorf("stonith_admin --history: %s", r)
	}
	// Every fence_event element, wherever this version's output nests it.
	var events []fenceEvent
	d := xml.NewDecoder(strings.NewReader(r.Stdout))
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return events, nil
		}
		if err != nil {
			return nil, fmt.Errorf("stonith_admin --history XML: %v\n%s", err, r.Stdout)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "fence_event" {
			var e fenceEvent
			if err := d.DecodeElement(&e, &se); err != nil {
				return nil, fmt.Errorf("stonith_admin --history XML: %v\n%s", err, r.Stdout)
			}
			events = append(events, e)
		}
	}
}

// configureFencing adds, to the CIB file cib, one fence_dummy device per
// node (fence-nodeN, for nodeN only, never run on nodeN). fence_dummy
// powers nothing: "off" and "on" write the action to its status file,
// which exists only once a device has fenced (its monitor only reads
// it). The returned function reports what says a node was fenced: the
// fencer's history and the status files.
func configureFencing(t *testing.T, n *node, cib string, nodes []*node) func() (fenced bool, detail string) {
	t.Helper()
	status := map[string]string{}
	for _, o := range nodes {
		dev := "fence-" + o.name
		status[o.name] = filepath.Join(n.w.base, dev+".status")
		n.pcs("-f", cib, "stonith", "create", dev, "fence_dummy", "status_file="+status[o.name],
			"pcmk_host_list="+o.name, "op", "monitor", "interval=10s", "timeout=20s")
		n.pcs("-f", cib, "constraint", "location", dev, "avoids", o.name)
	}
	return func() (bool, string) {
		var b strings.Builder
		fenced := false
		for _, o := range nodes {
			if st, err := os.ReadFile(status[o.name]); err == nil {
				fenced = true
				fmt.Fprintf(&b, "fence-%s's status file says %q; ", o.name, st)
			}
		}
		h, err := n.fenceHistory()
		if err != nil {
			return true, b.String() + err.Error()
		}
		for _, e := range h {
			fenced = true
			fmt.Fprintf(&b, "fencer history: %+v; ", e)
		}
		return fenced, b.String()
	}
}

// killAndRecover SIGKILLs, kills times in a row, the heartbeat daemon of
// the node running hb-extra (an hbregion resource for region extra,
// ordered after the o2cb clone and colocated with it). Whichever monitor
// notices first, Pacemaker must recover both: each time it waits until
// the o2cb clone is started on every node, a new daemon runs on the
// killed node with the regions of cluster.conf (global) steady, hb-extra
// is started and its region steady and owned by it in the daemon of its
// node, and that this holds for a whole o2cb monitor interval with no new
// failure (no recovery still under way). It fails at once if a fail
// count reaches INFINITY (a fatal start failure: that resource would stay
// stopped on the node for good). The other nodes' daemons must not be
// touched. It returns each kill's time until both resources ran again.
func killAndRecover(t *testing.T, obs *node, nodes []*node, global []string, extra string, kills int) []time.Duration {
	t.Helper()
	var clone []string
	byName := map[string]*node{}
	for _, n := range nodes {
		clone = append(clone, n.name)
		byName[n.name] = n
	}
	slices.Sort(clone)
	hbNode := func(m *crmMon) *node {
		if on := m.startedOn("hb-extra"); len(on) == 1 {
			return byName[on[0]]
		}
		return nil
	}
	// failCounts is every fail count of both resources, as one string.
	failCounts := func(m *crmMon) string {
		var b strings.Builder
		for _, name := range clone {
			fmt.Fprintf(&b, "%s: o2cb %d, hb-extra %d; ", name, m.failCount(name, "o2cb"), m.failCount(name, "hb-extra"))
		}
		return b.String()
	}
	var took []time.Duration
	byO2CB, byHB := 0, 0
	for i := 1; i <= kills; i++ {
		m, err := obs.crmMon()
		if err != nil {
			t.Fatal(err)
		}
		target := hbNode(m)
		if target == nil {
			t.Fatalf("kill %d: hb-extra is not started on one node: %v", i, m.startedOn("hb-extra"))
		}
		o2cbBefore, hbBefore := m.failCount(target.name, "o2cb"), m.failCount(target.name, "hb-extra")
		others := map[string]int{}
		for _, n := range nodes {
			others[n.name] = n.daemonPID()
		}
		pid := others[target.name]
		delete(others, target.name)
		if pid == 0 {
			t.Fatalf("kill %d: %s has no daemon", i, target.name)
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		killed := time.Now()
		var newPID int
		var onHB *node
		var fcs string
		recovered := func() (bool, string) {
			m, err := obs.crmMon()
			if err != nil {
				return false, err.Error()
			}
			for _, name := range clone {
				for _, rsc := range []string{"o2cb", "hb-extra"} {
					if m.failCount(name, rsc) >= 1000000 {
						t.Fatalf("kill %d: the fail count of %s on %s is INFINITY: failures %v", i, rsc, name, m.Failures)
					}
				}
			}
			fcs = failCounts(m)
			if on := m.startedOn("o2cb"); !slices.Equal(on, clone) {
				return false, fmt.Sprintf("o2cb started on %v", on)
			}
			if newPID = target.daemonPID(); newPID == 0 || newPID == pid {
				return false, fmt.Sprintf("%s: daemon pid %d (killed %d)", target.name, newPID, pid)
			}
			st, err := target.status()
			if err != nil || st == nil {
				return false, fmt.Sprintf("%s: status %v", target.name, err)
			}
			for _, u := range global {
				if r := regionOf(st, u); r == nil || r.State != hbclient.StateSteady || !slices.Contains(r.LiveNodes, target.id) {
					return false, fmt.Sprintf("%s: region %s %+v", target.name, u, r)
				}
			}
			if onHB = hbNode(m); onHB == nil {
				return false, fmt.Sprintf("hb-extra started on %v", m.startedOn("hb-extra"))
			}
			if onHB != target {
				if st, err = onHB.status(); err != nil || st == nil {
					return false, fmt.Sprintf("%s: status %v", onHB.name, err)
				}
			}
			r := regionOf(st, extra)
			if r == nil || r.State != hbclient.StateSteady || len(r.Owners) != 1 || r.Owners[0].Name != "pacemaker:hb-extra" {
				return false, fmt.Sprintf("%s: hb-extra's region %+v", onHB.name, r)
			}
			return true, ""
		}
		desc := fmt.Sprintf("kill %d of %s's daemon: o2cb and hb-extra running again", i, target.name)
		var d time.Duration
		for {
			if left := 2*hbStartTimeout - time.Since(killed); left > 0 {
				waitFor(t, left, desc, recovered)
			} else {
				t.Fatalf("%s: not within %v", desc, 2*hbStartTimeout)
			}
			d = time.Since(killed)
			was, wasPID := fcs, newPID
			// Every monitor runs at least once on the recovered daemon.
			time.Sleep(o2cbMonitor + time.Second)
			ok, detail := recovered()
			if ok && fcs == was && newPID == wasPID {
				break
			}
			t.Logf("kill %d: recovered after %v but it went on (%s; fail counts %s, before %s; daemon %d, before %d)",
				i, d.Round(10*time.Millisecond), detail, fcs, was, newPID, wasPID)
		}
		took = append(took, d)
		m, err = obs.crmMon()
		if err != nil {
			t.Fatal(err)
		}
		// Which monitor noticed: its fail count went up.
		o2cbNoticed, hbNoticed := m.failCount(target.name, "o2cb") > o2cbBefore, m.failCount(target.name, "hb-extra") > hbBefore
		if o2cbNoticed {
			byO2CB++
		}
		if hbNoticed {
			byHB++
		}
		if !o2cbNoticed && !hbNoticed {
			t.Errorf("kill %d: no fail count went up on %s (%s): Pacemaker did not notice the kill", i, target.name, failCounts(m))
		}
		t.Logf("kill %d of %s's daemon (pid %d): both running again after %v (daemon %d, hb-extra on %s); noticed by o2cb's monitor %v, hb-extra's %v; fail counts %s",
			i, target.name, pid, d.Round(10*time.Millisecond), newPID, onHB.name, o2cbNoticed, hbNoticed, failCounts(m))
		for name, p := range others {
			if now := byName[name].daemonPID(); now != p {
				t.Errorf("kill %d of %s's daemon: %s's daemon changed from %d to %d", i, target.name, name, p, now)
			}
		}
	}
	s := slices.Sorted(slices.Values(took))
	median := (s[(len(s)-1)/2] + s[len(s)/2]) / 2
	t.Logf("%d kills: kill to both running again min %v, median %v, max %v; noticed by o2cb's monitor %d times, by hb-extra's %d times", kills,
		s[0].Round(10*time.Millisecond), median.Round(10*time.Millisecond), s[len(s)-1].Round(10*time.Millisecond), byO2CB, byHB)
	return took
}
