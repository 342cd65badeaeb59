package clusterconf

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// dumpSyntax renders the stanzas of f, one item a line; with lines, each
// item carries its line number.
func dumpSyntax(f *file, lines bool) string {
	var b strings.Builder
	at := func(n int) string {
		if !lines {
			return ""
		}
		return fmt.Sprintf("@%d", n)
	}
	for _, s := range f.stanzas {
		for _, c := range s.comments {
			fmt.Fprintf(&b, "%s\n", c)
		}
		fmt.Fprintf(&b, "%s%s\n", s.kind, at(s.line))
		for _, a := range s.attrs {
			for _, c := range a.comments {
				fmt.Fprintf(&b, "  %s\n", c)
			}
			fmt.Fprintf(&b, "  %s=%q%s\n", a.key, a.value, at(a.line))
		}
	}
	for _, c := range f.trailer {
		fmt.Fprintf(&b, "%s\n", c)
	}
	return b.String()
}

// dumpModel renders the model of c without line numbers.
func dumpModel(c *Config) string {
	var b strings.Builder
	for _, cl := range c.Clusters() {
		fmt.Fprintf(&b, "cluster %s mode=%s node_count=%d\n", cl.Name(), cl.Mode(), cl.NodeCount())
		for _, n := range cl.Nodes() {
			fmt.Fprintf(&b, "  node %d %s %s:%d\n", n.Number, n.Name, n.Address, n.Port)
		}
		for _, r := range cl.Regions() {
			fmt.Fprintf(&b, "  region %s %s\n", r.UUID, r.Layout)
		}
	}
	return b.String()
}

// parseString parses text as the file "test.conf".
func parseString(t *testing.T, text string) *Config {
	t.Helper()
	c, err := Parse("test.conf", strings.NewReader(text))
	if err != nil {
		t.Fatalf("Parse(%q) error: %v", text, err)
	}
	return c
}

// lineErrors returns the *LineError values of a (joined) error.
func lineErrors(err error) []*LineError {
	var out []*LineError
	var walk func(error)
	walk = func(e error) {
		if le, ok := e.(*LineError); ok {
			out = append(out, le)
			return
		}
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
		}
	}
	walk(err)
	return out
}

// wantErr is one expected error: its line and a piece of its message.
type wantErr struct {
	line int
	msg  string
}

// checkErrors compares the errors of err with want, in order, and checks
// that each names the file.
func checkErrors(t *testing.T, call string, err error, class error, want []wantErr) {
	t.Helper()
	got := lineErrors(err)
	if len(got) != len(want) {
		t.Fatalf("%s = %d errors:\n%v\nwant %d: %v", call, len(got), err, len(want), want)
	}
	for i, w := range want {
		g := got[i]
		if g.Line != w.line || !strings.Contains(g.Msg, w.msg) {
			t.Errorf("%s error %d = line %d %q, want line %d containing %q", call, i, g.Line, g.Msg, w.line, w.msg)
		}
		if !strings.HasPrefix(g.Error(), fmt.Sprintf("test.conf:%d: ", g.Line)) {
			t.Errorf("%s error %d = %q, want it to start with test.conf:%d:", call, i, g.Error(), g.Line)
		}
		if !errors.Is(g, class) {
			t.Errorf("%s error %d = %v, want it to wrap %v", call, i, g, class)
		}
	}
}
