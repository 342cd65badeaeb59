package ocf

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/testenv"
)

func testAgent(run func(*Context) error) *Agent {
	return &Agent{
		Name: "t", Version: "1.0", Short: "test", Long: "A test agent.",
		Params: []Param{
			{Name: "req", Type: String, Required: true, UniqueGroup: "g", Short: "r", Long: "r"},
			{Name: "n", Type: Integer, Default: "5", Short: "n", Long: "n", EnvVar: "T_N",
				Check: func(s string) error {
					if s == "13" {
						return errors.New("unlucky")
					}
					return nil
				}},
			{Name: "b", Type: Boolean, Default: "false", Reloadable: true, Short: "b", Long: "b"},
			{Name: "d", Type: Time, Default: "10s", Short: "d", Long: "d"},
		},
		Actions: []Action{
			{Name: "start", Timeout: 20 * time.Second, Run: run},
			{Name: "monitor", Timeout: 20 * time.Second, Interval: 10 * time.Second, Run: run},
			{Name: "monitor", Timeout: 45 * time.Second, Interval: time.Minute, Depth: 10},
			{Name: "meta-data", Timeout: 5 * time.Second, NoParams: true},
		},
	}
}

func TestMainExitCodesAndReasons(t *testing.T) {
	var seen *Context
	ok := func(c *Context) error { seen = c; return nil }
	for _, tc := range []struct {
		name   string
		args   []string
		env    MapEnv
		run    func(*Context) error
		code   int
		reason string // expected in the exit-reason line; "" for none
	}{
		{"no action", nil, MapEnv{}, ok, ErrArgs, ""},
		{"two actions", []string{"start", "stop"}, MapEnv{}, ok, ErrArgs, ""},
		{"unknown action", []string{"promote"}, MapEnv{"OCF_RESKEY_req": "x"}, ok, ErrUnimplemented, ""},
		{"good", []string{"start"}, MapEnv{"OCF_RESKEY_req": "x"}, ok, Success, ""},
		{"required missing", []string{"start"}, MapEnv{}, ok, ErrConfigured, "parameter req is required"},
		{"not an integer", []string{"start"}, MapEnv{"OCF_RESKEY_req": "x", "OCF_RESKEY_n": "five"}, ok, ErrConfigured, `parameter n: "five" is not an integer`},
		{"check fails", []string{"start"}, MapEnv{"OCF_RESKEY_req": "x", "OCF_RESKEY_n": "13"}, ok, ErrConfigured, "parameter n: unlucky"},
		{"env default checked too", []string{"start"}, MapEnv{"OCF_RESKEY_req": "x", "T_N": "13"}, ok, ErrConfigured, "parameter n: unlucky"},
		{"all problems reported", []string{"start"}, MapEnv{"OCF_RESKEY_b": "maybe", "OCF_RESKEY_d": "soon"}, ok, ErrConfigured, "parameter req is required; parameter b:"},
		{"action error", []string{"start"}, MapEnv{"OCF_RESKEY_req": "x"}, func(*Context) error { return Errorf(ErrPerm, "needs root") }, ErrPerm, "needs root"},
		{"plain error is generic", []string{"start"}, MapEnv{"OCF_RESKEY_req": "x"}, func(*Context) error { return errors.New("boom\nsecond line") }, ErrGeneric, "boom second line"},
		{"not running prints no reason", []string{"monitor"}, MapEnv{"OCF_RESKEY_req": "x"}, func(*Context) error { return Errorf(NotRunning, "stopped") }, NotRunning, ""},
		{"custom prefix", []string{"start"}, MapEnv{"OCF_EXIT_REASON_PREFIX": "why:"}, ok, ErrConfigured, "parameter req"},
	} {
		var out, errOut bytes.Buffer
		code := testAgent(tc.run).Main(tc.args, tc.env, &out, &errOut)
		if code != tc.code {
			t.Errorf("%s: Main(%v) = %d (%s), want %d; stderr %q", tc.name, tc.args, code, CodeName(code), tc.code, errOut.String())
			continue
		}
		prefix := "ocf-exit-reason:"
		if p, ok := tc.env["OCF_EXIT_REASON_PREFIX"]; ok {
			prefix = p
		}
		var reasons []string
		for _, l := range strings.Split(errOut.String(), "\n") {
			if strings.HasPrefix(l, prefix) {
				reasons = append(reasons, strings.TrimPrefix(l, prefix))
			}
		}
		switch {
		case tc.reason == "" && len(reasons) != 0:
			t.Errorf("%s: exit reasons %q, want none", tc.name, reasons)
		case tc.reason != "" && (len(reasons) != 1 || !strings.Contains(reasons[0], tc.reason)):
			t.Errorf("%s: exit reasons %q, want one containing %q", tc.name, reasons, tc.reason)
		}
	}
	// The context an action gets.
	env := MapEnv{"OCF_RESKEY_req": "x", "T_N": "7", "OCF_RESKEY_b": "yes", "OCF_RESOURCE_INSTANCE": "r:1",
		"OCF_RESKEY_CRM_meta_interval": "0", "OCF_RESKEY_CRM_meta_timeout": "30000", "OCF_CHECK_LEVEL": "10"}
	testAgent(ok).Main([]string{"monitor"}, env, &bytes.Buffer{}, &bytes.Buffer{})
	if seen == nil || seen.Instance != "r:1" || !seen.IsProbe() || seen.Timeout != 30*time.Second || seen.CheckLevel != 10 {
		t.Fatalf("context = %+v", seen)
	}
	if seen.Params.String("req") != "x" || seen.Params.Int("n") != 7 || !seen.Params.Bool("b") || seen.Params.IsSet("n") || !seen.Params.IsSet("req") {
		t.Fatalf("params = %+v", seen.Params)
	}
	if dl, ok := seen.Deadline(); !ok || time.Until(dl) > 30*time.Second {
		t.Fatalf("deadline %v, want within the 30 s timeout", dl)
	}
}

func TestParseBoolAndTime(t *testing.T) {
	for _, s := range []string{"1", "yes", "TRUE", "on", "y"} {
		if b, err := ParseBool(s); !b || err != nil {
			t.Errorf("ParseBool(%q) = %v, %v", s, b, err)
		}
	}
	for _, s := range []string{"0", "no", "False", "off", "n", ""} {
		if b, err := ParseBool(s); b || err != nil {
			t.Errorf("ParseBool(%q) = %v, %v", s, b, err)
		}
	}
	if _, err := ParseBool("maybe"); err == nil {
		t.Error("ParseBool(maybe) = nil error")
	}
	for s, want := range map[string]time.Duration{"20": 20 * time.Second, "90s": 90 * time.Second, "500ms": 500 * time.Millisecond, "2m": 2 * time.Minute} {
		if d, err := ParseTime(s); d != want || err != nil {
			t.Errorf("ParseTime(%q) = %v, %v, want %v", s, d, err, want)
		}
	}
	for _, s := range []string{"-5s", "soon", ""} {
		if _, err := ParseTime(s); err == nil {
			t.Errorf("ParseTime(%q) = nil error", s)
		}
	}
}

func TestMetaDataShape(t *testing.T) {
	md, err := testAgent(nil).MetaData()
	if err != nil {
		t.Fatal(err)
	}
	s := string(md)
	for _, want := range []string{
		`<!DOCTYPE resource-agent SYSTEM "ra-api-1.dtd" [`,
		`<resource-agent name="t" version="1.0">`,
		`<version>1.1</version>`,
		`<parameter name="req" unique-group="g" required="1">`,
		`<parameter name="n">`,
		`<parameter name="b" reloadable="1">`,
		`<content type="integer" default="5"/>`,
		`<content type="string" default="10s"/>`, // a Time is a string to OCF 1.1
		`<action name="monitor" timeout="20s" interval="10s" depth="0"/>`,
		`<action name="monitor" timeout="45s" interval="60s" depth="10"/>`,
		`<action name="meta-data" timeout="5s"/>`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("meta-data lacks %s:\n%s", want, s)
		}
	}
	for _, not := range []string{"unique=", `type="time"`} {
		if strings.Contains(s, not) {
			t.Errorf("meta-data has %s:\n%s", not, s)
		}
	}
}

// Two monitor entries: the one of the call's depth gives the default
// timeout, both run the one monitor function, usage names it once.
func TestActionDepths(t *testing.T) {
	var seen *Context
	a := testAgent(func(c *Context) error { seen = c; return nil })
	for _, tc := range []struct {
		level string
		want  time.Duration
	}{{"", 20 * time.Second}, {"0", 20 * time.Second}, {"10", 45 * time.Second}, {"20", 20 * time.Second}} {
		seen = nil
		env := MapEnv{"OCF_RESKEY_req": "x"}
		if tc.level != "" {
			env["OCF_CHECK_LEVEL"] = tc.level
		}
		var errOut bytes.Buffer
		if code := a.Main([]string{"monitor"}, env, &bytes.Buffer{}, &errOut); code != Success || seen == nil {
			t.Fatalf("monitor at level %q: exit %d, ran %v; stderr %q", tc.level, code, seen != nil, errOut.String())
		}
		if seen.Timeout != tc.want {
			t.Errorf("monitor at level %q: timeout %v, want %v", tc.level, seen.Timeout, tc.want)
		}
	}
	var out bytes.Buffer
	a.Main([]string{"usage"}, MapEnv{}, &out, &bytes.Buffer{})
	if got := out.String(); got != "usage: t {start|monitor|meta-data}\n" {
		t.Errorf("usage = %q", got)
	}
	// An action declared without any Run is unimplemented, not a panic.
	a.Actions = append(a.Actions, Action{Name: "promote", Timeout: time.Second})
	if code := a.Main([]string{"promote"}, MapEnv{"OCF_RESKEY_req": "x"}, &bytes.Buffer{}, &bytes.Buffer{}); code != ErrUnimplemented {
		t.Errorf("promote without Run: exit %d, want %d", code, ErrUnimplemented)
	}
}

// The OCF 1.1 schema accepts our meta-data and rejects what 1.1 forbids,
// so the agents' meta-data check against it can fail.
func TestMetaDataSchema(t *testing.T) {
	testenv.RequireCommand(t, "xmllint")
	md, err := testAgent(nil).MetaData()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	check := func(doc string) (bool, string) {
		path := filepath.Join(dir, "md.xml")
		if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("xmllint", "--noout", "--nowarning", "--relaxng", filepath.Join("testdata", "ocf-1.1.rng"), path).CombinedOutput()
		return err == nil, string(out)
	}
	if ok, out := check(string(md)); !ok {
		t.Fatalf("meta-data does not validate:\n%s\n%s", out, md)
	}
	for _, tc := range []struct{ name, old, new string }{
		{"version 1.0", "<version>1.1</version>", "<version>1.0</version>"},
		{"reloadable not a flag", `reloadable="1"`, `reloadable="yes"`},
		{"time is no OCF 1.1 type", `<content type="integer" default="5"/>`, `<content type="time" default="5"/>`},
		{"reserved depth", `depth="10"`, `depth="5"`},
		{"no timeout", `<action name="meta-data" timeout="5s"/>`, `<action name="meta-data"/>`},
		{"bad interval", `interval="60s"`, `interval="soon"`},
		{"no lang", `<shortdesc lang="en">r</shortdesc>`, `<shortdesc>r</shortdesc>`},
		{"unknown element", `<actions>`, `<bogus/><actions>`},
	} {
		doc := strings.Replace(string(md), tc.old, tc.new, 1)
		if doc == string(md) {
			t.Fatalf("%s: %q not in the meta-data", tc.name, tc.old)
		}
		if ok, _ := check(doc); ok {
			t.Errorf("%s: the schema accepts it", tc.name)
		}
	}
}

func TestSupportsDegraded(t *testing.T) {
	for _, tc := range []struct {
		major, minor string
		want         bool
	}{{"1", "1", true}, {"1", "2", true}, {"2", "0", true}, {"1", "0", false}, {"", "", false}, {"x", "1", false}} {
		env := MapEnv{}
		if tc.major != "" {
			env["OCF_RA_VERSION_MAJOR"], env["OCF_RA_VERSION_MINOR"] = tc.major, tc.minor
		}
		if got := SupportsDegraded(env); got != tc.want {
			t.Errorf("SupportsDegraded(%s.%s) = %v, want %v", tc.major, tc.minor, got, tc.want)
		}
	}
}
