package command

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/o2cb-ra/o2cb-ra/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite metadata/*.xml from the agents")

const (
	dtdDir = "/usr/share/resource-agents"
	dtd    = dtdDir + "/ra-api-1.dtd"
	// rng is the OCF 1.1 meta-data grammar of our tests; pcsRNG is the one
	// pcs checks agents' meta-data with.
	rng    = "../ocf/testdata/ocf-1.1.rng"
	pcsRNG = "/usr/share/pcs/data/ocf-1.1.rng"
)

// strip11 removes what OCF 1.1 adds to the 1.0 markup (reloadable and
// unique-group attributes, reload-agent actions), so that ra-api-1.dtd
// checks the rest.
func strip11(md []byte) []byte {
	md = regexp.MustCompile(` (reloadable|unique-group)="[^"]*"`).ReplaceAll(md, nil)
	return regexp.MustCompile(`(?m)^\s*<action name="reload-agent"[^>]*/>\n`).ReplaceAll(md, nil)
}

func xmllint(t *testing.T, what string, stdin []byte, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("xmllint", append([]string{"--noout", "--nowarning", "--quiet"}, args...)...)
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil || len(out) != 0 {
		t.Errorf("xmllint %s %s: %v\n%s", strings.Join(args, " "), what, err, out)
	}
}

// TestMetadataFiles keeps metadata/<agent>.xml identical to what the
// agents print, and validates them: against the OCF 1.1 grammar and the
// one pcs uses; with xmllint --valid, the doctype's ra-api-1.dtd as
// resource-agents' ocf-tester checks it; and, with the 1.1 additions
// stripped, against ra-api-1.dtd alone.
func TestMetadataFiles(t *testing.T) {
	for _, name := range AgentNames() {
		md, err := Agents[name]().MetaData()
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("..", "..", "metadata", name+".xml")
		if *update {
			if err := os.WriteFile(path, md, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		file, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (go test ./internal/command -update writes it)", err)
		}
		if !bytes.Equal(file, md) {
			t.Errorf("%s differs from %s meta-data; run go test ./internal/command -update", path, name)
		}
		testenv.RequireCommand(t, "xmllint")
		xmllint(t, path, nil, "", "--relaxng", rng, path)
		if _, err := os.Stat(pcsRNG); err != nil {
			testenv.Unavailable(t, "pcs's "+pcsRNG+" (package pcs)")
		}
		xmllint(t, path, nil, "", "--relaxng", pcsRNG, path)
		if _, err := os.Stat(dtd); err != nil {
			testenv.Unavailable(t, "resource-agents' ra-api-1.dtd (package resource-agents)")
		}
		xmllint(t, path+" (as ocf-tester does)", md, dtdDir, "--valid", "-")
		stripped := strip11(md)
		if bytes.Equal(stripped, md) || bytes.Contains(stripped, []byte(`reloadable="`)) {
			t.Errorf("%s: stripping the OCF 1.1 additions changed nothing or left some", path)
		}
		xmllint(t, path+" without the OCF 1.1 additions", stripped, "", "--dtdvalid", dtd, "-")
	}
}

// TestMultiCall runs the agents by the name they are called under.
func TestMultiCall(t *testing.T) {
	for _, name := range AgentNames() {
		var out, errOut bytes.Buffer
		if code := Main([]string{"/usr/lib/ocf/resource.d/ocfs2/" + name, "meta-data"}, nil, &out, &errOut); code != 0 {
			t.Fatalf("Main(%s meta-data) = %d: %s", name, code, errOut.String())
		}
		want, _ := Agents[name]().MetaData()
		if !bytes.Equal(out.Bytes(), want) {
			t.Errorf("Main(%s meta-data) printed other meta-data", name)
		}
	}
	var out, errOut bytes.Buffer
	if code := Main([]string{"o2cb-ra", "agent", "nosuch", "start"}, nil, &out, &errOut); code != 2 ||
		!bytes.Contains(errOut.Bytes(), []byte("known agents: hbregion, o2cb")) {
		t.Fatalf("agent nosuch: exit %d, stderr %q", code, errOut.String())
	}
	if code := Main([]string{"o2cb-ra", "version"}, nil, &out, &errOut); code != 0 || !bytes.Contains(out.Bytes(), []byte("o2cb-ra ")) {
		t.Fatalf("version: exit %d, stdout %q", code, out.String())
	}
}
