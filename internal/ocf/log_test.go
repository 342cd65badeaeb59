package ocf

import (
	"bytes"
	"errors"
	"log/syslog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fakeSyslog listens on a unixgram socket in a temporary directory and
// makes the agents' syslog connection go there, in the wire format of
// log/syslog; the terminal test answers tty.
func fakeSyslog(t *testing.T, tty bool) *net.UnixConn {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "log")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	dial, term := syslogDial, stdinIsTerminal
	syslogDial = func(facility syslog.Priority, tag string) (syslogWriter, error) {
		return syslog.Dial("unixgram", sock, facility|syslog.LOG_INFO, tag)
	}
	stdinIsTerminal = func() bool { return tty }
	t.Cleanup(func() { syslogDial, stdinIsTerminal = dial, term })
	return conn
}

type datagram struct {
	pri int
	tag string
	msg string
}

// wire is log/syslog's local format: <PRI>Mmm dd hh:mm:ss TAG[PID]: MSG
var wire = regexp.MustCompile(`^<(\d+)>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d (\S+)\[\d+\]: (.*)\n?$`)

// received returns the datagrams sent so far. Main has returned when it is
// called, and a local datagram is queued by the send itself, so a short
// read deadline misses none.
func received(t *testing.T, conn *net.UnixConn) []datagram {
	t.Helper()
	var got []datagram
	buf := make([]byte, 65536)
	for {
		conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		n, err := conn.Read(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return got
			}
			t.Fatal(err)
		}
		m := wire.FindStringSubmatch(string(buf[:n]))
		if m == nil {
			t.Fatalf("syslog datagram %q not in the expected format", buf[:n])
		}
		pri, _ := strconv.Atoi(m[1])
		got = append(got, datagram{pri, m[2], m[3]})
	}
}

// logAll logs one message at each level, then fails with a reason.
func logAll(c *Context) error {
	c.Log.Debug("dbg", "k", "v w")
	c.Log.Info("inf", "n", 1)
	c.Log.Warn("wrn")
	c.Log.Error("err")
	return Errorf(ErrGeneric, "it broke")
}

func runLogged(env MapEnv) (stderr string) {
	env["OCF_RESKEY_req"] = "x"
	env["OCF_RESOURCE_INSTANCE"] = "r1"
	var errOut bytes.Buffer
	testAgent(logAll).Main([]string{"start"}, env, &bytes.Buffer{}, &errOut)
	return errOut.String()
}

func TestSyslogPriorityAndFacility(t *testing.T) {
	const local3, daemon = 19 << 3, 3 << 3
	for _, tc := range []struct {
		name string
		env  MapEnv
		want []datagram
	}{
		{"local3 with debug", MapEnv{"HA_LOGFACILITY": "local3", "HA_debug": "1"}, []datagram{
			{local3 + 7, "t(r1)", `DEBUG: dbg k="v w"`},
			{local3 + 6, "t(r1)", "INFO: inf n=1"},
			{local3 + 4, "t(r1)", "WARNING: wrn"},
			{local3 + 3, "t(r1)", "ERROR: err"},
			{local3 + 3, "t(r1)", "ERROR: start failed: it broke code=OCF_ERR_GENERIC"},
		}},
		{"daemon without debug", MapEnv{"HA_LOGFACILITY": "daemon"}, []datagram{
			{daemon + 6, "t(r1)", "INFO: inf n=1"},
			{daemon + 4, "t(r1)", "WARNING: wrn"},
			{daemon + 3, "t(r1)", "ERROR: err"},
			{daemon + 3, "t(r1)", "ERROR: start failed: it broke code=OCF_ERR_GENERIC"},
		}},
		{"HA_debug=0", MapEnv{"HA_LOGFACILITY": "daemon", "HA_debug": "0"}, []datagram{
			{daemon + 6, "t(r1)", "INFO: inf n=1"},
			{daemon + 4, "t(r1)", "WARNING: wrn"},
			{daemon + 3, "t(r1)", "ERROR: err"},
			{daemon + 3, "t(r1)", "ERROR: start failed: it broke code=OCF_ERR_GENERIC"},
		}},
		{"none", MapEnv{"HA_LOGFACILITY": "none", "HA_debug": "1"}, nil},
		{"empty", MapEnv{"HA_LOGFACILITY": ""}, nil},
		{"unset", MapEnv{}, nil},
	} {
		conn := fakeSyslog(t, false)
		stderr := runLogged(tc.env)
		got := received(t, conn)
		if len(got) != len(tc.want) {
			t.Errorf("%s: syslog got %+v, want %+v", tc.name, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%s: message %d = %+v, want %+v", tc.name, i, got[i], tc.want[i])
			}
		}
		// With syslog, stderr has the exit reason only.
		if tc.want != nil && stderr != "ocf-exit-reason:it broke\n" {
			t.Errorf("%s: stderr %q, want the exit reason alone", tc.name, stderr)
		}
	}
}

// Without syslog nor HA_LOGFILE, messages but the debug ones go to stderr
// after the date, and the failure is not repeated after its exit reason.
func TestLogToStderr(t *testing.T) {
	fakeSyslog(t, false)
	stderr := runLogged(MapEnv{"HA_LOGFACILITY": "none", "HA_debug": "1"})
	lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	date := `[A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d `
	want := []string{date + `INFO: inf n=1`, date + `WARNING: wrn`, date + `ERROR: err`, `ocf-exit-reason:it broke`}
	if len(lines) != len(want) {
		t.Fatalf("stderr %q, want %d lines like %q", stderr, len(want), want)
	}
	for i := range want {
		if !regexp.MustCompile("^" + want[i] + "$").MatchString(lines[i]) {
			t.Errorf("stderr line %d = %q, want %q", i, lines[i], want[i])
		}
	}
}

// On a terminal, messages go to stderr only, tagged, even with a facility.
func TestLogOnTerminal(t *testing.T) {
	conn := fakeSyslog(t, true)
	stderr := runLogged(MapEnv{"HA_LOGFACILITY": "daemon"})
	if got := received(t, conn); len(got) != 0 {
		t.Errorf("syslog got %+v on a terminal", got)
	}
	want := "t(r1): INFO: inf n=1\nt(r1): WARNING: wrn\nt(r1): ERROR: err\nocf-exit-reason:it broke\n"
	if stderr != want {
		t.Errorf("stderr %q, want %q", stderr, want)
	}
}

func TestLogUnknownFacility(t *testing.T) {
	conn := fakeSyslog(t, false)
	stderr := runLogged(MapEnv{"HA_LOGFACILITY": "nosuch"})
	got := received(t, conn)
	if len(got) != 4 || got[0].pri != 3<<3+6 {
		t.Errorf("syslog got %+v, want 4 messages at daemon", got)
	}
	if !strings.Contains(stderr, `HA_LOGFACILITY="nosuch" is not a syslog facility`) {
		t.Errorf("stderr %q does not name the bad facility", stderr)
	}
}

func TestLogFiles(t *testing.T) {
	fakeSyslog(t, false)
	dir := t.TempDir()
	logFile, debugLog := filepath.Join(dir, "ha.log"), filepath.Join(dir, "debug.log")
	stderr := runLogged(MapEnv{"HA_LOGFILE": logFile, "HA_DEBUGLOG": debugLog, "HA_debug": "1"})
	if stderr != "ocf-exit-reason:it broke\n" {
		t.Errorf("stderr %q, want the exit reason alone (HA_LOGFILE set)", stderr)
	}
	read := func(p string) string {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	date := `[A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d `
	tag := regexp.QuoteMeta("t(r1)[" + strconv.Itoa(os.Getpid()) + "]")
	logRE := regexp.MustCompile(`^(` + date + tag + `:    (INFO|WARNING|ERROR): .*\n){4}$`)
	if got := read(logFile); !logRE.MatchString(got) || strings.Contains(got, "DEBUG") {
		t.Errorf("HA_LOGFILE has %q, want the 4 messages from info up", got)
	}
	debugRE := regexp.MustCompile(`^(` + tag + ":\t" + date + `(DEBUG|INFO|WARNING|ERROR): .*\n){5}$`)
	if got := read(debugLog); !debugRE.MatchString(got) || !strings.Contains(got, "DEBUG: dbg") {
		t.Errorf("HA_DEBUGLOG has %q, want all 5 messages", got)
	}
}

// tracedRun runs start with tracing on and returns the trace files made
// under dir.
func tracedRun(t *testing.T, env MapEnv, run func(*Context) error) (code int, stderr string) {
	t.Helper()
	var errOut bytes.Buffer
	code = testAgent(run).Main([]string{"start"}, env, &bytes.Buffer{}, &errOut)
	return code, errOut.String()
}

func onlyFile(t *testing.T, pattern string) string {
	t.Helper()
	m, _ := filepath.Glob(pattern)
	if len(m) != 1 {
		t.Fatalf("trace files %q, want one matching %s", m, pattern)
	}
	return m[0]
}

func TestTraceFile(t *testing.T) {
	fakeSyslog(t, false)
	dir := t.TempDir()
	before := time.Now().Truncate(time.Second)
	ok := func(c *Context) error { c.Log.Debug("looking", "at", "it"); c.Log.Info("done"); return nil }
	code, stderr := tracedRun(t, MapEnv{"OCF_RESKEY_trace_ra": "1", "OCF_RESKEY_trace_dir": dir,
		"OCF_RESOURCE_INSTANCE": "r1", "OCF_RESKEY_req": "x", "T_N": "7", "HA_LOGFACILITY": "none"}, ok)
	after := time.Now()
	if code != Success {
		t.Fatalf("start with trace_ra=1: exit %d, stderr %q (an unknown parameter must not fail)", code, stderr)
	}
	path := onlyFile(t, filepath.Join(dir, "t", "r1.start.*"))
	ts := strings.TrimPrefix(filepath.Base(path), "r1.start.")
	at, err := time.ParseInLocation("2006-01-02.15:04:05", ts, time.Local)
	if err != nil || at.Before(before) || at.After(after) {
		t.Errorf("trace file %s: time stamp %q not a YYYY-MM-DD.HH:MM:SS of the run (%v)", path, ts, err)
	}
	b, _ := os.ReadFile(path)
	trace := string(b)
	for _, want := range []string{
		"t start, instance \"r1\", pid ",
		"environment:\n",
		"  OCF_RESKEY_trace_ra=1\n",
		"  OCF_RESOURCE_INSTANCE=r1\n",
		"parameters:\n",
		"  req=\"x\" (given)\n",
		"  n=\"7\" (from T_N)\n",
		"  d=\"10s\" (default)\n",
		" DEBUG: looking at=it\n", // traced without HA_debug
		" INFO: done\n",
		"exit 0 (OCF_SUCCESS) after ",
	} {
		if !strings.Contains(trace, want) {
			t.Errorf("trace lacks %q:\n%s", want, trace)
		}
	}
	if strings.Contains(trace, "\n  T_N=") {
		t.Errorf("trace lists a non-OCF variable:\n%s", trace)
	}
	if strings.Contains(stderr, "DEBUG") {
		t.Errorf("debug message on stderr without HA_debug: %q", stderr)
	}
}

func TestTraceDestinations(t *testing.T) {
	fakeSyslog(t, false)
	fail := func(*Context) error { return Errorf(ErrConfigured, "bad") }
	// OCF_TRACE_RA over trace_ra; HA_VARLIB/trace_ra and OCF_RESOURCE_TYPE.
	varlib := t.TempDir()
	tracedRun(t, MapEnv{"OCF_TRACE_RA": "yes", "OCF_RESKEY_trace_ra": "0", "HA_VARLIB": varlib,
		"OCF_RESOURCE_TYPE": "mytype", "OCF_RESOURCE_INSTANCE": "r2", "OCF_RESKEY_req": "x"}, fail)
	b, _ := os.ReadFile(onlyFile(t, filepath.Join(varlib, "trace_ra", "mytype", "r2.start.*")))
	if !strings.Contains(string(b), "ERROR: start failed: bad code=OCF_ERR_CONFIGURED\n") || !strings.Contains(string(b), "exit 6 (OCF_ERR_CONFIGURED) after ") {
		t.Errorf("trace of a failed start:\n%s", b)
	}
	// An absolute OCF_TRACE_FILE, its directory made.
	file := filepath.Join(t.TempDir(), "sub", "trace")
	tracedRun(t, MapEnv{"OCF_TRACE_RA": "1", "OCF_TRACE_FILE": file, "OCF_RESKEY_req": "x"}, fail)
	if b, err := os.ReadFile(file); err != nil || !strings.Contains(string(b), "exit 6") {
		t.Errorf("OCF_TRACE_FILE=%s: %v %q", file, err, b)
	}
	// A relative one is refused with a warning: the default file instead.
	dir := t.TempDir()
	_, stderr := tracedRun(t, MapEnv{"OCF_TRACE_RA": "1", "OCF_TRACE_FILE": "rel/trace", "OCF_RESKEY_trace_dir": dir,
		"OCF_RESOURCE_INSTANCE": "r3", "OCF_RESKEY_req": "x"}, fail)
	onlyFile(t, filepath.Join(dir, "t", "r3.start.*"))
	if !strings.Contains(stderr, "WARNING: OCF_TRACE_FILE must be set to either FD (open for writing) or absolute file path") {
		t.Errorf("relative OCF_TRACE_FILE: no warning in %q", stderr)
	}
	// No default file on a terminal, nor without an instance, nor when off.
	for name, env := range map[string]MapEnv{
		"no instance": {"OCF_TRACE_RA": "1", "OCF_RESKEY_trace_dir": dir, "OCF_RESKEY_req": "x"},
		"off":         {"OCF_RESKEY_trace_ra": "no", "OCF_RESKEY_trace_dir": dir, "OCF_RESOURCE_INSTANCE": "r4", "OCF_RESKEY_req": "x"},
	} {
		tracedRun(t, env, fail)
		if m, _ := filepath.Glob(filepath.Join(dir, "t", "*")); len(m) != 1 {
			t.Errorf("%s: trace files %q, want only r3's", name, m)
		}
	}
	stdinIsTerminal = func() bool { return true }
	tracedRun(t, MapEnv{"OCF_TRACE_RA": "1", "OCF_RESKEY_trace_dir": dir, "OCF_RESOURCE_INSTANCE": "r5", "OCF_RESKEY_req": "x"}, fail)
	if m, _ := filepath.Glob(filepath.Join(dir, "t", "r5.*")); len(m) != 0 {
		t.Errorf("trace file %q made on a terminal", m)
	}
	// An unwritable trace directory: a warning, and the action runs.
	stdinIsTerminal = func() bool { return false }
	notDir := filepath.Join(t.TempDir(), "file")
	os.WriteFile(notDir, nil, 0o644)
	code, stderr := tracedRun(t, MapEnv{"OCF_TRACE_RA": "1", "OCF_RESKEY_trace_dir": notDir, "OCF_RESOURCE_INSTANCE": "r6", "OCF_RESKEY_req": "x"},
		func(*Context) error { return nil })
	if code != Success || !strings.Contains(stderr, "not writable, trace not going to happen") {
		t.Errorf("unwritable trace_dir: exit %d, stderr %q", code, stderr)
	}
}

// OCF_TRACE_FILE may name a descriptor 3 to 9 the caller opened: the
// test runs itself with a file as descriptor 3.
func TestTraceToDescriptor(t *testing.T) {
	if os.Getenv("OCF_TEST_TRACE_FD") == "1" {
		stdinIsTerminal = func() bool { return false }
		code := testAgent(func(*Context) error { return nil }).Main([]string{"start"},
			MapEnv{"OCF_TRACE_RA": "1", "OCF_TRACE_FILE": "3", "OCF_RESKEY_req": "x"}, &bytes.Buffer{}, os.Stderr)
		os.Exit(code)
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "fd"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestTraceToDescriptor$")
	cmd.Env = append(os.Environ(), "OCF_TEST_TRACE_FD=1")
	cmd.ExtraFiles = []*os.File{f}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("start with OCF_TRACE_FILE=3: %v\n%s", err, out)
	}
	b, _ := os.ReadFile(f.Name())
	if !strings.Contains(string(b), "t start, instance") || !strings.Contains(string(b), "exit 0 (OCF_SUCCESS)") {
		t.Errorf("trace on descriptor 3: %q", b)
	}
}
