package agents_test

// The agents against the tools administrators use them with: `make install`
// into a DESTDIR image, Pacemaker's crm_resource, pcs and crmsh. The tree
// that `make install` produces is the one the tools run: its provider
// directory is made visible as /usr/lib/ocf/resource.d/ocfs2 for the length
// of a test (a symlinked provider directory works), never replacing one that
// is already there.

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/o2cb-ra/o2cb-ra/agents/hbregion"
	"github.com/o2cb-ra/o2cb-ra/agents/o2cb"
	"github.com/o2cb-ra/o2cb-ra/internal/clustertest"
	"github.com/o2cb-ra/o2cb-ra/internal/fixture"
	"github.com/o2cb-ra/o2cb-ra/internal/ocf"
	"github.com/o2cb-ra/o2cb-ra/internal/testenv"
)

const (
	// providerDir is where Pacemaker looks for the agents of provider ocfs2
	// (OCF_ROOT is /usr/lib/ocf whatever the install prefix).
	providerDir = "/usr/lib/ocf/resource.d/ocfs2"
	// tempPrefix names this file's temporary directories; a dangling
	// provider link into one of them is a leftover of a killed run.
	tempPrefix = "o2cb-ra-tools-"
	// testUUID is a region UUID for hbregion resources.
	testUUID = "C213A5E1913B4A38A17101E81BDC2267"
)

var agents = map[string]*ocf.Agent{"o2cb": o2cb.Agent(), "hbregion": hbregion.Agent()}

// tree is one `make install DESTDIR=...` shared by the tests of this file.
type tree struct {
	base    string // world-readable temporary directory holding all of it
	destdir string // the install image
	conf    string // a good cluster.conf: local mode, nodes n1 and n2
	err     error
	log     string // make's output
}

var (
	shared     tree
	sharedOnce sync.Once
)

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.base != "" {
		os.RemoveAll(shared.base)
	}
	os.Exit(code)
}

// repoRoot is the checkout: the parent of this package's directory.
func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "Makefile")); err != nil {
		t.Fatalf("no Makefile above the agents package: %v", err)
	}
	return root
}

// notShort skips a test that builds and installs the tree under -short.
func notShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("skipped under -short: builds and installs the tree with make")
	}
}

// installed returns the shared install tree, making it on first use.
func installed(t *testing.T) *tree {
	t.Helper()
	notShort(t)
	testenv.RequireCommand(t, "make")
	root := repoRoot(t)
	sharedOnce.Do(func() {
		base, err := fixture.WorldDir(tempPrefix)
		if err != nil {
			shared.err = err
			return
		}
		shared.base = base
		shared.destdir = filepath.Join(base, "image")
		shared.conf = filepath.Join(base, "cluster.conf")
		clustertest.Write(t, shared.conf, clustertest.Cluster{Name: "tools", Nodes: 2})
		shared.log, shared.err = fixture.MakeTarget(root, "install", shared.destdir, filepath.Join(base, "bin"))
	})
	if shared.err != nil {
		t.Fatalf("install tree: %v\n%s", shared.err, shared.log)
	}
	return &shared
}

// useProvider makes the tree's provider directory Pacemaker's ocfs2
// provider until the test ends. It refuses to replace a provider that is
// installed on this machine.
func useProvider(t *testing.T, tr *tree) {
	t.Helper()
	testenv.RequireRoot(t)
	target := filepath.Join(tr.destdir, providerDir)
	if _, err := os.Stat(filepath.Dir(providerDir)); err != nil {
		testenv.Unavailable(t, fmt.Sprintf("needs %s (resource-agents): %v", filepath.Dir(providerDir), err))
	}
	if fi, err := os.Lstat(providerDir); err == nil {
		dest, _ := os.Readlink(providerDir)
		switch {
		case fi.Mode()&fs.ModeSymlink != 0 && dest == target:
			return // made earlier in this process, by a test that removes it
		case fi.Mode()&fs.ModeSymlink != 0 && strings.HasPrefix(filepath.Base(filepath.Dir(strings.TrimSuffix(dest, providerDir))), tempPrefix) && !exists(dest):
			t.Logf("removing %s -> %s, left by an interrupted run of these tests", providerDir, dest)
			if err := os.Remove(providerDir); err != nil {
				t.Fatal(err)
			}
		default:
			what := "mode " + fi.Mode().String()
			if fi.Mode()&fs.ModeSymlink != 0 {
				what = "a symlink to " + dest
			}
			t.Fatalf("%s already exists (%s): an ocfs2 OCF provider is installed on this machine; "+
				"these tests do not replace it. Remove it (make uninstall) or move it away, then run them again", providerDir, what)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	if err := os.Symlink(target, providerDir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if dest, err := os.Readlink(providerDir); err == nil && dest == target {
			if err := os.Remove(providerDir); err != nil {
				t.Errorf("removing %s: %v", providerDir, err)
			}
		}
	})
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// result is what a command did.
type result struct{ fixture.Result }

// out is stdout and stderr together, without terminal colours (crmsh
// colours its messages even into a pipe).
func (r result) out() string {
	return ansi.ReplaceAllString(r.Stdout+r.Stderr, "")
}

var ansi = regexp.MustCompile("\x1b\\[[0-9;]*m")

// run runs a tool with fixture.CleanEnv plus env.
func run(t *testing.T, env []string, name string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(fixture.CleanEnv(), env...)
	r, err := fixture.Exec(cmd)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, r)
	}
	return result{r}
}

func paramNames(a *ocf.Agent) []string {
	var names []string
	for _, p := range a.Params {
		names = append(names, p.Name)
	}
	slices.Sort(names)
	return names
}

// TestInstall checks the tree `make install DESTDIR=... PREFIX=/usr` makes:
// the binaries, the provider links, the generated meta-data and the
// /sbin/ocfs2_hb_ctl link the kernel runs at umount.
func TestInstall(t *testing.T) {
	tr := installed(t)
	d := tr.destdir
	for _, f := range []string{"usr/lib/o2cb-ra/o2cb-ra", "usr/lib/o2cb-ra/ocfs2_hb_ctl"} {
		fi, err := os.Lstat(filepath.Join(d, f))
		if err != nil {
			t.Fatalf("%v\nmake:\n%s", err, tr.log)
		}
		if !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o755 {
			t.Errorf("%s: mode %v, want a regular file 0755", f, fi.Mode())
		}
	}
	links := map[string]string{
		"usr/lib/ocf/resource.d/ocfs2/o2cb":     "usr/lib/o2cb-ra/o2cb-ra",
		"usr/lib/ocf/resource.d/ocfs2/hbregion": "usr/lib/o2cb-ra/o2cb-ra",
		"usr/sbin/o2cb-ra":                      "usr/lib/o2cb-ra/o2cb-ra",
		"usr/sbin/ocfs2_hb_ctl":                 "usr/lib/o2cb-ra/ocfs2_hb_ctl",
		"sbin/ocfs2_hb_ctl":                     "usr/lib/o2cb-ra/ocfs2_hb_ctl",
	}
	for link, want := range links {
		dest, err := os.Readlink(filepath.Join(d, link))
		if err != nil {
			t.Errorf("%s: %v", link, err)
			continue
		}
		if filepath.IsAbs(dest) {
			t.Errorf("%s -> %s: want a relative link (it must work inside the image)", link, dest)
		}
		if got := filepath.Join(d, filepath.Dir(link), dest); got != filepath.Join(d, want) {
			t.Errorf("%s -> %s resolves to %s, want %s", link, dest, got, filepath.Join(d, want))
		}
	}
	for name, a := range agents {
		xmlPath := filepath.Join(d, "usr/share/o2cb-ra", name+".xml")
		fi, err := os.Stat(xmlPath)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if fi.Mode().Perm() != 0o644 {
			t.Errorf("%s: mode %v, want 0644", xmlPath, fi.Mode().Perm())
		}
		file, _ := os.ReadFile(xmlPath)
		r := run(t, nil, filepath.Join(d, providerDir, name), "meta-data")
		if r.Code != 0 {
			t.Errorf("installed %s meta-data: %s", name, r)
			continue
		}
		if string(file) != r.Stdout {
			t.Errorf("%s differs from the installed agent's meta-data output", xmlPath)
		}
		want, err := a.MetaData()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(file, want) {
			t.Errorf("%s differs from %s's meta-data in this source tree", xmlPath, name)
		}
	}
	if t.Failed() {
		t.Logf("make install:\n%s", tr.log)
	}
}

// TestInstallUninstall checks that uninstall removes what install made, and
// that neither touches an ocfs2_hb_ctl that is not ours: ocfs2-tools' own in
// /sbin, or on a merged-/usr system (/sbin -> usr/sbin) in /usr/sbin.
func TestInstallUninstall(t *testing.T) {
	notShort(t)
	testenv.RequireCommand(t, "make")
	const foreign = "#!/bin/sh\n# ocfs2-tools' ocfs2_hb_ctl stands here\n"
	cases := []struct {
		name    string
		prepare func(t *testing.T, d string) // lays out the image before install
		foreign string                       // the foreign ocfs2_hb_ctl, "" for none
	}{
		{name: "empty image"},
		{name: "foreign /sbin/ocfs2_hb_ctl", foreign: "sbin/ocfs2_hb_ctl", prepare: func(t *testing.T, d string) {
			mkdirs(t, filepath.Join(d, "sbin"))
		}},
		{name: "merged /usr with a foreign ocfs2_hb_ctl", foreign: "usr/sbin/ocfs2_hb_ctl", prepare: func(t *testing.T, d string) {
			mkdirs(t, filepath.Join(d, "usr/sbin"))
			if err := os.Symlink("usr/sbin", filepath.Join(d, "sbin")); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "merged /usr", prepare: func(t *testing.T, d string) {
			mkdirs(t, filepath.Join(d, "usr/sbin"))
			if err := os.Symlink("usr/sbin", filepath.Join(d, "sbin")); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			base := t.TempDir()
			d, bin := filepath.Join(base, "image"), filepath.Join(base, "bin")
			mkdirs(t, d)
			if c.prepare != nil {
				c.prepare(t, d)
			}
			if c.foreign != "" {
				if err := os.WriteFile(filepath.Join(d, c.foreign), []byte(foreign), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			before := listing(t, d)
			log, err := fixture.MakeTarget(repoRoot(t), "install", d, bin)
			if err != nil {
				t.Fatalf("%v\n%s", err, log)
			}
			if c.foreign != "" {
				got, _ := os.ReadFile(filepath.Join(d, c.foreign))
				if string(got) != foreign {
					t.Errorf("install replaced the foreign %s", c.foreign)
				}
				if note := "NOTE: leaving " + filepath.Join(d, c.foreign) + " alone"; !strings.Contains(log, note) {
					t.Errorf("install did not say %q", note)
				}
				// The agents still find our layout driver beside o2cb-ra.
				if b, err := os.ReadFile(filepath.Join(d, "usr/lib/o2cb-ra/ocfs2_hb_ctl")); err != nil || !bytes.Contains(b, []byte("github.com/o2cb-ra/o2cb-ra")) {
					t.Errorf("our ocfs2_hb_ctl is not beside o2cb-ra in usr/lib/o2cb-ra: %v", err)
				}
			} else {
				ours := filepath.Join(d, "usr/lib/o2cb-ra/ocfs2_hb_ctl")
				if !exists(ours) || !sameFile(filepath.Join(d, "sbin/ocfs2_hb_ctl"), ours) {
					t.Errorf("/sbin/ocfs2_hb_ctl is not our ocfs2_hb_ctl in the image:\n%s", listing(t, d))
				}
			}
			if !exists(filepath.Join(d, providerDir, "o2cb")) || !exists(filepath.Join(d, providerDir, "hbregion")) {
				t.Errorf("the agents are not installed:\n%s", listing(t, d))
			}
			ulog, err := fixture.MakeTarget(repoRoot(t), "uninstall", d, bin)
			if err != nil {
				t.Fatalf("%v\n%s", err, ulog)
			}
			// What is left: what was there before, and directories.
			var extra []string
			for _, e := range listing(t, d) {
				if !slices.Contains(before, e) && !strings.HasSuffix(e, "/") {
					extra = append(extra, e)
				}
			}
			if len(extra) > 0 {
				t.Errorf("uninstall left %q", extra)
			}
			if c.foreign != "" {
				if got, _ := os.ReadFile(filepath.Join(d, c.foreign)); string(got) != foreign {
					t.Errorf("uninstall removed or changed the foreign %s", c.foreign)
				}
			}
			if t.Failed() {
				t.Logf("make install:\n%s\nmake uninstall:\n%s", log, ulog)
			}
		})
	}
}

func mkdirs(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

func sameFile(a, b string) bool {
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}

// listing lists a tree: directories end in "/", links show their target.
func listing(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		switch {
		case e.IsDir():
			rel += "/"
		case e.Type()&fs.ModeSymlink != 0:
			dest, _ := os.Readlink(p)
			rel += " -> " + dest
		}
		out = append(out, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCrmResourceMetadata: Pacemaker finds both agents in the provider
// directory and gets their meta-data.
func TestCrmResourceMetadata(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireCommand(t, "crm_resource")
	tr := installed(t)
	useProvider(t, tr)
	for name, a := range agents {
		r := run(t, nil, "crm_resource", "--show-metadata", "ocf:ocfs2:"+name)
		if r.Code != 0 {
			t.Errorf("crm_resource --show-metadata ocf:ocfs2:%s: %s", name, r)
			continue
		}
		var md struct {
			Name   string `xml:"name,attr"`
			Params []struct {
				Name string `xml:"name,attr"`
			} `xml:"parameters>parameter"`
		}
		if err := xml.Unmarshal([]byte(r.Stdout), &md); err != nil {
			t.Errorf("ocf:ocfs2:%s meta-data from crm_resource: %v\n%s", name, err, r)
			continue
		}
		var got []string
		for _, p := range md.Params {
			got = append(got, p.Name)
		}
		slices.Sort(got)
		if md.Name != name || !slices.Equal(got, paramNames(a)) {
			t.Errorf("crm_resource shows agent %q with parameters %q, want %q with %q\n%s", md.Name, got, name, paramNames(a), r)
		}
	}
}

// TestCrmResourceValidate: `crm_resource --validate` runs validate-all and
// passes its exit code and exit reason on.
func TestCrmResourceValidate(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireCommand(t, "crm_resource")
	tr := installed(t)
	useProvider(t, tr)
	missing := filepath.Join(tr.base, "missing.conf")
	base := []string{"cluster_conf=" + tr.conf, "node_name=n1"}
	cases := []struct {
		agent  string
		opts   []string
		code   int    // crm_resource's exit status: the agent's OCF code
		reason string // part of the exit reason
	}{
		{"o2cb", base, ocf.Success, ""},
		{"o2cb", slices.Concat(base, []string{"region_quorum=majority", "dead_threshold=31", "heartbeat_interval_ms=2000", "manage_regions=false"}), ocf.Success, ""},
		{"o2cb", slices.Concat(base, []string{"region_quorum=some"}), ocf.ErrConfigured, "region_quorum"},
		{"o2cb", slices.Concat(base, []string{"dead_threshold=2"}), ocf.ErrConfigured, "dead_threshold"},
		{"o2cb", []string{"cluster_conf=" + missing, "node_name=n1"}, ocf.ErrInstalled, missing},
		{"o2cb", []string{"cluster_conf=" + tr.conf, "node_name=n9"}, ocf.ErrArgs, "n9"},
		{"hbregion", slices.Concat(base, []string{"uuid=" + testUUID}), ocf.Success, ""},
		{"hbregion", slices.Concat(base, []string{"uuid=c213a5e1-913b-4a38-a171-01e81bdc2267"}), ocf.Success, ""},
		{"hbregion", base, ocf.ErrConfigured, "uuid"},
		{"hbregion", slices.Concat(base, []string{"uuid=xyz"}), ocf.ErrConfigured, "uuid"},
		{"hbregion", slices.Concat(base, []string{"uuid=" + testUUID, "layout=nonesuch"}), ocf.ErrInstalled, "nonesuch_hb_ctl"},
	}
	for _, c := range cases {
		args := []string{"--validate", "--class", "ocf", "--provider", "ocfs2", "--agent", c.agent}
		for _, o := range c.opts {
			args = append(args, "--option", o)
		}
		r := run(t, nil, "crm_resource", args...)
		desc := fmt.Sprintf("crm_resource %s", strings.Join(args, " "))
		if r.Code != c.code {
			t.Errorf("%s: exit %d, want %d\n%s", desc, r.Code, c.code, r)
			continue
		}
		// crm_resource prints "Operation validate (ocf:ocfs2:A) returned
		// N (text: reason)" and the agent's own stderr.
		if want := fmt.Sprintf("Operation validate (ocf:ocfs2:%s) returned %d", c.agent, c.code); !strings.Contains(r.Stdout, want) {
			t.Errorf("%s: no %q in its output\n%s", desc, want, r)
		}
		if c.code == ocf.Success {
			continue
		}
		// The agent run directly says the same.
		direct := agentReason(t, filepath.Join(tr.destdir, providerDir, c.agent), c.opts)
		if !strings.Contains(direct, c.reason) {
			t.Errorf("the agent's exit reason %q does not mention %q", direct, c.reason)
		}
		if !strings.Contains(r.out(), "ocf-exit-reason:"+direct) || !strings.Contains(r.Stdout, direct+")") {
			t.Errorf("%s: the exit reason %q is not in its output\n%s", desc, direct, r)
		}
	}
}

// agentReason runs validate-all of the agent at path directly and returns
// its exit reason.
func agentReason(t *testing.T, path string, opts []string) string {
	t.Helper()
	env := []string{"OCF_ROOT=/usr/lib/ocf"}
	for _, o := range opts {
		env = append(env, "OCF_RESKEY_"+o)
	}
	r := run(t, env, path, "validate-all")
	for _, line := range strings.Split(r.Stderr, "\n") {
		if reason, ok := strings.CutPrefix(line, "ocf-exit-reason:"); ok {
			return reason
		}
	}
	t.Fatalf("%s validate-all %q printed no exit reason\n%s", path, opts, r)
	return ""
}

// cibResources is what the tests read back from a CIB file.
type cibResources struct {
	Primitives []cibPrimitive `xml:"configuration>resources>primitive"`
	Clones     []struct {
		ID        string       `xml:"id,attr"`
		Primitive cibPrimitive `xml:"primitive"`
	} `xml:"configuration>resources>clone"`
}

type cibPrimitive struct {
	ID       string `xml:"id,attr"`
	Class    string `xml:"class,attr"`
	Provider string `xml:"provider,attr"`
	Type     string `xml:"type,attr"`
	Attrs    []struct {
		Name  string `xml:"name,attr"`
		Value string `xml:"value,attr"`
	} `xml:"instance_attributes>nvpair"`
}

func (p cibPrimitive) attrs() map[string]string {
	m := map[string]string{}
	for _, a := range p.Attrs {
		m[a.Name] = a.Value
	}
	return m
}

// readCIB returns the CIB file's resources by id; a clone's primitive is
// listed under the primitive's id with the clone's id in clone.
func readCIB(t *testing.T, path string) (prims map[string]cibPrimitive, clone map[string]string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var c cibResources
	if err := xml.Unmarshal(data, &c); err != nil {
		t.Fatalf("%s: %v\n%s", path, err, data)
	}
	prims, clone = map[string]cibPrimitive{}, map[string]string{}
	for _, p := range c.Primitives {
		prims[p.ID] = p
	}
	for _, cl := range c.Clones {
		prims[cl.Primitive.ID] = cl.Primitive
		clone[cl.Primitive.ID] = cl.ID
	}
	return prims, clone
}

// emptyCIB writes `cibadmin --empty` to a new file in dir.
func emptyCIB(t *testing.T, dir string) string {
	t.Helper()
	r := run(t, nil, "cibadmin", "--empty")
	if r.Code != 0 {
		t.Fatalf("cibadmin --empty: %s", r)
	}
	path := filepath.Join(dir, "cib.xml")
	if err := os.WriteFile(path, []byte(r.Stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// checkPrimitive checks that the CIB holds resource id of the agent with
// (at least) attrs.
func checkPrimitive(t *testing.T, prims map[string]cibPrimitive, id, agent string, attrs map[string]string) {
	t.Helper()
	p, ok := prims[id]
	if !ok {
		t.Errorf("the CIB has no resource %s", id)
		return
	}
	if p.Class != "ocf" || p.Provider != "ocfs2" || p.Type != agent {
		t.Errorf("resource %s is %s:%s:%s, want ocf:ocfs2:%s", id, p.Class, p.Provider, p.Type, agent)
	}
	got := p.attrs()
	for k, v := range attrs {
		if got[k] != v {
			t.Errorf("resource %s: %s=%q, want %q (attributes %v)", id, k, got[k], v, got)
		}
	}
}

// TestPcsResourceCreate: `pcs -f` checks parameters against the meta-data
// (names, required, unique-group) without a cluster, and with --agent-validation
// runs validate-all.
func TestPcsResourceCreate(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireCommand(t, "pcs", "cibadmin", "crm_resource")
	tr := installed(t)
	useProvider(t, tr)
	dir := t.TempDir()
	cib := emptyCIB(t, dir)
	env := []string{"HOME=" + dir}
	conf := "cluster_conf=" + tr.conf
	cases := []struct {
		args []string // after pcs -f cib.xml resource create
		ok   bool
		msg  string // in pcs's output when !ok
	}{
		{args: []string{"o2cb", "ocf:ocfs2:o2cb", conf, "node_name=n1", "region_quorum=majority", "clone"}, ok: true},
		{args: []string{"bad-opt", "ocf:ocfs2:o2cb", conf, "bogus=1"},
			msg: "invalid resource option 'bogus', allowed options are: " + quoteList(paramNames(o2cb.Agent()))},
		{args: []string{"bad-validate", "ocf:ocfs2:o2cb", conf, "node_name=n1", "region_quorum=some", "--agent-validation"},
			msg: "ocf-exit-reason:" + agentReason(t, filepath.Join(tr.destdir, providerDir, "o2cb"), []string{conf, "node_name=n1", "region_quorum=some"})},
		{args: []string{"validated", "ocf:ocfs2:o2cb", conf, "node_name=n2", "dead_threshold=31", "--agent-validation"}, ok: true},
		{args: []string{"no-uuid", "ocf:ocfs2:hbregion", conf}, msg: "required resource option 'uuid' is missing"},
		{args: []string{"hb-bogus", "ocf:ocfs2:hbregion", "uuid=" + testUUID, "bogus=1"},
			msg: "invalid resource option 'bogus', allowed options are: " + quoteList(paramNames(hbregion.Agent()))},
		{args: []string{"region", "ocf:ocfs2:hbregion", "uuid=" + testUUID, conf}, ok: true},
		// unique-group: uuid and run_dir together for hbregion, run_dir
		// alone for o2cb.
		{args: []string{"region-again", "ocf:ocfs2:hbregion", "uuid=" + testUUID},
			msg: "Value '', '" + testUUID + "' of options 'run_dir', 'uuid' (group 'region') is not unique across 'ocf:ocfs2:hbregion' resources"},
		{args: []string{"region-other-daemon", "ocf:ocfs2:hbregion", "uuid=" + testUUID, "run_dir=/run/o2cb-b"}, ok: true},
		{args: []string{"region-same-dir", "ocf:ocfs2:hbregion", "uuid=" + strings.Replace(testUUID, "C", "D", 1), "run_dir=/run/o2cb-b"}, ok: true},
		{args: []string{"o2cb-b", "ocf:ocfs2:o2cb", conf, "run_dir=/run/o2cb-b"}, ok: true},
		{args: []string{"o2cb-b-again", "ocf:ocfs2:o2cb", conf, "run_dir=/run/o2cb-b"},
			msg: "Value '/run/o2cb-b' of option 'run_dir' is not unique across 'ocf:ocfs2:o2cb' resources"},
	}
	for _, c := range cases {
		args := append([]string{"-f", cib, "resource", "create"}, c.args...)
		r := run(t, env, "pcs", args...)
		desc := "pcs " + strings.Join(args, " ")
		switch {
		case c.ok && r.Code != 0:
			t.Errorf("%s: %s", desc, r)
		case !c.ok && r.Code == 0:
			t.Errorf("%s succeeded, want it rejected with %q\n%s", desc, c.msg, r)
		case !c.ok && !strings.Contains(r.out(), c.msg):
			t.Errorf("%s: exit %d without %q\n%s", desc, r.Code, c.msg, r)
		}
	}
	prims, clones := readCIB(t, cib)
	checkPrimitive(t, prims, "o2cb", "o2cb", map[string]string{"cluster_conf": tr.conf, "node_name": "n1", "region_quorum": "majority"})
	if clones["o2cb"] == "" {
		t.Errorf("o2cb is not cloned")
	}
	checkPrimitive(t, prims, "validated", "o2cb", map[string]string{"cluster_conf": tr.conf, "node_name": "n2", "dead_threshold": "31"})
	checkPrimitive(t, prims, "region", "hbregion", map[string]string{"uuid": testUUID, "cluster_conf": tr.conf})
	for _, c := range cases {
		if _, in := prims[c.args[0]]; in && !c.ok {
			t.Errorf("the rejected resource %s is in the CIB", c.args[0])
		}
	}
	if t.Failed() {
		data, _ := os.ReadFile(cib)
		t.Logf("CIB:\n%s", data)
	}
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = "'" + n + "'"
	}
	return strings.Join(q, ", ")
}

// TestCrmConfigure: crmsh checks a primitive's parameters against the
// meta-data and refuses (exit 1, nothing committed) unknown and missing
// required ones.
func TestCrmConfigure(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireCommand(t, "crm", "cibadmin", "crm_attribute", "crm_resource")
	tr := installed(t)
	useProvider(t, tr)
	dir := t.TempDir()
	cib := emptyCIB(t, dir)
	// crmsh keeps its cache and history under HOME; a CIB without fencing
	// fails crm_verify unless fencing is off.
	env := []string{"CIB_file=" + cib, "HOME=" + dir,
		"XDG_CACHE_HOME=" + filepath.Join(dir, ".cache"), "XDG_CONFIG_HOME=" + filepath.Join(dir, ".config")}
	for _, p := range [][2]string{{"stonith-enabled", "false"}, {"no-quorum-policy", "ignore"}} {
		if r := run(t, env, "crm_attribute", "--type", "crm_config", "--name", p[0], "--update", p[1]); r.Code != 0 {
			t.Fatalf("crm_attribute %s=%s: %s", p[0], p[1], r)
		}
	}
	conf := "cluster_conf=" + tr.conf
	cases := []struct {
		args []string // after crm configure
		ok   bool
		msg  string // crmsh's error when !ok
	}{
		{args: []string{"primitive", "o2cb", "ocf:ocfs2:o2cb", "params", conf, "node_name=n1", "region_quorum=all"}, ok: true},
		{args: []string{"clone", "o2cb-clone", "o2cb"}, ok: true},
		{args: []string{"primitive", "bad-opt", "ocf:ocfs2:o2cb", "params", conf, "bogus=1"}, msg: `bad-opt: parameter "bogus" is not known`},
		{args: []string{"primitive", "no-uuid", "ocf:ocfs2:hbregion", "params", conf}, msg: `no-uuid: required parameter "uuid" not defined`},
		{args: []string{"primitive", "hb-bogus", "ocf:ocfs2:hbregion", "params", "uuid=" + testUUID, "bogus=1"}, msg: `hb-bogus: parameter "bogus" is not known`},
		{args: []string{"primitive", "region", "ocf:ocfs2:hbregion", "params", "uuid=" + testUUID, conf}, ok: true},
	}
	for _, c := range cases {
		args := append([]string{"configure"}, c.args...)
		r := run(t, env, "crm", args...)
		desc := "crm " + strings.Join(args, " ")
		switch {
		case c.ok && (r.Code != 0 || strings.Contains(r.out(), "ERROR: "+c.args[1])):
			t.Errorf("%s: %s", desc, r)
		case !c.ok && r.Code != 1:
			t.Errorf("%s: exit %d, want 1 (rejected with %q)\n%s", desc, r.Code, c.msg, r)
		case !c.ok && !strings.Contains(r.out(), "ERROR: "+c.msg):
			t.Errorf("%s: no %q in its output\n%s", desc, "ERROR: "+c.msg, r)
		}
	}
	prims, clones := readCIB(t, cib)
	checkPrimitive(t, prims, "o2cb", "o2cb", map[string]string{"cluster_conf": tr.conf, "node_name": "n1", "region_quorum": "all"})
	if clones["o2cb"] != "o2cb-clone" {
		t.Errorf("o2cb is not in clone o2cb-clone (clones %v)", clones)
	}
	checkPrimitive(t, prims, "region", "hbregion", map[string]string{"uuid": testUUID, "cluster_conf": tr.conf})
	for _, c := range cases {
		if _, in := prims[c.args[1]]; in && !c.ok {
			t.Errorf("the rejected resource %s is in the CIB", c.args[1])
		}
	}
	if t.Failed() {
		data, _ := os.ReadFile(cib)
		t.Logf("CIB:\n%s", data)
	}
}
