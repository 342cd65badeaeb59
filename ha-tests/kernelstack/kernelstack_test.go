package kernelstack

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/clustertest"
	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
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

// agentLine is a guest command line that runs an action of our OCF agent
// (o2cb or hbregion) as Pacemaker would, with the rig's timeouts and the
// kernel backend.
func agentLine(name, action string, params ...string) string {
	env := []string{"OCF_ROOT=/usr/lib/ocf", "OCF_RESOURCE_INSTANCE=" + name, "OCF_RESKEY_CRM_meta_clone_max=2",
		"OCF_RESKEY_heartbeat_backend=kernel"}
	if name == "o2cb" {
		env = append(env,
			fmt.Sprintf("OCF_RESKEY_dead_threshold=%d", deadThreshold),
			fmt.Sprintf("OCF_RESKEY_idle_timeout_ms=%d", idleMS),
			fmt.Sprintf("OCF_RESKEY_keepalive_delay_ms=%d", keepaliveMS),
			fmt.Sprintf("OCF_RESKEY_reconnect_delay_ms=%d", reconnectMS))
	}
	for _, p := range params {
		if e, ok := strings.CutPrefix(p, "env:"); ok {
			env = append(env, e) // the agent's own environment
			continue
		}
		env = append(env, "OCF_RESKEY_"+p) // later ones win
	}
	agent := "o2cb"
	if name != "o2cb" {
		agent = "hbregion"
	}
	return fmt.Sprintf("env %s %s/%s %s", strings.Join(env, " "), guestOCFProvider, agent, action)
}

// agent is a guest script that runs agentLine and prints its exit status
// on the last line.
func agent(name, action string, params ...string) string {
	return agentLine(name, action, params...) + " 2>&1\necho \"rc=$?\"\n"
}

// agentRC runs an agent script in g and returns its exit status and
// output.
func (r *rig) agentRC(g *guest, name, action string, params ...string) (int, result) {
	r.t.Helper()
	res, err := g.exec(agent(name, action, params...), 120*time.Second)
	if err != nil {
		r.t.Fatalf("%s: %s %s: %v", g.spec.name, name, action, err)
	}
	lines := strings.Split(strings.TrimSpace(res.out), "\n")
	rc, err := strconv.Atoi(strings.TrimPrefix(lines[len(lines)-1], "rc="))
	if err != nil {
		r.t.Fatalf("%s: %s %s printed no exit status:\n%s", g.spec.name, name, action, res.out)
	}
	res.out = strings.Join(lines[:len(lines)-1], "\n")
	return rc, res
}

// agentOK runs an agent action on g and fails the test unless it exits
// with want.
func (r *rig) agentOK(g *guest, want int, name, action string, params ...string) result {
	r.t.Helper()
	rc, res := r.agentRC(g, name, action, params...)
	if rc != want {
		r.t.Fatalf("%s: %s %s: exit status %d, want %d; output:\n%s", g.spec.name, name, action, rc, want, res.out)
	}
	return res
}

// start runs the o2cb agent's start on both guests at once: it loads
// nothing (the guests' /init did), mounts dlmfs, registers the cluster
// and its nodes and, in global mode, starts both regions in the kernel.
// Then it checks the registration against what the rig asked, and asks
// ocfs2-tools' o2cb in n1 what it makes of it.
func (r *rig) start() {
	t := r.t
	var wg sync.WaitGroup
	var res [2]result
	for i, g := range r.g {
		wg.Go(func() { res[i] = r.agentOK(g, 0, "o2cb", "start") })
	}
	wg.Wait()
	for i, g := range r.g {
		r.sum.add(g.spec.name+": o2cb start (kernel backend)", time.Duration(res[i].guestMS)*time.Millisecond)
	}
	mode := "local"
	if r.global {
		mode = "global"
	}
	check := fmt.Sprintf(`set -e
C=/sys/kernel/config/cluster/%s
check() { v=$(cat "$1"); [ "$v" = "$2" ] || { echo "$1 is $v, want $2"; exit 1; }; }
check $C/heartbeat/mode %s
check $C/heartbeat/dead_threshold %d
check $C/idle_timeout_ms %d
check $C/keepalive_delay_ms %d
check $C/reconnect_delay_ms %d
check $C/fence_method reset
check $C/node/$(hostname)/local 1
check /sys/fs/ocfs2/cluster_stack o2cb
check /proc/sys/fs/ocfs2/nm/hb_ctl_path %s
grep -q ' /dlm ocfs2_dlmfs ' /proc/mounts
ls $C/node
`, cluster, mode, deadThreshold, idleMS, keepaliveMS, reconnectMS, guestOurHbCtl)
	both(t, r.g, "the kernel's registration after o2cb start", [2]string{check, check}, 30*time.Second)
	o := r.g[0].must("o2cb list-nodes on our cluster.conf", "o2cb list-nodes "+cluster, 30*time.Second)
	for _, g := range r.g {
		if !strings.Contains(o.out, g.spec.addr()) {
			t.Errorf("o2cb list-nodes in n1 does not list %s at %s:\n%s", g.spec.name, g.spec.addr(), o.out)
		}
	}
	// ocfs2-tools calls the cluster online: registered, and in global
	// mode a region running.
	r.clusterStatus(true)
	// A second start adopts what the first registered.
	r.agentOK(r.g[0], 0, "o2cb", "start")
	for _, g := range r.g {
		r.agentOK(g, 0, "o2cb", "monitor")
	}
}

// faults are the kernel backend's faults that need no region, on n1:
// a bad cluster.conf registers nothing; a registration a killed start
// left half-written is completed; two starts racing both succeed. Each
// ends with n1 stopped and configfs empty.
func (r *rig) faults() {
	t := r.t
	n1 := r.g[0]
	const C = "/sys/kernel/config/cluster"
	empty := func(what string) {
		t.Helper()
		if left := n1.must("configfs", "ls -A "+C, 20*time.Second); strings.TrimSpace(left.out) != "" {
			t.Errorf("n1: %s: configfs holds %q", what, left.out)
		}
	}
	// A node stanza whose number is not a number, on line 8 of a copy.
	n1.must("a broken cluster.conf", "sed '8s/number = .*/number = one/' "+guestClusterConf+" > /tmp/bad.conf && sed -n 8p /tmp/bad.conf", 20*time.Second)
	rc, res := r.agentRC(n1, "o2cb", "start", "cluster_conf=/tmp/bad.conf")
	if rc == 0 || !strings.Contains(res.out, "/tmp/bad.conf:8:") {
		t.Errorf("n1: o2cb start with a broken cluster.conf: exit status %d, want a failure naming /tmp/bad.conf line 8; output:\n%s", rc, res.out)
	}
	empty("after a start on a broken cluster.conf")

	// A start killed after writing n2's port only.
	n1.must("a half-written registration", fmt.Sprintf("set -e\necho o2cb > /sys/fs/ocfs2/cluster_stack\nmkdir %s/%s %s/%s/node/n2\necho 7777 > %s/%s/node/n2/ipv4_port\n",
		C, cluster, C, cluster, C, cluster), 20*time.Second)
	r.agentOK(n1, 0, "o2cb", "start")
	got := n1.must("n2 as registered", fmt.Sprintf("cat %s/%s/node/n2/ipv4_address %s/%s/node/n2/num", C, cluster, C, cluster), 20*time.Second)
	if want := r.g[1].spec.addr() + "\n2"; strings.TrimSpace(got.out) != want {
		t.Errorf("n1: n2 after the start completed a half-written registration: %q, want %q", got.out, want)
	}
	r.agentOK(n1, 0, "o2cb", "stop")
	empty("after the stop")

	// Two starts at once.
	race := fmt.Sprintf("(%s) > /tmp/start1 &\n(%s) > /tmp/start2\nwait\ncat /tmp/start1 /tmp/start2\n",
		strings.TrimSpace(agent("o2cb", "start")), strings.TrimSpace(agent("o2cb", "start")))
	res = n1.must("two o2cb starts at once", race, 120*time.Second)
	if strings.Count(res.out, "rc=0") != 2 {
		t.Errorf("n1: two o2cb starts at once: want both to exit 0; output:\n%s", res.out)
	}
	r.agentOK(n1, 0, "o2cb", "monitor")

	// A stop racing a mount: either the stop refuses and the volume
	// mounts, or the stop goes through and the mount fails; never
	// half of each.
	race = fmt.Sprintf("mount.ocfs2 /dev/vda /mnt > /tmp/mount 2>&1 &\nm=$!\nsleep 1\n(%s) > /tmp/stop\nwait $m\necho \"mount=$?\"\ncat /tmp/stop\ngrep -c ' /mnt ocfs2 ' /proc/mounts || true\n",
		strings.TrimSpace(agent("o2cb", "stop")))
	res = n1.must("a stop racing a mount", race, 120*time.Second)
	mounted := strings.Contains(res.out, "mount=0")
	stopped := strings.Contains(res.out, "rc=0")
	switch {
	case mounted && !stopped:
		r.sum.note("n1: stop racing a mount", "the stop refused; the volume mounted")
		n1.must("umount after the race", "umount /mnt", 60*time.Second)
	case stopped && !mounted:
		r.sum.note("n1: stop racing a mount", "the stop went through; the mount failed")
	default:
		t.Errorf("n1: a stop racing a mount: want exactly one of them to succeed; output:\n%s", res.out)
	}
	r.agentOK(n1, 0, "o2cb", "stop")
	empty("after the racing starts' stop")
}

// guestMS defines ms in a guest script: the guest's uptime in
// milliseconds, to 10 ms.
const guestMS = "ms() { read -r up _ < /proc/uptime; echo \"${up%.*}${up#*.}0\"; }\n"

// hungDevice runs a kernel region on a device that then stops answering:
// a device-mapper multipath device over n1's image (one path, queueing
// while no path is up), suspended. validate-all warns that the device
// can hold an I/O without end; the monitor keeps its speed while the
// device hangs, and a start of the region on the hung device fails in a
// bounded time, naming it, with nothing made (the kernel's start would
// read the device uninterruptibly). It measures the monitor against the
// agent's meta-data, the process's own cost.
func (r *rig) hungDevice() {
	t := r.t
	n1 := r.g[0]
	v := r.regions[0]
	const dm = "/dev/mapper/hb"
	n1.must("a multipath device over /dev/vda", "set -e\n"+
		"dmsetup create --noudevsync hb --table \"0 $(blockdev --getsz /dev/vda) multipath 1 queue_if_no_path 0 1 1 round-robin 0 1 1 /dev/vda 1000\"\n"+
		"dmsetup mknodes hb\ndmsetup table hb\n[ -b "+dm+" ]", 30*time.Second)

	// validate-all at depth 10 of a cluster whose global region is on
	// it: the queueing is named, with the device.
	gconf := clustertest.Write(t, filepath.Join(t.TempDir(), "global.conf"),
		clustertest.Cluster{Name: cluster, Global: true, Nodes: 2, Subnet: guestSubnet, Regions: []string{v.UUID}})
	data, err := os.ReadFile(gconf)
	if err != nil {
		t.Fatal(err)
	}
	n1.must("a global cluster.conf", "cat > /tmp/global.conf <<'EOF'\n"+string(data)+"EOF\n", 20*time.Second)
	res := r.agentOK(n1, 0, "o2cb", "validate-all", "cluster_conf=/tmp/global.conf", "devices="+dm, "env:OCF_CHECK_LEVEL=10")
	if !strings.Contains(res.out, "queue_if_no_path") || !strings.Contains(res.out, dm) || !strings.Contains(res.out, "dm-0") {
		t.Errorf("n1: validate-all at depth 10 with the region on a queueing multipath device: want a warning naming %s, dm-0 and queue_if_no_path; output:\n%s", dm, res.out)
	}
	r.sum.note("n1: validate-all, region on a queueing multipath device", firstLine(res.out, "queue_if_no_path"))

	r.agentOK(n1, 0, "o2cb", "start")
	s := n1.must("our ocfs2_hb_ctl -S on "+dm, guestKernelHbCtl+" -S -d "+dm+" hungtest", 60*time.Second)
	r.sum.add("n1: our ocfs2_hb_ctl -S on a device-mapper device (local mode)", time.Duration(s.guestMS)*time.Millisecond)
	r.observed(n1, []int{1}, 60*time.Second, v.UUID)
	r.agentOK(n1, 0, "o2cb", "monitor")

	const runs = 20
	funcs := guestMS + "mon() { " + agentLine("o2cb", "monitor") + " > /dev/null 2>&1; }\n" +
		"meta() { " + agentLine("o2cb", "meta-data") + " > /dev/null 2>&1; }\n"
	res = n1.must("the o2cb monitor's speed", funcs+fmt.Sprintf(`tm=0; td=0; bad=0
for i in $(seq %d); do
	t0=$(ms); mon || bad=$((bad+1)); t1=$(ms); meta || bad=$((bad+1)); t2=$(ms)
	tm=$((tm+t1-t0)); td=$((td+t2-t1))
done
echo "$tm $td $bad"
`, runs), 300*time.Second)
	var tm, td, bad int
	if _, err := fmt.Sscan(res.out, &tm, &td, &bad); err != nil || bad != 0 {
		t.Fatalf("n1: the o2cb monitor's speed: %v, %d failed runs; output:\n%s", err, bad, res.out)
	}
	r.sum.note("n1: o2cb monitor (kernel backend, 1 region), whole process, mean of 20 (TCG)",
		fmt.Sprintf("%d ms; meta-data %d ms; ratio %.2f", tm/runs, td/runs, float64(tm)/float64(max(td, 1))))

	// The device hangs for 3 s, well within the kernel's 12 s write
	// timeout: monitors run one after another meanwhile.
	res = n1.must("monitors while "+dm+" hangs", funcs+`set -e
dmsetup suspend hb
end=$(($(ms) + 3000)); n=0; worst=0; bad=0
while [ "$(ms)" -lt "$end" ]; do
	t0=$(ms); mon || bad=$((bad+1)); d=$(($(ms) - t0)); n=$((n+1))
	[ "$d" -gt "$worst" ] && worst=$d
done
dmsetup resume hb
echo "$n $worst $bad"
`, 120*time.Second)
	var n, worst int
	if _, err := fmt.Sscan(res.out, &n, &worst, &bad); err != nil || n == 0 {
		t.Fatalf("n1: monitors while %s hangs: %v; output:\n%s", dm, err, res.out)
	}
	r.sum.note("n1: o2cb monitor while the region's device hangs for 3 s (TCG)", fmt.Sprintf("%d runs, slowest %d ms, %d failed", n, worst, bad))
	if bad != 0 || worst >= 1000 {
		t.Errorf("n1: o2cb monitor while %s hangs: %d of %d runs failed, the slowest took %d ms; want all to succeed within 1 s", dm, bad, n, worst)
	}
	n1.must("our ocfs2_hb_ctl -K", guestKernelHbCtl+" -K -u "+v.UUID+" hungtest", 30*time.Second)
	n1.must("the region goes at -K", waitGone(regionDir(v.UUID), 20), 30*time.Second)

	// A start on the hung device: it fails within twice the check's 5 s
	// and names the device, and the kernel holds no region of it. The
	// device's first 16 MiB are in its page cache (held open by the
	// script), as on a node where something read the volume: the
	// superblock answers from there, and only the direct read of the
	// heartbeat area finds the device hung.
	res = n1.must("our ocfs2_hb_ctl -S on the hung "+dm, guestMS+fmt.Sprintf(`exec 5< /dev/mapper/hb
dd if=/dev/mapper/hb of=/dev/null bs=1M count=16 2> /dev/null
dmsetup suspend hb
t0=$(ms)
%s -S -d %s hungtest 2>&1 && echo "rc=0" || echo "rc=$?"
echo "took=$(($(ms) - t0))"
[ -e %s ] && echo "region left" || true
%s -I -u %s
dmsetup resume hb
exec 5<&-
`, guestKernelHbCtl, dm, regionDir(v.UUID), guestKernelHbCtl, v.UUID), 120*time.Second)
	var took int
	if i := strings.Index(res.out, "took="); i >= 0 {
		fmt.Sscan(res.out[i+len("took="):], &took)
	}
	r.sum.note("n1: our ocfs2_hb_ctl -S on a hung device (fails)", fmt.Sprintf("%d ms", took))
	if strings.Contains(res.out, "rc=0") || !strings.Contains(res.out, dm) || !strings.Contains(res.out, "did not answer the reads of its volume and heartbeat area") ||
		took == 0 || took > 11000 || strings.Contains(res.out, "region left") || !strings.Contains(res.out, v.UUID+": 0 refs") {
		t.Errorf("n1: our ocfs2_hb_ctl -S on a hung device: want a failure within 11 s naming %s, no region and 0 refs; output:\n%s", dm, res.out)
	}
	// Answering again, the device starts as before.
	n1.must("our ocfs2_hb_ctl -S once "+dm+" answers", guestKernelHbCtl+" -S -d "+dm+" hungtest && "+guestKernelHbCtl+" -K -u "+v.UUID+" hungtest", 60*time.Second)
	n1.must("the region goes at -K", waitGone(regionDir(v.UUID), 20), 30*time.Second)
	r.agentOK(n1, 0, "o2cb", "stop")
	n1.must("remove "+dm, "dmsetup remove hb", 30*time.Second)
}

// firstLine is the first line of s holding sub, "" if none.
func firstLine(s, sub string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			return strings.TrimSpace(l)
		}
	}
	return ""
}

// observed waits up to d until our status in g (o2cb-ra status --json,
// the daemon observing the kernel's regions) shows each of uuids with
// live nodes want, and the kernel's own view of it (debugfs) the same;
// it returns how long that took.
func (r *rig) observed(g *guest, want []int, d time.Duration, uuids ...string) time.Duration {
	r.t.Helper()
	begin := time.Now()
	var last string
	for {
		res, err := g.exec("o2cb-ra status --json", 20*time.Second)
		if err == nil && res.rc == 0 {
			last = res.out
			var st hbclient.Status
			if json.Unmarshal([]byte(res.out), &st) == nil && st.Backend == hbclient.BackendKernel {
				ok := true
				for _, u := range uuids {
					i := slices.IndexFunc(st.Regions, func(x hbclient.RegionStatus) bool { return x.UUID == u })
					ok = ok && i >= 0 && slices.Equal(st.Regions[i].LiveNodes, want) && slices.Equal(st.Regions[i].KernelLiveNodes, want)
				}
				if ok {
					return time.Since(begin)
				}
			}
		} else if err == nil {
			last = res.out
		}
		if time.Since(begin) > d {
			r.t.Fatalf("%s: our status never showed live nodes %v, and the kernel's view the same, in regions %v within %v; last:\n%s",
				g.spec.name, want, uuids, d, last)
		}
		time.Sleep(time.Second)
	}
}

// livenodes checks the kernel's own view (debugfs) of region uuid in g.
func (r *rig) livenodes(g *guest, uuid string, want string) {
	r.t.Helper()
	res := g.must("live nodes of "+uuid, "cat /sys/kernel/debug/o2hb/"+uuid+"/livenodes", 20*time.Second)
	if got := strings.Join(strings.Fields(res.out), " "); got != want {
		r.t.Errorf("%s: the kernel's live nodes of region %s: %q, want %q", g.spec.name, uuid, got, want)
	}
}

// stop checks that the o2cb stop on n1 refuses while /mnt is mounted,
// changing nothing; then unmounts, stops and finds nothing registered.
func (r *rig) stop(umount func()) {
	t := r.t
	n1 := r.g[0]
	before := n1.must("configfs before the refused stop", "find /sys/kernel/config/cluster | sort", 20*time.Second)
	rc, res := r.agentRC(n1, "o2cb", "stop")
	if rc != 1 || !strings.Contains(res.out, "/dev/vda on /mnt") {
		t.Errorf("n1: o2cb stop while /mnt is mounted: exit status %d, want 1 naming /dev/vda on /mnt; output:\n%s", rc, res.out)
	}
	after := n1.must("configfs after the refused stop", "find /sys/kernel/config/cluster | sort", 20*time.Second)
	if after.out != before.out {
		t.Errorf("n1: the refused stop changed configfs:\nbefore:\n%s\nafter:\n%s", before.out, after.out)
	}
	umount()
	s := r.agentOK(n1, 0, "o2cb", "stop")
	r.sum.add("n1: o2cb stop (regions, nodes, cluster)", time.Duration(s.guestMS)*time.Millisecond)
	left := n1.must("configfs after the stop", "ls -A /sys/kernel/config/cluster", 20*time.Second)
	if strings.TrimSpace(left.out) != "" {
		t.Errorf("n1: configfs still holds %q after o2cb stop", left.out)
	}
	r.agentOK(n1, 0, "o2cb", "stop")
	r.agentOK(n1, 7, "o2cb", "monitor")
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
	r.faults()
	r.hungDevice()
	r.start()
	// mount.ocfs2 starts the region itself (libo2cb), counting its
	// reference in the semaphore our ocfs2_hb_ctl reads, and runs
	// /sbin/ocfs2_hb_ctl -P, ours.
	r.mount()
	for _, g := range r.g {
		refs := g.must("our ocfs2_hb_ctl -I", guestKernelHbCtl+" -I -u "+v.UUID, 20*time.Second)
		if want := v.UUID + ": 1 refs"; strings.TrimSpace(refs.out) != want {
			t.Errorf("%s: our ocfs2_hb_ctl -I after mount.ocfs2: %q, want %q", g.spec.name, refs.out, want)
		}
		r.livenodes(g, v.UUID, "1 2")
		sum.add(g.spec.name+": our status shows mount.ocfs2's region with both nodes", r.observed(g, []int{1, 2}, 60*time.Second, v.UUID))
		r.agentOK(g, 0, "o2cb", "monitor")
	}
	r.shareAndKill()
	r.observed(n1, []int{1}, 60*time.Second, v.UUID)
	r.livenodes(n1, v.UUID, "1")
	r.agentOK(n1, 0, "o2cb", "monitor")

	r.stop(func() {
		// umount's upcall runs our ocfs2_hb_ctl -K -u UUID: it drops
		// mount.ocfs2's reference and removes the region.
		u := n1.must("umount", "umount /mnt", 60*time.Second)
		sum.add("n1: umount (our ocfs2_hb_ctl -K upcall)", time.Duration(u.guestMS)*time.Millisecond)
		g := n1.must("the region goes at umount", waitGone(regionDir(v.UUID), 20), 30*time.Second)
		sum.note("n1: region gone after umount", "after "+strings.TrimSpace(g.out)+" polls of 0.1 s")
		refs := n1.must("our ocfs2_hb_ctl -I", guestKernelHbCtl+" -I -u "+v.UUID, 20*time.Second)
		if want := v.UUID + ": 0 refs"; strings.TrimSpace(refs.out) != want {
			t.Errorf("n1: our ocfs2_hb_ctl -I after umount: %q, want %q", refs.out, want)
		}
		// Signals during the kernel's start (the dev write waits for a
		// steady region; a signal would abort it) do not stop ours.
		sig := n1.must("signals during our ocfs2_hb_ctl -S", fmt.Sprintf(
			"%s -S -u %s sigtest &\np=$!\nsleep 2\nkill -TERM $p; kill -CHLD $p; kill -HUP $p\nwait $p\necho \"rc=$?\"\ncat %s/pid\n%s -I -u %s\n",
			guestKernelHbCtl, v.UUID, regionDir(v.UUID), guestKernelHbCtl, v.UUID), 60*time.Second)
		if !strings.Contains(sig.out, "rc=0") || !strings.Contains(sig.out, v.UUID+": 1 refs") {
			t.Errorf("n1: our ocfs2_hb_ctl -S signalled during the kernel's start: want it to finish (rc=0, 1 ref); output:\n%s", sig.out)
		}
		n1.must("our ocfs2_hb_ctl -K", guestKernelHbCtl+" -K -u "+v.UUID+" sigtest", 30*time.Second)
		n1.must("the region goes at -K", waitGone(regionDir(v.UUID), 20), 30*time.Second)

		// An hbregion resource holds the region in the kernel: one
		// reference, gone at its stop.
		hb := "uuid=" + v.UUID
		r.agentOK(n1, 7, "hbregion", "monitor", hb)
		s := r.agentOK(n1, 0, "hbregion", "start", hb)
		sum.add("n1: hbregion start (kernel region, local mode)", time.Duration(s.guestMS)*time.Millisecond)
		r.agentOK(n1, 0, "hbregion", "start", hb)
		r.agentOK(n1, 0, "hbregion", "monitor", hb)
		refs = n1.must("our ocfs2_hb_ctl -I", guestKernelHbCtl+" -I -u "+v.UUID, 20*time.Second)
		if want := v.UUID + ": 1 refs"; strings.TrimSpace(refs.out) != want {
			t.Errorf("n1: our ocfs2_hb_ctl -I with hbregion started: %q, want %q", refs.out, want)
		}
		r.agentOK(n1, 0, "hbregion", "stop", hb)
		r.agentOK(n1, 0, "hbregion", "stop", hb)
		n1.must("the region goes at hbregion's stop", waitGone(regionDir(v.UUID), 20), 30*time.Second)
		r.agentOK(n1, 7, "hbregion", "monitor", hb)
	})
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
	r.start()
	uuids := []string{r.regions[0].UUID, r.regions[1].UUID}
	for _, g := range r.g {
		for _, v := range r.regions {
			r.livenodes(g, v.UUID, "1 2")
		}
		sum.add(g.spec.name+": our status shows both nodes in both regions", r.observed(g, []int{1, 2}, 60*time.Second, uuids...))
	}
	r.mount()
	r.shareAndKill()
	sum.add("n1: our status shows n2 dead (after the kill's write)", r.observed(n1, []int{1}, 60*time.Second, uuids...))
	for _, v := range r.regions {
		r.livenodes(n1, v.UUID, "1")
	}
	r.agentOK(n1, 0, "o2cb", "monitor")
	r.stop(func() {
		u := n1.must("umount", "umount /mnt", 60*time.Second)
		sum.add("n1: umount", time.Duration(u.guestMS)*time.Millisecond)
		// Global regions outlive the umount: the cluster owns them.
		for _, v := range r.regions {
			n1.must("region still there", "[ -d "+regionDir(v.UUID)+" ]", 20*time.Second)
		}
	})
	r.checkNotFenced(n1)
}

// A node without the kernel stack that writes heartbeats beside kernel
// nodes holds the kernel's quorum: kernel mounts wait 60 s for an o2net
// connection that never comes, and fail. With its guard (the default)
// our writer finds the kernel node's o2net and steps back, and the mount
// goes through at about its normal speed.
func TestMixedCluster(t *testing.T) {
	sum := &timings{}
	begin := time.Now()
	defer func() {
		sum.add("whole test", time.Since(begin))
		t.Logf("summary (mixed cluster, local heartbeat):\n%s", sum)
	}()
	r := newRig(t, false, sum)
	n1, n2 := r.g[0], r.g[1]
	v := r.regions[0]
	hb := "uuid=" + v.UUID
	r.agentOK(n1, 0, "o2cb", "start")
	mount := "set -e\nmount.ocfs2 /dev/vda /mnt\n"
	writer := func(guard string) {
		r.agentOK(n2, 0, "o2cb", "start", "heartbeat_backend=userspace", "allow_stonith_disabled=true", "env:O2CB_KERNEL_GUARD="+guard)
		s := r.agentOK(n2, 0, "hbregion", "start", hb, "heartbeat_backend=userspace")
		sum.add("n2: our userspace writer steady (guard "+guard+")", time.Duration(s.guestMS)*time.Millisecond)
	}

	// The harm, without the guard.
	writer("false")
	m, err := n1.exec(mount, 150*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	sum.add("n1: mount.ocfs2 beside our writer, no guard (fails)", time.Duration(m.guestMS)*time.Millisecond)
	if m.rc == 0 {
		t.Errorf("n1: mount.ocfs2 beside a userspace writer without o2net succeeded; want the kernel's refusal")
	}
	if !strings.Contains(n1.m.ConsoleText(), "could not connect to nodes") {
		t.Errorf("n1: the kernel did not log \"could not connect to nodes\" for the failed mount; mount said:\n%s", m.out)
	}
	r.agentOK(n2, 0, "hbregion", "stop", hb, "heartbeat_backend=userspace")
	r.agentOK(n2, 0, "o2cb", "stop", "heartbeat_backend=userspace")

	// With the guard: our writer steps back once n1's kernel sees it.
	writer("true")
	m = n1.must("mount.ocfs2 beside our guarded writer", mount, 150*time.Second)
	sum.add("n1: mount.ocfs2 beside our writer, guarded", time.Duration(m.guestMS)*time.Millisecond)
	if took := time.Duration(m.guestMS) * time.Millisecond; took > 45*time.Second {
		t.Errorf("n1: mount.ocfs2 beside our guarded writer took %v; want well under the 70 s of the unguarded failure (a region start restarted by our leaving, and a probe interval)", took)
	}
	rc, res := r.agentRC(n2, "o2cb", "monitor", "heartbeat_backend=userspace")
	if rc != 1 || !strings.Contains(res.out, "kernel node n1 (number 1) answers o2net") {
		t.Errorf("n2: o2cb monitor after stepping back: exit status %d, want 1 saying why; output:\n%s", rc, res.out)
	}
	r.livenodes(n1, v.UUID, "1")
	n1.must("write on n1", "echo mixed > /mnt/mixed && sync", 30*time.Second)

	// An observer reads and never writes: the kernel's mount does not
	// notice it, and it sees the kernel node.
	n1.must("umount on n1", "umount /mnt", 60*time.Second)
	r.agentOK(n2, 0, "hbregion", "stop", hb, "heartbeat_backend=userspace")
	r.agentOK(n2, 0, "o2cb", "stop", "heartbeat_backend=userspace")
	r.agentOK(n2, 0, "o2cb", "start", "heartbeat_backend=observer", "allow_stonith_disabled=true")
	r.agentOK(n2, 0, "hbregion", "start", hb, "heartbeat_backend=observer")
	m = n1.must("mount.ocfs2 beside our observer", mount, 150*time.Second)
	sum.add("n1: mount.ocfs2 beside our observer", time.Duration(m.guestMS)*time.Millisecond)
	if took := time.Duration(m.guestMS) * time.Millisecond; took > 30*time.Second {
		t.Errorf("n1: mount.ocfs2 beside our observer took %v; want its normal speed (a region start, about 10 s)", took)
	}
	for begin := time.Now(); ; time.Sleep(time.Second) {
		res := n2.must("our observer's status", "o2cb-ra status --json", 20*time.Second)
		var st hbclient.Status
		if json.Unmarshal([]byte(res.out), &st) == nil && st.Backend == hbclient.BackendObserver &&
			len(st.Regions) == 1 && slices.Equal(st.Regions[0].LiveNodes, []int{1}) {
			sum.add("n2: our observer sees n1 live (after n1's mount)", time.Since(begin))
			break
		}
		if time.Since(begin) > 60*time.Second {
			t.Fatalf("n2: our observer never showed n1 live in the region:\n%s", res.out)
		}
	}
	r.agentOK(n2, 0, "o2cb", "monitor", "heartbeat_backend=observer")
	r.agentOK(n2, 0, "hbregion", "monitor", hb, "heartbeat_backend=observer")
	r.livenodes(n1, v.UUID, "1")
	r.checkNotFenced(n1)
}
