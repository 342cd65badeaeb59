package ocf

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
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

// Environ lists env's variables as "name=value", sorted, for a child
// process: the process environment for OSEnv, a MapEnv's entries; none
// for an Env that cannot list them.
func Environ(env Env) []string {
	if e, ok := env.(environ); ok {
		return e.Environ()
	}
	return nil
}

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

// action returns the declaration of an action at a check level: the
// entry of that name and depth, else the first of that name, with the Run
// of the first entry of that name that has one. nil if none is declared.
func (a *Agent) action(name string, level int) *Action {
	var found *Action
	for i := range a.Actions {
		act := &a.Actions[i]
		if act.Name != name {
			continue
		}
		if found == nil || (act.Depth == level && found.Depth != level) {
			found = act
		}
	}
	if found == nil || found.Run != nil {
		return found
	}
	for i := range a.Actions {
		if a.Actions[i].Name == name && a.Actions[i].Run != nil {
			act := *found
			act.Run = a.Actions[i].Run
			return &act
		}
	}
	return found
}

func (a *Agent) usage() string {
	var names []string
	for _, act := range a.Actions {
		if !slices.Contains(names, act.Name) {
			names = append(names, act.Name)
		}
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
	level := 0
	if lvl, ok := env.Lookup("OCF_CHECK_LEVEL"); ok {
		level, _ = strconv.Atoi(strings.TrimSpace(lvl))
	}
	act := a.action(name, level)
	if act == nil || act.Run == nil {
		fmt.Fprint(stderr, a.usage())
		return ErrUnimplemented
	}
	begin := time.Now()
	instance, _ := env.Lookup("OCF_RESOURCE_INSTANCE")
	sink := newSink(a, instance, env, stderr)
	defer sink.close()
	log := slog.New(&handler{sink: sink})
	tr := startTrace(a, name, instance, env, sink.tty, begin, func(msg string) { log.Warn(msg) })
	if tr != nil {
		tr.begin(a, name, instance, env)
		sink.trace = tr
	}
	c := &Context{
		Agent: a, Action: name, Instance: instance, Env: env, Stdout: stdout,
		Interval:   envMS(env, "OCF_RESKEY_CRM_meta_interval"),
		Timeout:    envMS(env, "OCF_RESKEY_CRM_meta_timeout"),
		CheckLevel: level,
		Log:        log,
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
		if tr != nil {
			tr.params(a.Params, c.Params, env)
		}
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
		// As ocf_exit_reason: logged, not printed on stderr again.
		level, what := slog.LevelError, " failed: "
		if code == Degraded {
			level, what = slog.LevelWarn, " degraded: "
		}
		log.Log(context.WithValue(ctx, noStderrKey{}, true), level, name+what+reason, "code", CodeName(code))
	}
	if tr != nil {
		sink.mu.Lock()
		tr.end(code, time.Now())
		sink.trace = nil
		sink.mu.Unlock()
	}
	return code
}
