package kernelstack

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/clustertest"
	"github.com/o2cb-ra/o2cb-ra/internal/ocfs2"
	"github.com/o2cb-ra/o2cb-ra/internal/testenv"
)

// The cluster's timeouts. dead_threshold 7 gives the kernel's write
// timeout 2000*(7-1) = 12 s, room for a TCG guest on a loaded host to
// run late without fencing itself.
const (
	cluster       = "kstack"
	deadThreshold = 7
	idleMS        = 10000
	keepaliveMS   = 2000
	reconnectMS   = 2000
)

// timings is the summary table a test logs at its end.
type timings struct {
	rows [][2]string
}

func (s *timings) add(what string, d time.Duration) {
	s.rows = append(s.rows, [2]string{what, d.Round(10 * time.Millisecond).String()})
}

func (s *timings) note(what, v string) { s.rows = append(s.rows, [2]string{what, v}) }

func (s *timings) String() string {
	var b strings.Builder
	w := 0
	for _, r := range s.rows {
		w = max(w, len(r[0]))
	}
	for _, r := range s.rows {
		fmt.Fprintf(&b, "  %-*s  %s\n", w, r[0], r[1])
	}
	return b.String()
}

// rig is two booted guests on shared images.
type rig struct {
	t       *testing.T
	g       [2]*guest
	regions []ocfs2.Volume // one per image, vda, vdb...
	global  bool
	sum     *timings
}

// newRig formats the images (one for local heartbeat, two for global),
// writes cluster.conf and boots n1 and n2 on them.
func newRig(t *testing.T, global bool, sum *timings) *rig {
	t.Helper()
	prep := time.Now()
	k := requireRig(t)
	bins := staticBinaries(t)
	dir := t.TempDir()
	r := &rig{t: t, global: global, sum: sum}
	n := 1
	if global {
		n = 2
	}
	var imgs, uuids []string
	for i := range n {
		img := testenv.MkfsOCFS2(t, testenv.Image{SizeMiB: 128, Slots: 2, Cluster: cluster, Label: fmt.Sprintf("kstack%d", i),
			Local: !global, Dir: dir, Name: fmt.Sprintf("disk%d.img", i)})
		v, err := ocfs2.Open(img)
		if err != nil {
			t.Fatal(err)
		}
		if v.Heartbeat.BlockBytes != 512 {
			t.Fatalf("%s: heartbeat block_bytes %d, want 512 (the guest's virtio disk has 512-byte sectors)", img, v.Heartbeat.BlockBytes)
		}
		t.Logf("image %s (/dev/vd%c): region %s, start_block %d (512-byte sectors), %d blocks",
			filepath.Base(img), 'a'+i, v.UUID, v.Heartbeat.StartBlock, v.Heartbeat.Blocks)
		imgs, uuids = append(imgs, img), append(uuids, v.UUID)
		r.regions = append(r.regions, *v)
	}
	cc := clustertest.Cluster{Name: cluster, Global: global, Nodes: 2, Subnet: guestSubnet}
	if global {
		cc.Regions = uuids
	}
	conf := clustertest.Write(t, filepath.Join(dir, "cluster.conf"), cc)
	confData := testenv.Run(t, "cat", conf)
	mods, err := k.Modules(guestModules)
	if err != nil {
		t.Fatal(err)
	}
	nds, err := dgramNetdevs()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range mods {
		names = append(names, m.Name)
	}
	t.Logf("kernel %s (%s) booted as %s; modules %v", k.Release, filepath.Base(k.Deb), k.BootHow, names)
	sum.add("prepare: images, static build, modules", time.Since(prep))
	begin := time.Now()
	for i := range r.g {
		r.g[i] = startGuest(t, k, guestSpec{name: "n" + strconv.Itoa(i+1), num: i + 1, conf: []byte(confData),
			images: imgs, netdev: nds[i], modules: mods}, bins)
	}
	for _, g := range r.g {
		boot, modTime, err := g.waitReady(90 * time.Second)
		if err != nil {
			t.Fatalf("%s did not boot: %v", g.spec.name, err)
		}
		sum.add(g.spec.name+": boot to /init ready (qemu start to READY)", boot)
		sum.add(g.spec.name+": module loading (guest)", modTime)
	}
	sum.add("both guests ready", time.Since(begin))
	return r
}

// registerScript registers the cluster by hand in configfs as o2cb
// register-cluster and the init script's timeouts do (node attributes
// port, address, num, then local for the node named as the host).
func (r *rig) registerScript() string {
	mode := "local"
	if r.global {
		mode = "global"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "set -e\nC=/sys/kernel/config/cluster/%s\n", cluster)
	b.WriteString("echo o2cb > /sys/fs/ocfs2/cluster_stack\n")
	b.WriteString("mkdir \"$C\"\n")
	fmt.Fprintf(&b, "echo %s > \"$C/heartbeat/mode\"\n", mode)
	for _, g := range r.g {
		fmt.Fprintf(&b, "N=$C/node/%s\nmkdir \"$N\"\necho 7777 > \"$N/ipv4_port\"\necho %s > \"$N/ipv4_address\"\necho %d > \"$N/num\"\n",
			g.spec.name, g.spec.addr(), g.spec.num)
	}
	b.WriteString("echo 1 > \"$C/node/$(hostname)/local\"\n")
	fmt.Fprintf(&b, "echo %d > \"$C/heartbeat/dead_threshold\"\n", deadThreshold)
	fmt.Fprintf(&b, "echo %d > \"$C/idle_timeout_ms\"\n", idleMS)
	fmt.Fprintf(&b, "echo %d > \"$C/keepalive_delay_ms\"\n", keepaliveMS)
	fmt.Fprintf(&b, "echo %d > \"$C/reconnect_delay_ms\"\n", reconnectMS)
	// The kernel ignores some writes silently: read everything back.
	fmt.Fprintf(&b, "check() { v=$(cat \"$1\"); [ \"$v\" = \"$2\" ] || { echo \"$1 is $v, want $2\"; exit 1; }; }\n")
	fmt.Fprintf(&b, "check \"$C/heartbeat/mode\" %s\ncheck \"$C/heartbeat/dead_threshold\" %d\n", mode, deadThreshold)
	fmt.Fprintf(&b, "check \"$C/idle_timeout_ms\" %d\ncheck \"$C/keepalive_delay_ms\" %d\ncheck \"$C/reconnect_delay_ms\" %d\n", idleMS, keepaliveMS, reconnectMS)
	b.WriteString("check \"$C/node/$(hostname)/local\" 1\ncheck /sys/fs/ocfs2/cluster_stack o2cb\n")
	return b.String()
}

// register registers the cluster by hand on both guests, then asks
// ocfs2-tools' o2cb in n1 what it makes of it: the nodes of the
// cluster.conf we wrote, and the cluster online in configfs.
func (r *rig) register() {
	t := r.t
	reg := both(t, r.g, "register the cluster", [2]string{r.registerScript(), r.registerScript()}, 30*time.Second)
	r.sum.add("n1: register cluster by hand", time.Duration(reg[0].guestMS)*time.Millisecond)
	o := r.g[0].must("o2cb list-nodes on our cluster.conf", "o2cb list-nodes "+cluster, 30*time.Second)
	for _, g := range r.g {
		if !strings.Contains(o.out, g.spec.addr()) {
			t.Errorf("o2cb list-nodes in n1 does not list %s at %s:\n%s", g.spec.name, g.spec.addr(), o.out)
		}
	}
	// Online: registered, and in global mode a region started.
	r.clusterStatus(!r.global)
}

// clusterStatus checks what o2cb cluster-status says in n1.
func (r *rig) clusterStatus(online bool) {
	r.t.Helper()
	st, err := r.g[0].exec("o2cb cluster-status "+cluster, 30*time.Second)
	if err != nil {
		r.t.Fatal(err)
	}
	if (st.rc == 0) != online {
		r.t.Errorf("n1: o2cb cluster-status: status %d (%s), want online %v", st.rc, strings.TrimSpace(st.out), online)
	}
	r.t.Logf("n1: o2cb cluster-status: %s", strings.TrimSpace(st.out))
}

// regionDir is a region's configfs directory in the guests.
func regionDir(uuid string) string {
	return fmt.Sprintf("/sys/kernel/config/cluster/%s/heartbeat/%s", cluster, uuid)
}

// startRegionScript starts region v on dev by hand, as libo2cb does; the
// dev write returns when the kernel calls the region steady.
func startRegionScript(v ocfs2.Volume, dev string) string {
	R := regionDir(v.UUID)
	return fmt.Sprintf("set -e\nmkdir %s\necho %d > %s/block_bytes\necho %d > %s/start_block\necho %d > %s/blocks\n(exec 3<> %s && echo 3 > %s/dev)\n",
		R, v.Heartbeat.BlockBytes, R, v.Heartbeat.StartBlock, R, v.Heartbeat.Blocks, R, dev, R)
}

// uptime prints the guest's uptime in seconds as the kernel log's
// timestamps count it.
const uptime = "cut -d' ' -f1 /proc/uptime"

var reKernelTime = regexp.MustCompile(`^\[\s*(\d+\.\d+)\]`)

// consoleTime returns the kernel timestamp of the first console line
// after uptime 'after' that contains s.
func consoleTime(console string, after float64, s string) (float64, bool) {
	for _, l := range strings.Split(console, "\n") {
		m := reKernelTime.FindStringSubmatch(l)
		if m == nil || !strings.Contains(l, s) {
			continue
		}
		if at, err := strconv.ParseFloat(m[1], 64); err == nil && at >= after {
			return at, true
		}
	}
	return 0, false
}

func secs(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }

// mount mounts /dev/vda on /mnt on both guests at once with ocfs2-tools'
// mount.ocfs2 and logs, in local mode, how the time splits between the
// region start (until the DLM joins its domain) and the kernel mount.
func (r *rig) mount() {
	script := "set -e\n" + uptime + "\nmount.ocfs2 /dev/vda /mnt\ngrep ' /mnt ocfs2 ' /proc/mounts\n"
	res := both(r.t, r.g, "mount.ocfs2", [2]string{script, script}, 90*time.Second)
	for i, g := range r.g {
		lines := strings.SplitN(res[i].out, "\n", 2)
		start, _ := strconv.ParseFloat(strings.TrimSpace(lines[0]), 64)
		what := g.spec.name + ": mount.ocfs2"
		if !r.global {
			what += " (region start + mount)"
		}
		r.sum.add(what, time.Duration(res[i].guestMS)*time.Millisecond)
		if join, ok := consoleTime(g.m.ConsoleText(), start, "o2dlm: Joining domain"); ok && !r.global {
			r.sum.add(g.spec.name+":   region start (until o2dlm joins)", secs(join-start))
			r.sum.add(g.spec.name+":   kernel mount (o2dlm join on)", time.Duration(res[i].guestMS)*time.Millisecond-secs(join-start))
		}
		if len(lines) > 1 {
			r.t.Logf("%s: %s", g.spec.name, strings.TrimSpace(lines[1]))
		}
	}
}

// shareAndKill writes a file on n1, reads it on n2, lets n2 write one,
// kills n2 and measures how long n1 takes to write again; n1 must evict
// n2 and must not fence.
func (r *rig) shareAndKill() {
	t := r.t
	n1, n2 := r.g[0], r.g[1]
	word := fmt.Sprintf("from-n1-%d", time.Now().UnixNano())
	w := n1.must("write on n1", fmt.Sprintf("echo %s > /mnt/shared && sync", word), 30*time.Second)
	rd := n2.must("read on n2", "cat /mnt/shared", 30*time.Second)
	if strings.TrimSpace(rd.out) != word {
		t.Fatalf("n2 read %q from the file n1 wrote %q", rd.out, word)
	}
	r.sum.add("n1 write+sync", time.Duration(w.guestMS)*time.Millisecond)
	r.sum.add("n2 reads n1's file (after n1's write returned)", rd.end.Sub(w.end))
	n2.must("write on n2", "echo from-n2 > /mnt/n2 && sync && ls /mnt", 30*time.Second)

	killed := n2.kill()
	t.Logf("n2's qemu killed (SIGKILL by pid)")
	after, err := n1.exec("set -e\n"+uptime+"\necho after-kill > /mnt/after-kill\nsync\ncat /mnt/n2 /mnt/after-kill\n", 120*time.Second)
	if err != nil || after.rc != 0 {
		t.Fatalf("n1: the write after n2's death: %v (status %d)\n%s", err, after.rc, after.out)
	}
	r.sum.add("n2 SIGKILL -> n1's write and sync returned", after.end.Sub(killed))
	if !strings.Contains(after.out, "from-n2\nafter-kill") {
		t.Errorf("n1 read back %q, want n2's file and its own", after.out)
	}
	live := n1.must("n1's live nodes", "cat /sys/kernel/debug/o2hb/livenodes", 20*time.Second)
	if strings.Fields(live.out) == nil || strings.Join(strings.Fields(live.out), " ") != "1" {
		t.Errorf("n1's o2hb live nodes after n2's death: %q, want 1", live.out)
	}
	c := n1.m.ConsoleText()
	var ev []string
	for _, l := range strings.Split(c, "\n") {
		if strings.Contains(l, "n2") || strings.Contains(l, "node 2") || strings.Contains(l, "Node 2") {
			ev = append(ev, l)
		}
	}
	t.Logf("n1's kernel about n2:\n%s", strings.Join(ev, "\n"))
	if !strings.Contains(c, "dead node 2") && !strings.Contains(c, "for node 2") {
		t.Errorf("n1's kernel log does not show the DLM recovering dead node 2")
	}
	r.checkNotFenced(n1)
}

// checkNotFenced fails when g fenced itself or died.
func (r *rig) checkNotFenced(g *guest) {
	r.t.Helper()
	if !g.alive() {
		r.t.Errorf("%s's qemu exited (with -no-reboot a fence ends qemu): %v", g.spec.name, g.m.ExitErr())
	}
	c := g.m.ConsoleText()
	for _, bad := range []string{"fencing this system", "Kernel panic", "BUG:", "Oops"} {
		if strings.Contains(c, bad) {
			r.t.Errorf("%s's console says %q", g.spec.name, bad)
		}
	}
}

// waitGone is a guest script that waits up to polls*0.1 s for path to
// vanish and prints how many polls that took, or fails.
func waitGone(p string, polls int) string {
	return fmt.Sprintf("i=0\nwhile [ -e %s ]; do i=$((i+1)); [ $i -le %d ] || { echo still there; exit 1; }; sleep 0.1; done\necho $i\n", p, polls)
}

func TestLocalHeartbeat(t *testing.T) {
	sum := &timings{}
	begin := time.Now()
	defer func() {
		sum.add("whole test", time.Since(begin))
		t.Logf("summary (local heartbeat):\n%s", sum)
	}()
	r := newRig(t, false, sum)
	n1 := r.g[0]
	v := r.regions[0]
	r.register()
	// mount.ocfs2 runs /sbin/ocfs2_hb_ctl too (-P, the heartbeat's I/O
	// priority): ocfs2-tools' own first, ours below.
	tools := fmt.Sprintf("ln -sfn %s %s", guestToolsHbCtl, guestKernelHbCtl)
	both(t, r.g, "ocfs2-tools' ocfs2_hb_ctl", [2]string{tools, tools}, 20*time.Second)
	r.mount()
	r.shareAndKill()

	// umount with ocfs2-tools' ocfs2_hb_ctl as the kernel's upcall: it
	// drops mount.ocfs2's reference and removes the region.
	u := n1.must("umount with ocfs2-tools' ocfs2_hb_ctl", "set -e\ncat /proc/sys/fs/ocfs2/nm/hb_ctl_path\numount /mnt\n", 60*time.Second)
	sum.add("n1: umount (ocfs2-tools' ocfs2_hb_ctl upcall)", time.Duration(u.guestMS)*time.Millisecond)
	g := n1.must("the region goes with ocfs2-tools' ocfs2_hb_ctl", waitGone(regionDir(v.UUID), 100), 30*time.Second)
	sum.note("n1: region gone after umount", "after "+strings.TrimSpace(g.out)+" polls of 0.1 s")

	// The same with our ocfs2_hb_ctl as the upcall. It has no kernel
	// backend yet: what it does is recorded, not asserted.
	m := n1.must("mount again on n1 alone, our ocfs2_hb_ctl installed",
		fmt.Sprintf("set -e\nln -sfn %s %s\nmount.ocfs2 /dev/vda /mnt\n", guestOurHbCtl, guestKernelHbCtl), 90*time.Second)
	sum.add("n1: mount again alone (region start + mount)", time.Duration(m.guestMS)*time.Millisecond)
	if m.out != "" {
		t.Logf("n1: mount.ocfs2 with our ocfs2_hb_ctl says:\n%s", m.out)
	}
	u = n1.must("umount with our ocfs2_hb_ctl", "umount /mnt", 60*time.Second)
	sum.add("n1: umount (our ocfs2_hb_ctl upcall)", time.Duration(u.guestMS)*time.Millisecond)
	// umount returns after the upcall (above the region was gone at
	// the first look): 1 s is plenty.
	ours, _ := n1.exec(waitGone(regionDir(v.UUID), 10), 30*time.Second)
	if ours.rc == 0 {
		sum.note("n1: region after umount with ours", "gone")
	} else {
		by, _ := n1.exec(fmt.Sprintf("%s -K -u %s; echo \"exit status $?\"", guestKernelHbCtl, v.UUID), 30*time.Second)
		t.Logf("our ocfs2_hb_ctl left the region running; run by hand it says:\n%s", by.out)
		sum.note("n1: region after umount with ours", "still running (no kernel backend yet)")
		n1.must("remove the region by hand", "rmdir "+regionDir(v.UUID), 30*time.Second)
	}
	r.checkNotFenced(n1)
}

func TestGlobalHeartbeat(t *testing.T) {
	sum := &timings{}
	begin := time.Now()
	defer func() {
		sum.add("whole test", time.Since(begin))
		t.Logf("summary (global heartbeat):\n%s", sum)
	}()
	r := newRig(t, true, sum)
	n1 := r.g[0]
	r.register()
	for i, v := range r.regions {
		s := startRegionScript(v, fmt.Sprintf("/dev/vd%c", 'a'+i))
		res := both(t, r.g, "start region "+v.UUID, [2]string{s, s}, 90*time.Second)
		for j, g := range r.g {
			sum.add(fmt.Sprintf("%s: start global region %d (/dev/vd%c)", g.spec.name, i+1, 'a'+i), time.Duration(res[j].guestMS)*time.Millisecond)
		}
	}
	r.clusterStatus(true)
	r.mount()
	r.shareAndKill()
	u := n1.must("umount", "umount /mnt", 60*time.Second)
	sum.add("n1: umount (no upcall in global mode)", time.Duration(u.guestMS)*time.Millisecond)
	var stop strings.Builder
	stop.WriteString("set -e\n")
	for _, v := range r.regions {
		if _, err := fmt.Fprintf(&stop, "[ -d %s ]\nrmdir %s\n", regionDir(v.UUID), regionDir(v.UUID)); err != nil {
			t.Fatal(err)
		}
	}
	s := n1.must("stop the regions by hand (they outlive the umount)", stop.String(), 60*time.Second)
	sum.add("n1: rmdir both regions", time.Duration(s.guestMS)*time.Millisecond)
	r.checkNotFenced(n1)
}
