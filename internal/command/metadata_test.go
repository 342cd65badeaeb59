package command

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/o2cb-ra/o2cb-ra/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite metadata/*.xml from the agents")

const dtd = "/usr/share/resource-agents/ra-api-1.dtd"

// TestMetadataFiles keeps metadata/<agent>.xml identical to what the
// agents print, and validates both against resource-agents' DTD.
func TestMetadataFiles(t *testing.T) {
	for _, name := range AgentNames() {
		md, err := Agents[name].MetaData()
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
		if _, err := os.Stat(dtd); err != nil {
			testenv.Unavailable(t, "resource-agents' ra-api-1.dtd (package resource-agents)")
		}
		out, err := exec.Command("xmllint", "--noout", "--nowarning", "--dtdvalid", dtd, path).CombinedOutput()
		if err != nil || len(out) != 0 {
			t.Errorf("xmllint --dtdvalid ra-api-1.dtd %s: %v\n%s", path, err, out)
		}
	}
}

// TestMultiCall runs the agents by the name they are called under.
func TestMultiCall(t *testing.T) {
	for _, name := range AgentNames() {
		var out, errOut bytes.Buffer
		if code := Main([]string{"/usr/lib/ocf/resource.d/ocfs2/" + name, "meta-data"}, nil, &out, &errOut); code != 0 {
			t.Fatalf("Main(%s meta-data) = %d: %s", name, code, errOut.String())
		}
		want, _ := Agents[name].MetaData()
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
