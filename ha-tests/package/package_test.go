package pkgtest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/clustertest"
	"github.com/o2cb-ra/o2cb-ra/internal/ocfs2"
	"github.com/o2cb-ra/o2cb-ra/internal/testenv"
)

// repo is the repository's top directory.
func repo(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

var (
	debOnce sync.Once
	debPath string
	debErr  error
)

// buildDeb runs scripts/deb.sh into dir and returns the package's path.
func buildDeb(t *testing.T, dir string) string {
	t.Helper()
	cmd := exec.Command("bash", filepath.Join(repo(t), "scripts/deb.sh"), dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("scripts/deb.sh: %v\n%s", err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// theDeb is the package the tests share, built once.
func theDeb(t *testing.T) string {
	t.Helper()
	testenv.RequireRoot(t)
	testenv.RequireCommand(t, "dpkg-deb", "lintian", "unshare", "apt-get")
	debOnce.Do(func() {
		dir, err := os.MkdirTemp("", "o2cb-ra-deb-")
		if err != nil {
			debErr = err
			return
		}
		debPath = buildDeb(t, dir)
	})
	if debErr != nil {
		t.Fatal(debErr)
	}
	if debPath == "" {
		t.Fatal("the package was not built (see the first test)")
	}
	return debPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if debPath != "" {
		os.RemoveAll(filepath.Dir(debPath))
	}
	os.Exit(code)
}

func sha(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestReproducible: a second build of the same commit gives the same
// bytes.
func TestReproducible(t *testing.T) {
	deb := theDeb(t)
	again := buildDeb(t, t.TempDir())
	if filepath.Base(again) != filepath.Base(deb) {
		t.Fatalf("the second build is named %s, the first %s", filepath.Base(again), filepath.Base(deb))
	}
	a, b := sha(t, deb), sha(t, again)
	if a != b {
		t.Fatalf("two builds differ: %s %s, %s %s", a, deb, b, again)
	}
	fi, _ := os.Stat(deb)
	t.Logf("%s: %d bytes, sha256 %s (twice)", filepath.Base(deb), fi.Size(), a)
}

// TestLintian: no error, warning, info or pedantic tag.
func TestLintian(t *testing.T) {
	deb := theDeb(t)
	clean := func(out []byte) string {
		return strings.TrimSpace(regexp.MustCompile(`(?m)^running with root privileges is not recommended!\n?`).ReplaceAllString(string(out), ""))
	}
	out, err := exec.Command("lintian", "--fail-on", "error,warning,info,pedantic", "--display-info", "--pedantic", deb).CombinedOutput()
	if text := clean(out); err != nil || text != "" {
		t.Errorf("lintian --display-info --pedantic: %v\n%s", err, text)
	}
	// The overrides, for the record (lintian counts them as failures
	// when it shows them).
	out, _ = exec.Command("lintian", "--fail-on", "none", "--show-overrides", deb).CombinedOutput()
	t.Logf("lintian --show-overrides:\n%s", clean(out))
}

// TestContents: the package's files, and none of ocfs2-tools'.
func TestContents(t *testing.T) {
	deb := theDeb(t)
	out := testenv.Run(t, "dpkg-deb", "--contents", deb)
	var files []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(l)
		if len(f) < 6 {
			t.Fatalf("dpkg-deb --contents line %q", l)
		}
		if f[1] != "root/root" {
			t.Errorf("%s is owned by %s, want root/root", f[5], f[1])
		}
		name := strings.TrimPrefix(f[5], ".")
		if !strings.HasSuffix(name, "/") {
			files = append(files, strings.Join(append([]string{name}, f[6:]...), " "))
		}
	}
	want := []string{
		"/usr/lib/o2cb-ra/o2cb-ra",
		"/usr/lib/o2cb-ra/ocfs2_hb_ctl",
		"/usr/lib/ocf/resource.d/ocfs2/hbregion -> ../../../o2cb-ra/o2cb-ra",
		"/usr/lib/ocf/resource.d/ocfs2/o2cb -> ../../../o2cb-ra/o2cb-ra",
		"/usr/lib/tmpfiles.d/o2cb-ra.conf",
		"/usr/sbin/o2cb-ra -> ../lib/o2cb-ra/o2cb-ra",
		"/usr/share/doc/o2cb-ra/README.md.gz",
		"/usr/share/doc/o2cb-ra/changelog.gz",
		"/usr/share/doc/o2cb-ra/copyright",
		"/usr/share/lintian/overrides/o2cb-ra",
		"/usr/share/man/man7/ocf_ocfs2_hbregion.7.gz",
		"/usr/share/man/man7/ocf_ocfs2_o2cb.7.gz",
		"/usr/share/man/man8/o2cb-ra-ocfs2_hb_ctl.8.gz",
		"/usr/share/man/man8/o2cb-ra.8.gz",
		"/usr/share/o2cb-ra/hbregion.xml",
		"/usr/share/o2cb-ra/o2cb.xml",
	}
	slices.Sort(files)
	if !slices.Equal(files, want) {
		t.Errorf("the package holds\n  %s\nwant\n  %s", strings.Join(files, "\n  "), strings.Join(want, "\n  "))
	}
	for _, f := range files {
		if strings.HasSuffix(strings.Fields(f)[0], "/sbin/ocfs2_hb_ctl") {
			t.Errorf("the package ships %s, which ocfs2-tools owns", f)
		}
	}
	t.Logf("files:\n  %s", strings.Join(files, "\n  "))
	control := testenv.Run(t, "dpkg-deb", "--field", deb)
	t.Logf("control:\n%s", control)
	for _, f := range []string{"Package: o2cb-ra", "Architecture: amd64", "Recommends: ", "Suggests: ", "Installed-Size: "} {
		if !strings.Contains(control, f) {
			t.Errorf("control lacks %q", f)
		}
	}
}

// site is what the installed agents run on: an image from mkfs.ocfs2 and
// a cluster.conf of one node, in a directory the copies see as /srv/site
// (mkfs.ocfs2 is gone from the copy without ocfs2-tools).
func site(t *testing.T) (dir, uuid string) {
	t.Helper()
	dir = t.TempDir()
	img := testenv.MkfsOCFS2(t, testenv.Image{SizeMiB: 40, Dir: dir, Name: "v.img"})
	sb, err := ocfs2.Probe(img)
	if err != nil {
		t.Fatal(err)
	}
	clustertest.Write(t, filepath.Join(dir, "cluster.conf"), clustertest.Cluster{Nodes: 1})
	return dir, sb.UUID
}

// steps is the output of a script run in a copy, by step: a line
// "### NAME" starts a step, "### rc NAME N" ends it with its exit status.
type steps struct {
	out map[string]string
	rc  map[string]int
	all string
}

var stepLine = regexp.MustCompile(`^### (rc )?(\S+)(?: (-?\d+))?$`)

func parseSteps(out string) steps {
	s := steps{out: map[string]string{}, rc: map[string]int{}, all: out}
	cur := ""
	for _, l := range strings.Split(out, "\n") {
		if m := stepLine.FindStringSubmatch(l); m != nil {
			if m[1] != "" {
				var rc int
				fmt.Sscan(m[3], &rc)
				s.rc[m[2]] = rc
				cur = ""
			} else {
				cur = m[2]
			}
			continue
		}
		if cur != "" {
			s.out[cur] += l + "\n"
		}
	}
	return s
}

// inCopy runs script as root in a copy of this machine: the root file
// system under an overlay whose changes live in a tmpfs, in a mount
// namespace of this process's child, with /proc, /sys and /dev of the
// machine, an empty /run and /tmp, the package at /srv/pkg and dir at
// /srv/site. The namespace ends with the child: the machine keeps nothing.
// step NAME CMD... runs one step of the script.
func inCopy(t *testing.T, deb, dir, script string) steps {
	t.Helper()
	setup := `set -e
T=$(mktemp -d /tmp/o2cb-ra-copy-XXXXXX)
# At the end, whatever the script left running in the copy (found by its
# root directory) is killed by pid before the mounts go.
cleanup() {
	cd /
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/root" 2> /dev/null)" = "$T/root" ] && kill -9 "${p#/proc/}" 2> /dev/null
	done
	umount -R "$T" 2> /dev/null || umount -lR "$T" 2> /dev/null || true
	rmdir "$T"
}
trap cleanup EXIT
mount -t tmpfs tmpfs "$T"
mkdir "$T/upper" "$T/work" "$T/root"
mount -t overlay overlay -o "lowerdir=/,upperdir=$T/upper,workdir=$T/work" "$T/root"
R=$T/root
for d in proc sys dev; do mount --rbind "/$d" "$R/$d"; done
mount -t tmpfs tmpfs "$R/run"
mount -t tmpfs tmpfs "$R/tmp"
mkdir -p "$R/srv/pkg" "$R/srv/site"
mount --bind "$1" "$R/srv/pkg"
mount --bind "$2" "$R/srv/site"
cp "$3" "$R/tmp/script.sh"
chroot "$R" /bin/sh -c '. /tmp/script.sh'
`
	prelude := `step() {
	name=$1
	shift
	echo "### $name"
	rc=0
	"$@" 2>&1 || rc=$?
	echo "### rc $name $rc"
}
export PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive
`
	sp := filepath.Join(t.TempDir(), "script.sh")
	if err := os.WriteFile(sp, []byte(prelude+script), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "--fork", "sh", "-c", setup, "setup", filepath.Dir(deb), dir, sp)
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(8 * time.Minute):
		cmd.Process.Kill()
		<-done
		t.Fatalf("the copy's script did not end within 8 minutes; output:\n%s", out)
	}
	if err != nil {
		t.Fatalf("the copy's script: %v\n%s", err, out)
	}
	return parseSteps(string(out))
}

// snapshot is a script that lists every file of the copy but the package
// manager's own records, logs and caches, and the scratch directories,
// with type, mode and size, into /tmp/FILE.
func snapshot(file string) string {
	// Directories without their size, which the overlay's copy-up
	// changes.
	show := `\( -type f -printf '%%y %%m %%s %%p\n' \) -o -printf '%%y %%m %%p\n'`
	return fmt.Sprintf(`{ find / -xdev \( -path /var/lib/dpkg -o -path /var/lib/apt -o -path /var/log -o -path /var/cache -o -path /srv \) -prune -o %[1]s; find /run -xdev %[1]s; } | LC_ALL=C sort > /tmp/%[2]s
`, show, file)
}

// TestInstall installs the package with apt-get into copies of this
// machine with and without ocfs2-tools, uses it there, and purges it.
func TestInstall(t *testing.T) {
	deb := theDeb(t)
	for _, tools := range []bool{true, false} {
		name := "with ocfs2-tools"
		if !tools {
			name = "without ocfs2-tools"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel() // each copy has its own root, /run and /tmp
			install(t, deb, tools)
		})
	}
}

func install(t *testing.T, deb string, tools bool) {
	dir, uuid := site(t)
	pkg := "/srv/pkg/" + filepath.Base(deb)
	var b strings.Builder
	if !tools {
		b.WriteString("step purge-tools dpkg --purge ocfs2-tools\n")
	}
	b.WriteString("step tools-hbctl sh -c 'ls -l /sbin/ocfs2_hb_ctl && sha256sum /sbin/ocfs2_hb_ctl'\n")
	b.WriteString(snapshot("before"))
	o2cb := "env OCF_ROOT=/usr/lib/ocf OCF_RESOURCE_INSTANCE=o2cb OCF_RESKEY_cluster_conf=/srv/site/cluster.conf OCF_RESKEY_node_name=n1 " +
		"OCF_RESKEY_devices=/srv/site/v.img OCF_RESKEY_heartbeat_interval_ms=100 OCF_RESKEY_dead_threshold=5 OCF_RESKEY_heartbeat_backend=userspace " +
		"/usr/lib/ocf/resource.d/ocfs2/o2cb"
	fmt.Fprintf(&b, `step install apt-get install -y --no-install-recommends %s
step version o2cb-ra version
step dpkg-L dpkg -L o2cb-ra
step run-dir stat -c '%%a %%U' /run/o2cb
step man sh -c 'for p in ocf_ocfs2_o2cb ocf_ocfs2_hbregion o2cb-ra o2cb-ra-ocfs2_hb_ctl; do man -w $p; done'
step man-text sh -c 'MANWIDTH=100 man ocf_ocfs2_o2cb | head -40'
step crm env HOME=/tmp/home crm ra info ocf:ocfs2:o2cb
step pcs env HOME=/tmp/home pcs resource describe ocf:ocfs2:o2cb
step tester-o2cb ocf-tester -n o2cb -o cluster_conf=/srv/site/cluster.conf -o node_name=n1 -o devices=/srv/site/v.img -o heartbeat_interval_ms=100 -o dead_threshold=5 -o heartbeat_backend=userspace /usr/lib/ocf/resource.d/ocfs2/o2cb
step o2cb-start %[2]s start
step tester-hbregion ocf-tester -n hb -o uuid=%[3]s -o cluster_conf=/srv/site/cluster.conf -o node_name=n1 -o devices=/srv/site/v.img /usr/lib/ocf/resource.d/ocfs2/hbregion
step remove-refused apt-get remove -y o2cb-ra
step o2cb-stop %[2]s stop
step purge apt-get purge -y o2cb-ra
step tools-hbctl-after sh -c 'ls -l /sbin/ocfs2_hb_ctl && sha256sum /sbin/ocfs2_hb_ctl'
`, pkg, o2cb, uuid)
	b.WriteString(snapshot("after"))
	b.WriteString("step left diff /tmp/before /tmp/after\n")
	s := inCopy(t, deb, dir, b.String())

	ok := func(step string) string {
		t.Helper()
		rc, ran := s.rc[step]
		if !ran {
			t.Fatalf("step %s did not run; output:\n%s", step, s.all)
		}
		if rc != 0 {
			t.Errorf("step %s: exit %d:\n%s", step, rc, s.out[step])
		}
		return s.out[step]
	}
	if !tools {
		ok("purge-tools")
		if s.rc["tools-hbctl"] == 0 {
			t.Errorf("ocfs2-tools purged, yet /sbin/ocfs2_hb_ctl is there:\n%s", s.out["tools-hbctl"])
		}
	} else {
		before := ok("tools-hbctl")
		if after := ok("tools-hbctl-after"); after != before {
			t.Errorf("/sbin/ocfs2_hb_ctl changed: before\n%s after\n%s", before, after)
		}
	}
	ok("install")
	if v := ok("version"); !strings.HasPrefix(v, "o2cb-ra 0") && !regexp.MustCompile(`^o2cb-ra \d`).MatchString(v) {
		t.Errorf("o2cb-ra version: %q", v)
	}
	t.Logf("dpkg -L o2cb-ra:\n%s", ok("dpkg-L"))
	if got := strings.TrimSpace(ok("run-dir")); got != "700 root" {
		t.Errorf("/run/o2cb after the install (tmpfiles.d): %q, want 700 root", got)
	}
	pages := strings.Fields(ok("man"))
	for _, p := range []string{"man7/ocf_ocfs2_o2cb.7.gz", "man7/ocf_ocfs2_hbregion.7.gz", "man8/o2cb-ra.8.gz", "man8/o2cb-ra-ocfs2_hb_ctl.8.gz"} {
		if !slices.Contains(pages, "/usr/share/man/"+p) {
			t.Errorf("man -w does not find /usr/share/man/%s: %q", p, pages)
		}
	}
	t.Logf("man ocf_ocfs2_o2cb (head):\n%s", ok("man-text"))
	for _, step := range []string{"crm", "pcs"} {
		out := ok(step)
		for _, p := range []string{"cluster_conf", "heartbeat_backend", "region_quorum"} {
			if !strings.Contains(out, p) {
				t.Errorf("%s does not show parameter %s:\n%s", step, p, out)
			}
		}
	}
	for _, step := range []string{"tester-o2cb", "tester-hbregion"} {
		if out := ok(step); !strings.Contains(out, "passed all tests") {
			t.Errorf("%s:\n%s", step, out)
		}
	}
	ok("o2cb-start")
	if s.rc["remove-refused"] == 0 {
		t.Errorf("apt-get remove succeeded while the heartbeat daemon ran:\n%s", s.out["remove-refused"])
	} else if !strings.Contains(s.out["remove-refused"], "stop the o2cb resource") {
		t.Errorf("apt-get remove refused without saying why:\n%s", s.out["remove-refused"])
	} else {
		t.Logf("apt-get remove while the daemon runs:\n%s", s.out["remove-refused"])
	}
	ok("o2cb-stop")
	ok("purge")
	if left := s.out["left"]; s.rc["left"] != 0 || left != "" {
		t.Errorf("files of the package left after the purge (diff before after):\n%s", left)
	}
}
