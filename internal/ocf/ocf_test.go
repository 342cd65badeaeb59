package ocf

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

func testAgent(run func(*Context) error) *Agent {
	return &Agent{
		Name: "t", Version: "1.0", Short: "test", Long: "A test agent.",
		Params: []Param{
			{Name: "req", Type: String, Required: true, Short: "r", Long: "r"},
			{Name: "n", Type: Integer, Default: "5", Short: "n", Long: "n", EnvVar: "T_N",
				Check: func(s string) error {
					if s == "13" {
						return errors.New("unlucky")
					}
					return nil
				}},
			{Name: "b", Type: Boolean, Default: "false", Short: "b", Long: "b"},
			{Name: "d", Type: Time, Default: "10s", Short: "d", Long: "d"},
		},
		Actions: []Action{
			{Name: "start", Timeout: 20 * time.Second, Run: run},
			{Name: "monitor", Timeout: 20 * time.Second, Interval: 10 * time.Second, Run: run},
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
		`<!DOCTYPE resource-agent SYSTEM "ra-api-1.dtd">`,
		`<resource-agent name="t" version="1.0">`,
		`<parameter name="req" unique="0" required="1">`,
		`<content type="integer" default="5"/>`,
		`<action name="monitor" timeout="20s" interval="10s" depth="0"/>`,
		`<action name="meta-data" timeout="5s"/>`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("meta-data lacks %s:\n%s", want, s)
		}
	}
}

// The syslog connection is made by the first message only, once; when it
// cannot be made, messages go to the fallback.
func TestLazySyslog(t *testing.T) {
	var dials int
	var got strings.Builder
	l := &lazySyslog{dial: func() (io.Writer, error) { dials++; return &got, nil }}
	if dials != 0 {
		t.Fatal("dialled before any message")
	}
	l.Write([]byte("one\n"))
	l.Write([]byte("two\n"))
	if dials != 1 || got.String() != "one\ntwo\n" {
		t.Errorf("%d dials, wrote %q; want 1, both messages", dials, got.String())
	}
	var fb strings.Builder
	l = &lazySyslog{dial: func() (io.Writer, error) { return nil, errors.New("no syslog") }, fallback: &fb}
	if n, err := l.Write([]byte("lost?\n")); n != 6 || err != nil || fb.String() != "lost?\n" {
		t.Errorf("Write without syslog = %d, %v, fallback got %q", n, err, fb.String())
	}
	l = &lazySyslog{dial: func() (io.Writer, error) { return nil, errors.New("no syslog") }}
	if n, err := l.Write([]byte("x\n")); n != 2 || err != nil {
		t.Errorf("Write without syslog nor fallback = %d, %v; want 2, nil", n, err)
	}
}
