package manpage

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/o2cb-ra/o2cb-ra/internal/testenv"
)

func TestEscape(t *testing.T) {
	for _, tc := range []struct {
		in       string
		verbatim bool
		want     string
	}{
		{"--run-dir", false, `\-\-run\-dir`},
		{`a\b`, false, `a\eb`},
		{".hidden start", false, `\&.hidden start`},
		{`say "x" isn't`, false, `say \(dqx\(dq isn\(aqt`},
		{`pcs  "a"  \`, true, `pcs  "a"  \e`},
		{"2 × 3 – 1", false, `2 \[u00D7] 3 \[u2013] 1`},
	} {
		if got := escape(tc.in, tc.verbatim); got != tc.want {
			t.Errorf("escape(%q, %v) = %q, want %q", tc.in, tc.verbatim, got, tc.want)
		}
	}
}

// render formats roff with groff to plain text, failing the test on any
// warning groff gives (-ww).
func render(t *testing.T, roff []byte) string {
	t.Helper()
	testenv.RequireCommand(t, "groff")
	lint := exec.Command("groff", "-ww", "-z", "-man")
	lint.Stdin = strings.NewReader(string(roff))
	if out, err := lint.CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("groff -ww -z: %v\n%s\npage:\n%s", err, out, roff)
	}
	cmd := exec.Command("groff", "-man", "-Tutf8", "-P", "-cbou")
	cmd.Stdin = strings.NewReader(string(roff))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("groff -Tutf8: %v", err)
	}
	return string(out)
}

func TestPage(t *testing.T) {
	p := &Page{Name: "demo", Section: "8", Summary: "show the writer", Date: "2026-12-02", Source: "o2cb-ra 1.0", Manual: "Tests"}
	p.Add("synopsis", Text{B("demo"), R(" ["), I("file"), R("]")})
	p.Add("description", Para(".starts with a dot\nand goes on\n\nA second paragraph: C:\\path, --flag, 2 × 3."))
	p.Add("options", Item{Tag: Text{B("-x"), R(" "), I("value")}, Body: []Block{
		Para("Takes a value."),
		Item{Tag: Text{B("nested")}, Body: []Block{Para("Indented further.")}},
		Example{"demo -x  1 \\", "     -y"},
	}})
	roff := p.Roff()
	if !strings.HasPrefix(string(roff), `.\" demo(8)`) || !strings.Contains(string(roff), `.TH "DEMO" "8" "2026-12-02" "o2cb-ra 1.0" "Tests"`) {
		t.Errorf("page header:\n%s", roff)
	}
	text := render(t, roff)
	for _, want := range []string{
		"NAME\n       demo - show the writer",
		"SYNOPSIS\n       demo [file]",
		".starts with a dot and goes on",
		"A second paragraph: C:\\path, --flag, 2 × 3.",
		"-x value\n              Takes a value.",
		"nested",
		"Indented further.",
		"demo -x  1 \\\n",
		"     -y",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("rendered page lacks %q:\n%s", want, text)
		}
	}
	if i, j := strings.Index(text, "SYNOPSIS"), strings.Index(text, "OPTIONS"); i < 0 || j < i {
		t.Errorf("sections out of order:\n%s", text)
	}
}
