package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/o2cb-ra/o2cb-ra/internal/command"
	"github.com/o2cb-ra/o2cb-ra/internal/hbctl"
	"github.com/o2cb-ra/o2cb-ra/internal/ocf"
	"github.com/o2cb-ra/o2cb-ra/internal/testenv"
)

// TestPages lints every page with groff and mandoc, and checks that each
// documents what its program declares: every parameter and action of an
// agent, every command and visible flag of o2cb-ra, every environment
// variable of ocfs2_hb_ctl.
func TestPages(t *testing.T) {
	testenv.RequireCommand(t, "groff", "mandoc")
	dir := t.TempDir()
	text := map[string]string{}
	for _, p := range pages("o2cb-ra test", "2026-12-02") {
		name := p.Name + "." + p.Section
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, p.Roff(), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("groff", "-ww", "-z", "-man", path).CombinedOutput(); err != nil || len(out) > 0 {
			t.Errorf("groff -ww -z %s: %v\n%s", name, err, out)
		}
		if out, err := exec.Command("mandoc", "-Tlint", "-W", "warning", path).CombinedOutput(); err != nil || len(out) > 0 {
			t.Errorf("mandoc -Tlint %s: %v\n%s", name, err, out)
		}
		out, err := exec.Command("groff", "-man", "-Tutf8", "-P", "-cbou", "-rLL=200n", path).Output()
		if err != nil {
			t.Fatalf("groff %s: %v", name, err)
		}
		text[name] = string(out)
	}
	has := func(page string, want ...string) {
		t.Helper()
		got, ok := text[page]
		if !ok {
			t.Fatalf("no page %s among %v", page, keys(text))
		}
		for _, w := range want {
			if term, ok := strings.CutPrefix(w, "term:"); ok {
				// A term at the list's indent, alone or sharing its line
				// with a short description.
				if !regexp.MustCompile(`\n {7}` + regexp.QuoteMeta(term) + `[ \n]`).MatchString(got) {
					t.Errorf("%s lacks the term %q", page, term)
				}
				continue
			}
			if !strings.Contains(got, w) {
				t.Errorf("%s lacks %q", page, w)
			}
		}
	}
	for name, agent := range command.Agents {
		a := agent()
		page := "ocf_" + command.OCFProvider + "_" + name + ".7"
		var want []string
		for _, p := range a.Params {
			want = append(want, "term:"+p.Name)
			if p.Default != "" {
				want = append(want, `default "`+p.Default+`"`)
			}
		}
		for _, act := range a.Actions {
			want = append(want, "term:"+act.Name, "Suggested minimum timeout: "+ocf.Seconds(act.Timeout)+".")
		}
		want = append(want, "pcs resource create", "crm configure primitive", "ocf:"+command.OCFProvider+":"+name)
		has(page, want...)
	}
	var want []string
	for _, c := range command.App().Commands {
		if c.Hidden {
			continue
		}
		want = append(want, "term:"+c.Name)
		for _, f := range c.Flags {
			if v, ok := f.(cli.VisibleFlag); ok && !v.IsVisible() {
				continue
			}
			want = append(want, "--"+f.Names()[0])
		}
	}
	has("o2cb-ra.8", want...)
	has(hbctl.PageName+".8", hbctl.EnvDevices, hbctl.EnvRunDir, hbctl.EnvOwner, hbctl.EnvTimeout, hbctl.EnvBackend,
		"ocfs2_hb_ctl -S -d <device> <service>", "ocfs2_hb_ctl -L [-d <device>]")
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestPageDate(t *testing.T) {
	for _, tc := range []struct{ flagged, epoch, want, err string }{
		{"2026-01-31", "", "2026-01-31", ""},
		{"", "1764633600", "2025-12-02", ""},
		{"31/01/2026", "", "", "-date"},
		{"", "yesterday", "", "SOURCE_DATE_EPOCH"},
	} {
		got, err := pageDate(tc.flagged, tc.epoch)
		if got != tc.want || (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("pageDate(%q, %q) = %q, %v; want %q, %q", tc.flagged, tc.epoch, got, err, tc.want, tc.err)
		}
	}
}
