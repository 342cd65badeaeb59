package ocf

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Tracing follows ocf-shellfuncs' ocf_start_trace. It is on when
// OCF_TRACE_RA (else the trace_ra parameter, OCF_RESKEY_trace_ra) is true.
// The trace goes to OCF_TRACE_FILE: a descriptor 3 to 9 open for writing,
// or an absolute path; else (and, with a warning, for any other value) to
// trace_dir/<type>/<instance>.<action>.<YYYY-MM-DD.HH:MM:SS>, trace_dir
// being OCF_RESKEY_trace_dir or $HA_VARLIB/trace_ra (HA_VARLIB defaults to
// /var/lib/heartbeat), <type> OCF_RESOURCE_TYPE or the agent's name. That
// default file is not made on a terminal, nor without an instance name.
//
// Where the shell agents trace their commands, ours records the action,
// the OCF environment, the resolved parameters, every message from debug
// level up (whatever HA_debug says), the exit code and the duration.

// defaultVarLib is ocf-directories' HA_VARLIB.
const defaultVarLib = "/var/lib/heartbeat"

type trace struct {
	w     io.Writer
	file  *os.File // opened here: closed at the end
	start time.Time
}

// environ lists an Env's variables, where it can.
type environ interface{ Environ() []string }

// Environ lists the variables, sorted.
func (m MapEnv) Environ() []string {
	var vars []string
	for k, v := range m {
		vars = append(vars, k+"="+v)
	}
	slices.Sort(vars)
	return vars
}

func (osEnv) Environ() []string {
	vars := os.Environ()
	slices.Sort(vars)
	return vars
}

// traceOn reports whether the action is traced.
func traceOn(env Env) bool {
	v, _ := env.Lookup("OCF_TRACE_RA")
	if v == "" {
		v, _ = env.Lookup("OCF_RESKEY_trace_ra")
	}
	on, err := ParseBool(v)
	return on && err == nil
}

// traceFile returns the default trace file's path, "" when there is none.
func traceFile(a *Agent, action, instance string, env Env, tty bool, now time.Time) string {
	get := func(name string) string { v, _ := env.Lookup(name); return v }
	if tty {
		return ""
	}
	dir := get("OCF_RESKEY_trace_dir")
	if dir == "" {
		varlib := get("HA_VARLIB")
		if varlib == "" {
			varlib = defaultVarLib
		}
		dir = filepath.Join(varlib, "trace_ra")
	}
	typ := get("OCF_RESOURCE_TYPE")
	if typ == "" {
		typ = a.Name
	}
	if instance == "" || action == "" {
		return ""
	}
	return filepath.Join(dir, typ, instance+"."+action+"."+now.Format("2006-01-02.15:04:05"))
}

// startTrace opens the trace of an action, or returns nil; warn reports
// why a trace asked for is not written.
func startTrace(a *Agent, action, instance string, env Env, tty bool, now time.Time, warn func(string)) *trace {
	if !traceOn(env) {
		return nil
	}
	dest, _ := env.Lookup("OCF_TRACE_FILE")
	switch {
	case len(dest) == 1 && dest[0] >= '3' && dest[0] <= '9':
		fd, _ := strconv.Atoi(dest)
		return &trace{w: fdWriter(fd), start: now}
	case strings.HasPrefix(dest, "/") && strings.Contains(dest[1:], "/"):
	case dest == "":
		dest = traceFile(a, action, instance, env, tty, now)
	default:
		warn("OCF_TRACE_FILE must be set to either FD (open for writing) or absolute file path")
		dest = traceFile(a, action, instance, env, tty, now)
	}
	if dest == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		warn(fmt.Sprintf("%s not writable, trace not going to happen: %v", dest, err))
		return nil
	}
	f, err := os.OpenFile(dest, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		warn(fmt.Sprintf("%s not writable, trace not going to happen: %v", dest, err))
		return nil
	}
	return &trace{w: f, file: f, start: now}
}

// fdWriter writes to a descriptor the caller keeps open (an *os.File
// would close it when collected).
type fdWriter int

func (fd fdWriter) Write(p []byte) (int, error) { return unix.Write(int(fd), p) }

// begin records the action and its OCF environment.
func (t *trace) begin(a *Agent, action, instance string, env Env) {
	fmt.Fprintf(t.w, "%s %s, instance %q, pid %d, at %s\n", a.Name, action, instance, os.Getpid(), t.start.Format(time.RFC3339Nano))
	fmt.Fprintln(t.w, "environment:")
	if e, ok := env.(environ); ok {
		for _, kv := range e.Environ() {
			if strings.HasPrefix(kv, "OCF_") || strings.HasPrefix(kv, "HA_") || strings.HasPrefix(kv, "PCMK_") {
				fmt.Fprintf(t.w, "  %s\n", kv)
			}
		}
	}
}

// params records the parameters as the action resolved them.
func (t *trace) params(decl []Param, p Params, env Env) {
	fmt.Fprintln(t.w, "parameters:")
	for _, d := range decl {
		from := "default"
		switch {
		case p.set[d.Name]:
			from = "given"
		case d.EnvVar != "":
			if _, ok := env.Lookup(d.EnvVar); ok {
				from = "from " + d.EnvVar
			}
		}
		fmt.Fprintf(t.w, "  %s=%q (%s)\n", d.Name, p.vals[d.Name], from)
	}
}

func (t *trace) message(at time.Time, msg string) {
	fmt.Fprintf(t.w, "%s %s\n", at.Format("15:04:05.000"), msg)
}

// end records the exit code and the duration, and closes the file.
func (t *trace) end(code int, now time.Time) {
	fmt.Fprintf(t.w, "exit %d (%s) after %s\n", code, CodeName(code), now.Sub(t.start).Round(time.Microsecond))
	if t.file != nil {
		t.file.Close()
	}
}
