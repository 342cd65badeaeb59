package clusterconf

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
)

// Sentinel errors. Every error of this package is a *LineError that wraps
// one of them, so callers classify with errors.Is and read the place with
// errors.As.
var (
	// ErrInvalid: the file breaks a rule of the format or of the model. An
	// agent maps it to OCF_ERR_CONFIGURED. A missing file is not ErrInvalid:
	// Load wraps fs.ErrNotExist for it (OCF_ERR_INSTALLED).
	ErrInvalid = errors.New("invalid cluster configuration")
	// ErrSyntax: a line that is not in the file format. It is also
	// ErrInvalid.
	ErrSyntax = fmt.Errorf("%w: syntax error", ErrInvalid)

	// ErrNoCluster: the file configures no cluster at all.
	ErrNoCluster = errors.New("no cluster configured")
	// ErrAmbiguousCluster: no cluster was named and the file has several.
	ErrAmbiguousCluster = errors.New("several clusters configured")
	// ErrUnknownCluster: the named cluster is not in the file.
	ErrUnknownCluster = errors.New("unknown cluster")
	// ErrNoHeartbeat: the cluster has no usable heartbeat configuration
	// (global mode without a region; see Cluster.Heartbeat).
	ErrNoHeartbeat = errors.New("no heartbeat configuration")
	// ErrNoSuchNode: no node of the cluster has that name, host name or
	// number.
	ErrNoSuchNode = errors.New("no such node")
	// ErrNoSuchRegion: the cluster has no heartbeat stanza for that UUID.
	ErrNoSuchRegion = errors.New("no such region")
	// ErrAmbiguousNode: several nodes match a host name.
	ErrAmbiguousNode = errors.New("several nodes match")
	// ErrExists: Add* was asked for a cluster, node or region that exists.
	ErrExists = errors.New("already configured")
)

// LineError is one problem of a cluster.conf, at a line of it.
type LineError struct {
	Path string // the file, as given to Parse or Load; "" for an in-memory config
	Line int    // 1-based; 0 when the problem concerns no single line
	Msg  string // what is wrong, for a human
	Err  error  // the sentinel: ErrSyntax, ErrInvalid, ErrUnknownCluster, ...
}

func (e *LineError) Error() string {
	p := e.Path
	if p == "" {
		p = "cluster.conf"
	}
	if e.Line > 0 {
		p += ":" + strconv.Itoa(e.Line)
	}
	return p + ": " + e.Msg
}

// Unwrap returns the sentinel.
func (e *LineError) Unwrap() error { return e.Err }

// errList collects the errors of one file.
type errList struct {
	path string
	errs []*LineError
}

func (l *errList) add(line int, class error, format string, args ...any) {
	l.errs = append(l.errs, &LineError{Path: l.path, Line: line, Msg: fmt.Sprintf(format, args...), Err: class})
}

// err returns every error, ordered by line, joined; nil if there is none.
func (l *errList) err() error {
	if len(l.errs) == 0 {
		return nil
	}
	slices.SortStableFunc(l.errs, func(a, b *LineError) int { return cmp.Compare(a.Line, b.Line) })
	if len(l.errs) == 1 {
		return l.errs[0]
	}
	all := make([]error, len(l.errs))
	for i, e := range l.errs {
		all[i] = e
	}
	return errors.Join(all...)
}
