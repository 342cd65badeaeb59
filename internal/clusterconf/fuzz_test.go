package clusterconf

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse: the parser never panics; a file that parses is written and
// parsed again to the same model and the same stanzas, at the format
// level and at the model level. Seeds: testdata/fuzz/FuzzParse and the
// files o2cb wrote (testdata/o2cb-*.conf).
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "o2cb-*.conf"))
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		errs := &errList{path: "fuzz.conf"}
		fs := parseSyntax(data, errs)
		if len(errs.errs) == 0 {
			var b bytes.Buffer
			if err := writeSyntax(&b, fs); err != nil {
				t.Fatal(err)
			}
			errs2 := &errList{path: "fuzz.conf"}
			fs2 := parseSyntax(b.Bytes(), errs2)
			if err := errs2.err(); err != nil {
				t.Fatalf("parse(write(%q)) = %v; wrote %q", data, err, b.String())
			}
			if got, want := dumpSyntax(fs2, false), dumpSyntax(fs, false); got != want {
				t.Fatalf("parse(write(%q)) stanzas =\n%s\nwant\n%s", data, got, want)
			}
		}

		c, err := Parse("fuzz.conf", bytes.NewReader(data))
		if err != nil {
			if c != nil {
				t.Fatalf("Parse(%q) = a config and error %v", data, err)
			}
			for _, le := range lineErrors(err) {
				if le.Line < 1 || le.Path != "fuzz.conf" {
					t.Fatalf("Parse(%q) error %q has no line or file", data, le)
				}
			}
			return
		}
		var b bytes.Buffer
		if err := c.Write(&b); err != nil {
			t.Fatal(err)
		}
		c2, err := Parse("fuzz.conf", bytes.NewReader(b.Bytes()))
		if err != nil {
			t.Fatalf("Parse(Write(Parse(%q))) = %v; wrote %q", data, err, b.String())
		}
		if got, want := dumpModel(c2), dumpModel(c); got != want {
			t.Fatalf("Parse(Write(Parse(%q))) =\n%s\nwant\n%s", data, got, want)
		}
		for _, cl := range c.Clusters() {
			cl.Heartbeat()
			cl.MaxNodeNumber()
			for _, n := range cl.Nodes() {
				if got, err := cl.Node(n.Name); err != nil || got != n {
					t.Fatalf("Node(%q) = %+v, %v; want %+v", n.Name, got, err, n)
				}
				cl.LocalNode(n.Name + ".example")
			}
		}
	})
}
