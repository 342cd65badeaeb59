package ocf

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"log/syslog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Env is where an agent reads its environment.
type Env interface {
	Lookup(name string) (string, bool)
}

// MapEnv is an Env from a map, for tests and for callers that build one.
type MapEnv map[string]string

// Lookup returns the variable's value.
func (m MapEnv) Lookup(name string) (string, bool) { v, ok := m[name]; return v, ok }

type osEnv struct{}

func (osEnv) Lookup(name string) (string, bool) { return os.LookupEnv(name) }

// OSEnv is the process environment.
func OSEnv() Env { return osEnv{} }

// Context is what an action runs with.
type Context struct {
	context.Context
	Agent      *Agent
	Action     string
	Instance   string        // OCF_RESOURCE_INSTANCE
	Interval   time.Duration // OCF_RESKEY_CRM_meta_interval; 0 for a probe
	Timeout    time.Duration // OCF_RESKEY_CRM_meta_timeout; the action's default if unset
	CheckLevel int           // OCF_CHECK_LEVEL: 0, 10 or 20
	Params     Params
	Env        Env
	Log        *slog.Logger
	Stdout     io.Writer
}

// IsProbe reports a monitor with interval 0: Pacemaker asking whether the
// resource runs where it did not start it.
func (c *Context) IsProbe() bool { return c.Action == "monitor" && c.Interval == 0 }

// Getenv returns an environment variable's value, "" if unset.
func (c *Context) Getenv(name string) string {
	v, _ := c.Env.Lookup(name)
	return v
}

func (a *Agent) action(name string) *Action {
	for i := range a.Actions {
		if a.Actions[i].Name == name {
			return &a.Actions[i]
		}
	}
	return nil
}

func (a *Agent) usage() string {
	var names []string
	for _, act := range a.Actions {
		names = append(names, act.Name)
	}
	return fmt.Sprintf("usage: %s {%s}\n", a.Name, strings.Join(names, "|"))
}

// envMS reads a millisecond count from the environment.
func envMS(env Env, name string) time.Duration {
	v, ok := env.Lookup(name)
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return time.Duration(n) * time.Millisecond
}

// logger logs to syslog, tagged with the agent and resource instance, when
// the machine has a syslog; else, and with OCF_TRACE_RA, to stderr. The
// syslog connection is made by the first message: most actions log none.
func logger(a *Agent, instance string, env Env, stderr io.Writer) *slog.Logger {
	var w io.Writer
	trace, _ := env.Lookup("OCF_TRACE_RA")
	tr, _ := ParseBool(trace)
	if _, err := os.Stat("/dev/log"); err == nil {
		tag := a.Name
		if instance != "" {
			tag = fmt.Sprintf("%s(%s)", a.Name, instance)
		}
		sl := &lazySyslog{dial: func() (io.Writer, error) { return syslog.New(syslog.LOG_DAEMON|syslog.LOG_INFO, tag) }}
		if tr {
			w = io.MultiWriter(sl, stderr)
		} else {
			sl.fallback = stderr
			w = sl
		}
	} else {
		w = stderr
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo})).
		With("agent", a.Name, "instance", instance)
}

// lazySyslog connects to syslog on its first write; when it cannot,
// messages go to fallback (nil: nowhere).
type lazySyslog struct {
	dial     func() (io.Writer, error)
	fallback io.Writer
	once     sync.Once
	w        io.Writer
}

func (l *lazySyslog) Write(p []byte) (int, error) {
	l.once.Do(func() {
		if w, err := l.dial(); err == nil {
			l.w = w
		} else {
			l.w = l.fallback
		}
	})
	if l.w == nil {
		return len(p), nil
	}
	return l.w.Write(p)
}

// Main runs the action named by args[0] and returns the exit code. On a
// failure it prints one exit-reason line on stderr and logs it.
func (a *Agent) Main(args []string, env Env, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprint(stderr, a.usage())
		return ErrArgs
	}
	name := args[0]
	switch name {
	case "meta-data":
		md, err := a.MetaData()
		if err != nil {
			fmt.Fprintf(stderr, "meta-data: %v\n", err)
			return ErrGeneric
		}
		stdout.Write(md)
		return Success
	case "usage", "help":
		fmt.Fprint(stdout, a.usage())
		return Success
	}
	act := a.action(name)
	if act == nil {
		fmt.Fprint(stderr, a.usage())
		return ErrUnimplemented
	}
	instance, _ := env.Lookup("OCF_RESOURCE_INSTANCE")
	c := &Context{
		Agent: a, Action: name, Instance: instance, Env: env, Stdout: stdout,
		Interval: envMS(env, "OCF_RESKEY_CRM_meta_interval"),
		Timeout:  envMS(env, "OCF_RESKEY_CRM_meta_timeout"),
		Log:      logger(a, instance, env, stderr),
	}
	if lvl, ok := env.Lookup("OCF_CHECK_LEVEL"); ok {
		c.CheckLevel, _ = strconv.Atoi(strings.TrimSpace(lvl))
	}
	if c.Timeout == 0 {
		c.Timeout = act.Timeout
	}
	// Leave a margin to report the failure before Pacemaker's own timer.
	ctx, cancel := context.WithTimeout(context.Background(), c.Timeout-min(c.Timeout/10, 2*time.Second))
	defer cancel()
	c.Context = ctx

	var err error
	if !act.NoParams {
		c.Params, err = resolve(a.Params, env)
	}
	if err == nil {
		err = act.Run(c)
	}
	code := CodeOf(err)
	if err != nil && code != NotRunning {
		prefix, ok := env.Lookup("OCF_EXIT_REASON_PREFIX")
		if !ok {
			prefix = "ocf-exit-reason:"
		}
		reason := strings.ReplaceAll(err.Error(), "\n", " ")
		fmt.Fprintf(stderr, "%s%s\n", prefix, reason)
		c.Log.Error(name+" failed", "code", CodeName(code), "reason", reason)
	}
	return code
}
