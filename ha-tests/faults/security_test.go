package faults

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/o2cb-ra/o2cb-ra/agents/daemonctl"
	"github.com/o2cb-ra/o2cb-ra/internal/clustertest"
	"github.com/o2cb-ra/o2cb-ra/internal/process"
	"github.com/o2cb-ra/o2cb-ra/internal/rundir"
	"github.com/o2cb-ra/o2cb-ra/internal/testenv"
)

// nobody is the unprivileged user the security tests run clients as.
const nobody = 65534

// asNobody runs one of our binaries as uid and gid 65534 with no
// supplementary groups, with the node's environment.
func (n *node) asNobody(bin string, args ...string) result {
	n.t.Helper()
	return n.runCmd(func(cmd *exec.Cmd) {
		cmd.Dir = "/"
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody, Groups: []uint32{}}}
	}, bin, nil, args...)
}

// traversable lets other users pass through a directory t.TempDir made
// and the one above it (both 0700), not list or write them.
func traversable(t *testing.T, dir string) {
	t.Helper()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
}

// fileID is what a test compares of a file that must not change.
type fileID struct {
	Mode    fs.FileMode
	UID     uint32
	Size    int64
	ModTime time.Time
	Content string
}

func identify(t *testing.T, path string) fileID {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	id := fileID{Mode: fi.Mode(), UID: fi.Sys().(*syscall.Stat_t).Uid, Size: fi.Size(), ModTime: fi.ModTime()}
	if fi.Mode().IsRegular() {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		id.Content = string(b)
	}
	return id
}

func TestSocketRefusesNonRoot(t *testing.T) {
	f := record(t, "security",
		"clients as uid 65534 (nobody): `o2cb-ra status`, `ocfs2_hb_ctl -I -u` and `-K -u` on a running region; first through the socket's own permissions (socket 0600 in a 0700 run dir), then with them relaxed (run dir 0711, socket 0666) so that only the daemon's SO_PEERCRED check stands",
		"refused with a clear permission error both times; the refusal logged with the uid; the region's owners and state.json unchanged; root still served")
	n, v := oneRegion(t, f)
	dir := n.c.dir
	statePath := filepath.Join(n.Run, rundir.StateName)
	stateBefore := identify(t, statePath)
	ownersBefore := n.region(v.UUID).Owners
	traversable(t, dir)

	tries := [][]string{
		{n.o2cbRA, "status", "--run-dir", n.Run},
		{n.hbCtl, "-I", "-u", v.UUID},
		{n.hbCtl, "-K", "-u", v.UUID, "mnt"},
	}
	try := func(phase, want string) {
		t.Helper()
		for _, a := range tries {
			r := n.asNobody(a[0], a[1:]...)
			cmd := filepath.Base(a[0]) + " " + a[1]
			if r.Code == 0 || !strings.Contains(r.Stderr, want) {
				t.Fatalf("%s as uid %d (%s) = exit %d, stderr %q; want a failure saying %q", cmd, nobody, phase, r.Code, r.Stderr, want)
			}
			f.observe(t, "%s: `%s` as uid %d: exit %d in %v, %q", phase, cmd, nobody, r.Code, r.Took.Round(time.Millisecond), strings.ReplaceAll(firstLine(r.Stderr), dir, "$TMP"))
		}
	}
	try("socket 0600 in 0700 dir", "permission denied")
	logBefore := strings.Count(n.log(), "refused a client")

	sock := filepath.Join(n.Run, rundir.SocketName)
	for _, p := range []struct {
		path string
		mode os.FileMode
	}{{n.Run, 0o711}, {sock, 0o666}} {
		if err := os.Chmod(p.path, p.mode); err != nil {
			t.Fatal(err)
		}
	}
	try("socket 0666 in 0711 dir", fmt.Sprintf("permission denied: uid %d may not use the heartbeat daemon", nobody))
	os.Chmod(sock, 0o600)
	os.Chmod(n.Run, 0o700)

	refused := strings.Count(n.log(), "refused a client") - logBefore
	if want := len(tries); refused < want || !strings.Contains(n.log(), "uid="+strconv.Itoa(nobody)) {
		t.Fatalf("daemon log: %d refusals naming uid %d, want %d", refused, nobody, want)
	}
	f.observe(t, "daemon log: %d refusals with uid=%d (none while the file permissions stopped the client first: %d before)", refused, nobody, logBefore)
	if got := n.region(v.UUID).Owners; !reflect.DeepEqual(got, ownersBefore) {
		t.Fatalf("owners after the refused clients = %v, want %v", got, ownersBefore)
	}
	if got := identify(t, statePath); got != stateBefore {
		t.Fatalf("state.json after the refused clients = %+v, want %+v", got, stateBefore)
	}
	f.dataChecked("owners and state.json (content, mode, mtime) unchanged")
	if r := n.hbctl("-I", "-u", v.UUID); r.Code != 0 || !strings.Contains(r.Stdout, "1 refs") {
		t.Fatalf("ocfs2_hb_ctl -I as root = exit %d, %q; want 1 refs", r.Code, r.Stdout)
	}
	f.observe(t, "root afterwards: `ocfs2_hb_ctl -I` = %q", strings.TrimSpace(n.hbctl("-I", "-u", v.UUID).Stdout))
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// TestUnsafeRunDir starts the daemon and the o2cb agent on run
// directories other users could tamper with. The agent answers
// OCF_ERR_PERM: the problem is this node's directory (a hard error keeps
// the resource off this node only, where OCF_ERR_CONFIGURED would stop
// it everywhere), and it is a matter of ownership and permissions.
func TestUnsafeRunDir(t *testing.T) {
	f := record(t, "security",
		"`o2cb-ra daemon` and `o2cb start` with run_dir: mode 0777, mode 0770, owned by nobody, a symlink to a safe directory, a regular file, a safe directory inside a 0777 directory without the sticky bit; control: inside a 1777 directory",
		"the daemon exits 1 naming the directory and the reason; the agent exits OCF_ERR_PERM (4) with that exit reason; no daemon, nothing created; the control starts")
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir string) string // returns the run dir
		want  string                                // "" for the control
	}{
		{"mode 0777", func(t *testing.T, dir string) string { return mkdirMode(t, filepath.Join(dir, "run"), 0o777) }, "has mode 0777"},
		{"mode 0770", func(t *testing.T, dir string) string { return mkdirMode(t, filepath.Join(dir, "run"), 0o770) }, "has mode 0770"},
		{"owned by nobody", func(t *testing.T, dir string) string {
			run := mkdirMode(t, filepath.Join(dir, "run"), 0o700)
			if err := os.Chown(run, nobody, nobody); err != nil {
				t.Fatal(err)
			}
			return run
		}, "owned by uid 65534"},
		{"symlink", func(t *testing.T, dir string) string {
			target := mkdirMode(t, filepath.Join(dir, "real"), 0o700)
			run := filepath.Join(dir, "run")
			if err := os.Symlink(target, run); err != nil {
				t.Fatal(err)
			}
			return run
		}, "is a symbolic link"},
		{"regular file", func(t *testing.T, dir string) string {
			run := filepath.Join(dir, "run")
			if err := os.WriteFile(run, []byte("not a directory\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			return run
		}, "is not a directory (a regular file)"},
		{"parent 0777 not sticky", func(t *testing.T, dir string) string {
			return mkdirMode(t, filepath.Join(mkdirMode(t, filepath.Join(dir, "shared"), 0o777), "run"), 0o700)
		}, "above it has mode 0777: writable by group or others without the sticky bit"},
		{"control: parent 1777", func(t *testing.T, dir string) string {
			return mkdirMode(t, filepath.Join(mkdirMode(t, filepath.Join(dir, "tmp"), 0o777|fs.ModeSticky), "run"), 0o700)
		}, ""},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			dir := t.TempDir()
			c := newCluster(t, dir, 1, false)
			n := c.node(1)
			n.Run = tc.setup(t, dir)
			n.Env = append(n.Env, "O2CB_RUN_DIR="+n.Run)
			before := identify(t, n.Run)
			d := n.run1(n.o2cbRA, nil, "daemon")
			a := n.agent("o2cb", "start")
			if tc.want == "" {
				if d.Code != 0 || a.Code != 0 || n.pid() == 0 {
					t.Fatalf("control: daemon exit %d (%s), agent start exit %d (%s), pid %d; want 0, 0 and a daemon", d.Code, d.Stderr, a.Code, a.Stderr, n.pid())
				}
				f.observe(t, "%s: daemon exit 0, agent start exit 0 (daemon pid %d)", tc.name, n.pid())
				return
			}
			if d.Code != 1 || !strings.Contains(d.Stderr, n.Run) || !strings.Contains(d.Stderr, tc.want) {
				t.Fatalf("o2cb-ra daemon (run dir %s) = exit %d, %q; want exit 1 naming it and %q", tc.name, d.Code, d.Stderr, tc.want)
			}
			reason := testenv.ExitReason(a.Stderr)
			if a.Code != 4 || !strings.Contains(reason, n.Run) || !strings.Contains(reason, tc.want) {
				t.Fatalf("o2cb start (run dir %s) = exit %d, reason %q; want 4 (OCF_ERR_PERM) naming it and %q", tc.name, a.Code, reason, tc.want)
			}
			if pid := n.pid(); pid != 0 && process.Running(pid) {
				t.Fatalf("a daemon (pid %d) runs on the refused run dir", pid)
			}
			if after := identify(t, n.Run); after != before {
				t.Fatalf("run dir after the refusals = %+v, want %+v", after, before)
			}
			if fi, err := os.Stat(n.Run); err == nil && fi.IsDir() {
				if ents, _ := os.ReadDir(n.Run); len(ents) != 0 {
					t.Fatalf("refused run dir holds %d files, want none", len(ents))
				}
			}
			f.observe(t, "%s: daemon exit %d %q; agent start exit %d, reason %q", tc.name, d.Code,
				strings.ReplaceAll(firstLine(d.Stderr), dir, "$TMP"), a.Code, strings.ReplaceAll(reason, dir, "$TMP"))
		})
	}
	f.dataChecked("each refused run dir: mode, owner, content unchanged and empty")
}

func mkdirMode(t *testing.T, path string, mode fs.FileMode) string {
	t.Helper()
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

// agentUmask runs an agent action as agent does, under umask mask: through
// a wrapper script that sets it and execs o2cb-ra.
func (n *node) agentUmask(mask int, agent, action string) result {
	n.t.Helper()
	wrapper := filepath.Join(n.t.TempDir(), "o2cb-ra-umask")
	script := fmt.Sprintf("#!/bin/sh\numask %03o && exec %q \"$@\"\n", mask, n.o2cbRA)
	if err := os.WriteFile(wrapper, []byte(script), 0o700); err != nil {
		n.t.Fatal(err)
	}
	real := n.o2cbRA
	n.o2cbRA = wrapper
	defer func() { n.o2cbRA = real }()
	return n.agent(agent, action)
}

func TestCreatedFileModes(t *testing.T) {
	f := record(t, "security",
		"umask 000 for the o2cb agent (which spawns the daemon), ocfs2_hb_ctl and hbregion; global mode, one region started by the agent, one local reference and a pacemaker owner added, the log and state written; cluster.conf written by our writer under umask 000 and 077",
		"no file or directory we create is group/world-writable: run dir 0700; socket, pid, state.json, log, launch record 0600; no temporary file left; cluster.conf 0644 whatever the umask")
	dir := t.TempDir()
	v := newVolume(t, f, dir, false)
	c := newCluster(t, dir, 1, true, v)
	n := c.node(1)
	if r := n.agentUmask(0, "o2cb", "start"); r.Code != 0 {
		t.Fatalf("o2cb start under umask 000 = exit %d: %s", r.Code, r.Stderr)
	}
	r := n.run1("/bin/sh", []string{"O2CB_HEARTBEAT_OWNER=global"}, "-c", `umask 000 && exec "$0" "$@"`, n.hbCtl, "-S", "-u", v.UUID)
	if r.Code != 0 {
		t.Fatalf("ocfs2_hb_ctl -S under umask 000 = exit %d: %s", r.Code, r.Stderr)
	}
	if got := n.region(v.UUID); got == nil || got.State == "" {
		t.Fatalf("region %s not running after o2cb start", v.UUID)
	}
	want := map[string]fs.FileMode{
		".":               fs.ModeDir | 0o700,
		rundir.SocketName: fs.ModeSocket | 0o600,
		rundir.PIDName:    0o600,
		rundir.StateName:  0o600,
		rundir.LogName:    0o600,
		// How the o2cb start launched the daemon, for an agent that
		// must bring back a daemon that died.
		daemonctl.LaunchName: 0o600,
	}
	var seen []string
	err := filepath.WalkDir(n.Run, func(path string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(n.Run, path)
		seen = append(seen, fmt.Sprintf("%s %04o", rel, fi.Mode().Perm()))
		if fi.Mode().Perm()&0o022 != 0 {
			t.Errorf("%s has mode %v: writable by group or others", path, fi.Mode())
		}
		if m, ok := want[rel]; !ok {
			t.Errorf("%s: unexpected file in the run dir (mode %v)", path, fi.Mode())
		} else if fi.Mode() != m {
			t.Errorf("%s has mode %v, want %v", path, fi.Mode(), m)
		}
		delete(want, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != 0 {
		t.Fatalf("run dir lacks %v; has %v", slices.Sorted(mapKeys(want)), seen)
	}
	f.observe(t, "run dir under umask 000: %s", strings.Join(seen, ", "))

	conf := filepath.Join(dir, "conf")
	mkdirMode(t, conf, 0o755)
	for _, mask := range []int{0, 0o077} {
		path := filepath.Join(conf, fmt.Sprintf("cluster-%03o.conf", mask))
		old := syscall.Umask(mask)
		clustertest.Write(t, path, clustertest.Cluster{Name: "o2cbtest", Global: true, Nodes: 2, Regions: []string{v.UUID}})
		syscall.Umask(old)
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != 0o644 {
			t.Errorf("cluster.conf written under umask %03o has mode %v, want -rw-r--r--", mask, fi.Mode())
		}
		f.observe(t, "cluster.conf written under umask %03o: mode %04o", mask, fi.Mode().Perm())
	}
	if ents, _ := os.ReadDir(conf); len(ents) != 2 {
		t.Errorf("%s holds %d files, want the 2 written (no temporary file left)", conf, len(ents))
	}
	if r := n.agent("o2cb", "stop"); r.Code != 0 {
		t.Fatalf("o2cb stop = exit %d: %s", r.Code, r.Stderr)
	}
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// TestPlantedSymlinks plants symlinks to a victim file outside the run
// dir at every name the daemon writes, before it starts and while it
// runs.
func TestPlantedSymlinks(t *testing.T) {
	f := record(t, "security",
		"symlinks to a victim file outside the run dir planted at state.json, o2hbd.log, o2hbd.pid, o2hbd.sock and .state.json.tmp* before the daemon starts (one at a time), and at state.json, o2hbd.log and .state.json.tmp* while it runs before a state save; state.json as a symlink to a crafted state naming a real region (control: the same content as a plain file is resumed)",
		"the victim unchanged (content, mode, mtime); the daemon refuses to start naming the link (state, log, pid) or replaces the link itself (socket, state on save); temporary-name links untouched; a state.json symlink is never read")
	dir := t.TempDir()
	v := newVolume(t, f, dir, false)
	c := newCluster(t, dir, 1, false, v)
	victim := filepath.Join(dir, "victim")
	crafted := fmt.Sprintf(`{"version":1,"regions":[{"uuid":%q,"device":%q,"owners":{"service:planted":1}}]}`+"\n", v.UUID, v.Device)
	if err := os.WriteFile(victim, []byte(crafted), 0o640); err != nil {
		t.Fatal(err)
	}
	victimID := identify(t, victim)
	checkVictim := func(when string) {
		t.Helper()
		if got := identify(t, victim); got != victimID {
			t.Fatalf("victim %s: %+v, want it unchanged %+v", when, got, victimID)
		}
	}

	for _, tc := range []struct {
		name   string
		refuse string // "" if the daemon starts
	}{
		{rundir.StateName, "state file"},
		{rundir.LogName, "log file"},
		{rundir.PIDName, "pid file"},
		{rundir.SocketName, ""},
		{".state.json.tmp1", ""},
	} {
		n := c.node(1)
		n.Run = mkdirMode(t, filepath.Join(dir, "run-"+tc.name), 0o700)
		n.Env = append(n.Env, "O2CB_RUN_DIR="+n.Run)
		link := filepath.Join(n.Run, tc.name)
		if err := os.Symlink(victim, link); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(n.o2cbRA, "daemon")
		cmd.Env = n.Env
		out, err := cmd.CombinedOutput()
		msg := firstLine(string(out))
		if tc.refuse != "" {
			if err == nil || !strings.Contains(msg, tc.refuse) || !strings.Contains(msg, link) {
				t.Fatalf("daemon with %s a symlink: %v, %q; want a refusal naming %s", tc.name, err, msg, link)
			}
			if fi, err := os.Lstat(link); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
				t.Fatalf("%s after the refusal: %v, %v; want the planted link left for the administrator", link, fi, err)
			}
			f.observe(t, "before start, %s: daemon refused, %q", tc.name, strings.ReplaceAll(msg, dir, "$TMP"))
		} else {
			if err != nil {
				t.Fatalf("daemon with %s a symlink: %v, %s; want it started", tc.name, err, out)
			}
			fi, err := os.Lstat(link)
			switch {
			case err != nil:
				t.Fatal(err)
			case tc.name == rundir.SocketName && fi.Mode()&fs.ModeSocket == 0:
				t.Fatalf("%s is %v, want the daemon's socket in place of the link", link, fi.Mode())
			case tc.name != rundir.SocketName && fi.Mode()&fs.ModeSymlink == 0:
				t.Fatalf("%s is %v, want the planted link untouched", link, fi.Mode())
			}
			if fi, err := os.Lstat(filepath.Join(n.Run, rundir.StateName)); err != nil || !fi.Mode().IsRegular() {
				t.Fatalf("state.json after the start: %v, %v; want a regular file saved", fi, err)
			}
			st := n.status()
			if len(st.Regions) != 0 {
				t.Fatalf("daemon started with %d regions, want none", len(st.Regions))
			}
			f.observe(t, "before start, %s: daemon started, the link %s", tc.name, map[bool]string{true: "replaced by its socket", false: "left untouched, state saved beside it"}[tc.name == rundir.SocketName])
			n.kill(syscall.SIGTERM)
		}
		checkVictim("after planting " + tc.name)
	}

	// Control: the crafted content as a real state file is resumed, so
	// the refusal above is not for want of a valid state.
	n := c.node(1)
	n.Run = mkdirMode(t, filepath.Join(dir, "run-control"), 0o700)
	n.Env = append(n.Env, "O2CB_RUN_DIR="+n.Run)
	if err := os.WriteFile(filepath.Join(n.Run, rundir.StateName), []byte(crafted), 0o600); err != nil {
		t.Fatal(err)
	}
	n.startDaemon()
	testenv.WaitFor(t, 10*time.Second, "control: crafted state resumed", func() bool {
		r := n.region(v.UUID)
		return r != nil && len(r.Owners) == 1 && r.Owners[0].Name == "service:planted"
	})
	f.observe(t, "control: the same content as a regular state.json is resumed (region %s, owner service:planted)", v.UUID[:8])

	// While it runs: links at state.json, the log and temporary names,
	// then a state save.
	state := filepath.Join(n.Run, rundir.StateName)
	for _, name := range []string{rundir.StateName, rundir.LogName, ".state.json.tmp1", ".state.json.tmp2"} {
		tmp := filepath.Join(n.Run, "planting")
		if err := os.Symlink(victim, tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(n.Run, name)); err != nil {
			t.Fatal(err)
		}
	}
	if r := n.hbctl("-S", "-d", v.Device, "mnt"); r.Code != 0 {
		t.Fatalf("ocfs2_hb_ctl -S (a state save) = exit %d: %s", r.Code, r.Stderr)
	}
	fi, err := os.Lstat(state)
	if err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("state.json after a save over a planted link: %v, %v; want a regular file", fi, err)
	}
	b, _ := os.ReadFile(state)
	if !strings.Contains(string(b), `"service:mnt": 1`) {
		t.Fatalf("state.json after the save = %s, want service:mnt", b)
	}
	checkVictim("after a save over links planted while running")
	f.observe(t, "while running: save replaced the state.json link by a regular %04o file (%d bytes); log and temporary-name links not written through", fi.Mode().Perm(), len(b))
	f.dataChecked("victim file: content, mode and mtime unchanged after every plant")
}
