package clusterconf

import (
	"bytes"
	"testing"
)

// TestParseSyntax checks the format rules of ocfs2-tools' jconfig.c one by
// one, at the stanza level.
func TestParseSyntax(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty file", "", ""},
		{"header and attributes",
			"cluster:\n\tname = a\n\tnode_count = 0\n",
			"cluster@1\n  name=\"a\"@2\n  node_count=\"0\"@3\n"},
		{"blanks around '=' and spaces as indent",
			"node:\n  name=n1\n \t number \t=\t 3\n",
			"node@1\n  name=\"n1\"@2\n  number=\"3\"@3\n"},
		{"blanks after the header's colon",
			"cluster: \t\n\tname = a\n",
			"cluster@1\n  name=\"a\"@2\n"},
		{"trailing blanks kept in the raw value",
			"cluster:\n\tname = a  \t\n",
			"cluster@1\n  name=\"a  \\t\"@2\n"},
		{"empty value",
			"x:\n\tk =\n\tl = \n",
			"x@1\n  k=\"\"@2\n  l=\"\"@3\n"},
		{"a blank line ends a stanza, a new header too",
			"a:\n\tk = 1\n\nb:\n\tk = 2\nc:\n\tk = 3\n",
			"a@1\n  k=\"1\"@2\nb@4\n  k=\"2\"@5\nc@6\n  k=\"3\"@7\n"},
		{"a line of blanks ends a stanza",
			"a:\n\tk = 1\n \t\nb:\n",
			"a@1\n  k=\"1\"@2\nb@4\n"},
		{"comments in column 0 do not end a stanza",
			"# top\na:\n\tk = 1\n# inner\n\tl = 2\n# end\n",
			"# top\na@2\n  k=\"1\"@3\n  # inner\n  l=\"2\"@5\n# end\n"},
		{"value keeps '#' and other characters",
			"a:\n\tk = x # not a comment = \\y\n",
			"a@1\n  k=\"x # not a comment = \\\\y\"@2\n"},
		{"continuation line",
			"a:\n\tk = one \\\n  two\n\tl = 3\n",
			"a@1\n  k=\"one \\n  two\"@2\n  l=\"3\"@4\n"},
		{"continuation of continuation, and a continued header-like line",
			"a:\n\tk = 1\\\nb:\\\n\n\tl = 2\n",
			"a@1\n  k=\"1\\nb:\\n\"@2\n  l=\"2\"@5\n"},
		{"two backslashes: one literal, one continuation",
			"a:\n\tk = x\\\\\ny\n",
			"a@1\n  k=\"x\\\\\\ny\"@2\n"},
		{"continuation right after '='",
			"a:\n\tk = \\\nv\n",
			"a@1\n  k=\"\\nv\"@2\n"},
		{"continuation into the end of the file",
			"a:\n\tk = v\\\n",
			"a@1\n  k=\"v\\n\"@2\n"},
		{"no newline at the end",
			"a:\n\tk = v",
			"a@1\n  k=\"v\"@2\n"},
		{"any key order and unknown keys and stanzas",
			"zz_9:\n\tnode_count = 1\n\tQ_1 = x\n",
			"zz_9@1\n  node_count=\"1\"@2\n  Q_1=\"x\"@3\n"},
		{"several stanzas of a kind",
			"node:\n\tname = a\n\nnode:\n\tname = b\n",
			"node@1\n  name=\"a\"@2\nnode@4\n  name=\"b\"@5\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := &errList{path: "test.conf"}
			f := parseSyntax([]byte(tt.in), errs)
			if err := errs.err(); err != nil {
				t.Fatalf("parseSyntax(%q) error: %v", tt.in, err)
			}
			if got := dumpSyntax(f, true); got != tt.want {
				t.Errorf("parseSyntax(%q) =\n%s\nwant\n%s", tt.in, got, tt.want)
			}
		})
	}
}

// TestParseSyntaxErrors checks that each malformed line is reported with
// its number, that parsing goes on, and that every error is returned.
func TestParseSyntaxErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []wantErr
		rest string // the stanzas that still parse
	}{
		{"header without colon", "cluster\n\tname = a\n",
			[]wantErr{{1, "no ':'"}}, ""},
		{"blank before colon", "cluster :\n\tname = a\n\nb:\n",
			[]wantErr{{1, `" " after "cluster", want ':'`}}, "b@4\n"},
		{"text after colon", "cluster: x\n",
			[]wantErr{{1, "text after the ':'"}}, ""},
		{"DOS line ends", "cluster:\r\n\tname = a\r\n",
			[]wantErr{{1, "carriage return"}}, ""},
		{"indented comment", "a:\n\t# no\n\tk = 1\n",
			[]wantErr{{2, "comment must start in column 0"}}, "a@1\n  k=\"1\"@3\n"},
		{"bad attribute name", "a:\n\t-k = 1\n\tl = 2\n",
			[]wantErr{{2, `"-" where an attribute name should start`}}, "a@1\n  l=\"2\"@3\n"},
		{"attribute without '='", "a:\n\tk\n\tl: 2\n\tm = 3\n",
			[]wantErr{{2, `"k" has no '='`}, {3, `":" where '=' should be`}}, "a@1\n  m=\"3\"@4\n"},
		{"attribute after a blank line", "a:\n\tk = 1\n\n\tl = 2\n\tm = 3\n",
			[]wantErr{{4, `"l" outside a stanza`}, {5, `"m" outside a stanza`}}, "a@1\n  k=\"1\"@2\n"},
		{"bad start of line ends the stanza", "a:\n\tk = 1\n[x]\n\tl = 2\n\nb:\n",
			[]wantErr{{3, `"[" at the start of a line`}}, "a@1\n  k=\"1\"@2\nb@6\n"},
		{"key given twice", "a:\n\tk = 1\n\tk = 2\n",
			[]wantErr{{3, `"k" given twice (also at line 2)`}}, "a@1\n  k=\"1\"@2\n"},
		{"NUL byte", "a:\n\tk = 1\x00\n\nb:\n",
			[]wantErr{{2, "NUL byte"}}, "a@1\nb@4\n"},
		{"backslash at the end of the file", "a:\n\tk = 1\\",
			[]wantErr{{2, "ends after a continuation backslash"}}, "a@1\n"},
		{"many errors, all reported", "x y:\n\tk = 1\n\n a\n\t=\n\nb:\n\tk\n",
			[]wantErr{{1, "after \"x\""}, {4, `"a" has no '='`}, {5, `"=" where an attribute name`}, {8, `"k" has no '='`}}, "b@7\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := &errList{path: "test.conf"}
			f := parseSyntax([]byte(tt.in), errs)
			checkErrors(t, "parseSyntax("+tt.name+")", errs.err(), ErrInvalid, tt.want)
			if got := dumpSyntax(f, true); got != tt.rest {
				t.Errorf("parseSyntax(%q) kept\n%s\nwant\n%s", tt.in, got, tt.rest)
			}
		})
	}
}

// TestWriteSyntax checks the writer's format: a tab, "key = value" or
// "key =", continuation lines, a blank line after each stanza, comments
// back in place.
func TestWriteSyntax(t *testing.T) {
	in := "# head\ncluster:\n  name=a  \n\tempty=\n# about k\n\tk = x\\\n  y\\\\\nz\nnode:\n\tname = n\n# tail\n"
	want := "# head\ncluster:\n\tname = a  \n\tempty =\n# about k\n\tk = x\\\n  y\\\\\nz\n\nnode:\n\tname = n\n\n# tail\n"
	errs := &errList{path: "test.conf"}
	f := parseSyntax([]byte(in), errs)
	if err := errs.err(); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := writeSyntax(&b, f); err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != want {
		t.Errorf("writeSyntax(parse(%q)) =\n%q\nwant\n%q", in, got, want)
	}
	// What it wrote reads back the same, and writes the same again.
	f2 := parseSyntax(b.Bytes(), errs)
	if a, b := dumpSyntax(f, false), dumpSyntax(f2, false); a != b {
		t.Errorf("parse(write(f)) =\n%s\nwant\n%s", b, a)
	}
}
