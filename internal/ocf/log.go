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

	"golang.org/x/sys/unix"
)

// An agent logs where resource-agents' ocf-shellfuncs sends ocf_log
// messages, read from the same environment:
//
//   - HA_LOGFACILITY names the syslog facility; unset, empty or "none"
//     means no syslog. The priority follows the level: error → err,
//     warning → warning, info → info, debug → debug.
//   - HA_debug other than empty or "0" lets debug messages through.
//   - HA_LOGFILE, if set, gets every message but the debug ones.
//   - HA_DEBUGLOG, if set, gets every message (unless it is HA_LOGFILE).
//   - With neither a facility nor HA_LOGFILE, messages go to stderr.
//   - On a terminal (standard input is one), messages go to stderr only.
//
// Pacemaker's executor sets HA_LOGFACILITY, HA_LOGFILE, HA_DEBUGLOG and
// HA_debug from its own logging options. A failure's exit reason, already
// printed on stderr, is logged but not printed again. The heartbeat
// logging daemon (HA_LOGD) is not supported.

// syslogWriter is the part of *syslog.Writer the logger uses.
type syslogWriter interface {
	Err(string) error
	Warning(string) error
	Info(string) error
	Debug(string) error
}

// syslogDial connects to the machine's syslog; tests replace it.
var syslogDial = func(facility syslog.Priority, tag string) (syslogWriter, error) {
	return syslog.New(facility|syslog.LOG_INFO, tag)
}

// stdinIsTerminal reports whether standard input is a terminal, as
// ocf-shellfuncs' tty test does; tests replace it.
var stdinIsTerminal = func() bool {
	_, err := unix.IoctlGetTermios(0, unix.TCGETS)
	return err == nil
}

// facilities are the syslog facility names logger(1) knows.
var facilities = map[string]syslog.Priority{
	"kern": syslog.LOG_KERN, "user": syslog.LOG_USER, "mail": syslog.LOG_MAIL,
	"daemon": syslog.LOG_DAEMON, "auth": syslog.LOG_AUTH, "security": syslog.LOG_AUTH,
	"syslog": syslog.LOG_SYSLOG, "lpr": syslog.LOG_LPR, "news": syslog.LOG_NEWS,
	"uucp": syslog.LOG_UUCP, "cron": syslog.LOG_CRON, "authpriv": syslog.LOG_AUTHPRIV,
	"ftp": syslog.LOG_FTP, "local0": syslog.LOG_LOCAL0, "local1": syslog.LOG_LOCAL1,
	"local2": syslog.LOG_LOCAL2, "local3": syslog.LOG_LOCAL3, "local4": syslog.LOG_LOCAL4,
	"local5": syslog.LOG_LOCAL5, "local6": syslog.LOG_LOCAL6, "local7": syslog.LOG_LOCAL7,
}

// sink is where an action's messages go.
type sink struct {
	tag      string // agent(instance), as HA_LOGTAG
	tty      bool
	debug    bool
	syslog   *lazySyslog // nil: no syslog
	logFile  string
	debugLog string
	stderr   io.Writer
	now      func() time.Time

	mu    sync.Mutex
	files map[string]*os.File
	trace *trace // nil: not tracing
}

// newSink reads the logging environment.
func newSink(a *Agent, instance string, env Env, stderr io.Writer) *sink {
	s := &sink{tag: a.Name, stderr: stderr, tty: stdinIsTerminal(), now: time.Now, files: map[string]*os.File{}}
	if instance != "" {
		s.tag = fmt.Sprintf("%s(%s)", a.Name, instance)
	}
	get := func(name string) string { v, _ := env.Lookup(name); return v }
	if d := get("HA_debug"); d != "" && d != "0" {
		s.debug = true
	}
	s.logFile, s.debugLog = get("HA_LOGFILE"), get("HA_DEBUGLOG")
	if name := strings.TrimSpace(get("HA_LOGFACILITY")); name != "" && name != "none" {
		facility, ok := facilities[strings.ToLower(name)]
		if !ok {
			fmt.Fprintf(stderr, "%s: HA_LOGFACILITY=%q is not a syslog facility; logging to daemon\n", a.Name, name)
			facility = syslog.LOG_DAEMON
		}
		tag := s.tag
		s.syslog = &lazySyslog{dial: func() (syslogWriter, error) { return syslogDial(facility, tag) }}
	}
	return s
}

// lazySyslog connects to syslog on its first message (most actions log
// none); when it cannot, messages are dropped as logger(1) drops them.
type lazySyslog struct {
	dial func() (syslogWriter, error)
	once sync.Once
	w    syslogWriter
}

func (l *lazySyslog) writer() syslogWriter {
	l.once.Do(func() {
		if w, err := l.dial(); err == nil {
			l.w = w
		}
	})
	return l.w
}

// noStderr marks a message already printed on stderr (the exit reason).
type noStderrKey struct{}

func levelName(l slog.Level) string {
	switch {
	case l >= slog.LevelError:
		return "ERROR"
	case l >= slog.LevelWarn:
		return "WARNING"
	case l >= slog.LevelInfo:
		return "INFO"
	}
	return "DEBUG"
}

// hadate is ocf-shellfuncs' default HA_DATEFMT, "%b %d %T ".
func (s *sink) hadate() string { return s.now().Format("Jan 02 15:04:05 ") }

// appendTo writes a line to a log file, opened once for the action.
func (s *sink) appendTo(path, line string) {
	f, ok := s.files[path]
	if !ok {
		var err error
		if f, err = os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644); err != nil {
			fmt.Fprintf(s.stderr, "%s: %v\n", s.tag, err)
		}
		s.files[path] = f // nil after an error: tried once
	}
	if f != nil {
		f.WriteString(line)
	}
}

// close closes the log files.
func (s *sink) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.files {
		if f != nil {
			f.Close()
		}
	}
	s.files = map[string]*os.File{}
}

// write sends one formatted message ("LEVEL: text") where it goes.
func (s *sink) write(ctx context.Context, level slog.Level, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.trace != nil {
		s.trace.message(s.now(), msg)
	}
	noStderr := ctx.Value(noStderrKey{}) != nil
	tagged := fmt.Sprintf("%s[%d]", s.tag, os.Getpid())
	if level < slog.LevelInfo {
		if !s.debug {
			return
		}
		if s.tty {
			fmt.Fprintf(s.stderr, "%s: %s\n", s.tag, msg)
			return
		}
		if w := s.sysWriter(); w != nil {
			w.Debug(msg)
		}
		if s.debugLog != "" {
			s.appendTo(s.debugLog, tagged+":\t"+s.hadate()+msg+"\n")
		}
		return
	}
	if s.tty {
		if !noStderr {
			fmt.Fprintf(s.stderr, "%s: %s\n", s.tag, msg)
		}
		return
	}
	if w := s.sysWriter(); w != nil {
		switch {
		case level >= slog.LevelError:
			w.Err(msg)
		case level >= slog.LevelWarn:
			w.Warning(msg)
		default:
			w.Info(msg)
		}
	}
	if s.logFile != "" {
		s.appendTo(s.logFile, s.hadate()+tagged+":    "+msg+"\n")
	}
	if s.syslog == nil && s.logFile == "" && !noStderr {
		fmt.Fprintf(s.stderr, "%s%s\n", s.hadate(), msg)
	}
	if s.debugLog != "" && s.debugLog != s.logFile {
		s.appendTo(s.debugLog, tagged+":\t"+s.hadate()+msg+"\n")
	}
}

func (s *sink) sysWriter() syslogWriter {
	if s.syslog == nil {
		return nil
	}
	return s.syslog.writer()
}

// handler formats slog records as ocf_log does: "LEVEL: message", then
// the attributes as key=value.
type handler struct {
	sink   *sink
	attrs  string // formatted by WithAttrs
	prefix string // group prefix of further keys
}

func (h *handler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= slog.LevelInfo || h.sink.debug || h.sink.trace != nil
}

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(levelName(r.Level))
	b.WriteString(": ")
	b.WriteString(r.Message)
	b.WriteString(h.attrs)
	r.Attrs(func(a slog.Attr) bool { appendAttr(&b, h.prefix, a); return true })
	h.sink.write(ctx, r.Level, b.String())
	return nil
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	var b strings.Builder
	b.WriteString(h.attrs)
	for _, a := range attrs {
		appendAttr(&b, h.prefix, a)
	}
	return &handler{sink: h.sink, attrs: b.String(), prefix: h.prefix}
}

func (h *handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &handler{sink: h.sink, attrs: h.attrs, prefix: h.prefix + name + "."}
}

// appendAttr writes " key=value", the value quoted when it needs it.
func appendAttr(b *strings.Builder, prefix string, a slog.Attr) {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return
	}
	if a.Value.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += a.Key + "."
		}
		for _, g := range a.Value.Group() {
			appendAttr(b, p, g)
		}
		return
	}
	v := a.Value.String()
	if v == "" || strings.ContainsAny(v, " \t\n\"=\\") || !strconv.CanBackquote(v) {
		v = strconv.Quote(v)
	}
	fmt.Fprintf(b, " %s%s=%s", prefix, a.Key, v)
}
