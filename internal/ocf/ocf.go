// Package ocf is the Open Cluster Framework resource agent protocol: exit
// codes and exit reasons, the OCF_* environment, parameters declared once
// (parsing, validation and meta-data come from one declaration, so they
// cannot drift), OCF 1.1 meta-data XML rendered with etree, action
// dispatch, and logging and tracing as resource-agents' ocf-shellfuncs do.
//
//	var agent = &ocf.Agent{
//		Name: "hbregion", Version: "1.0", Short: "...", Long: "...",
//		Params:  []ocf.Param{{Name: "uuid", Type: ocf.String, Required: true, UniqueGroup: "region", ...}},
//		Actions: []ocf.Action{{Name: "start", Timeout: 90 * time.Second, Run: start}, ...},
//	}
//	os.Exit(agent.Main(os.Args[1:], ocf.OSEnv(), os.Stdout, os.Stderr))
package ocf

import (
	"errors"
	"fmt"
	"strconv"
)

// Exit codes of the OCF specification.
const (
	Success          = 0
	ErrGeneric       = 1
	ErrArgs          = 2
	ErrUnimplemented = 3
	ErrPerm          = 4
	ErrInstalled     = 5
	ErrConfigured    = 6
	NotRunning       = 7
	// Degraded (OCF 1.1): the resource runs, but not fully. Only for a
	// caller of OCF 1.1 or later (SupportsDegraded).
	Degraded = 190
)

// SupportsDegraded reports whether the caller speaks OCF 1.1 or later,
// by OCF_RA_VERSION_MAJOR and OCF_RA_VERSION_MINOR (Pacemaker 2.1 sets
// 1.1); another caller (ocf-tester, a script) takes any code but 0 for
// a failure.
func SupportsDegraded(env Env) bool {
	major, _ := env.Lookup("OCF_RA_VERSION_MAJOR")
	minor, _ := env.Lookup("OCF_RA_VERSION_MINOR")
	ma, err1 := strconv.Atoi(major)
	mi, err2 := strconv.Atoi(minor)
	return err1 == nil && err2 == nil && (ma > 1 || ma == 1 && mi >= 1)
}

// codeNames names the exit codes in messages.
var codeNames = map[int]string{
	Success: "OCF_SUCCESS", ErrGeneric: "OCF_ERR_GENERIC", ErrArgs: "OCF_ERR_ARGS",
	ErrUnimplemented: "OCF_ERR_UNIMPLEMENTED", ErrPerm: "OCF_ERR_PERM", ErrInstalled: "OCF_ERR_INSTALLED",
	ErrConfigured: "OCF_ERR_CONFIGURED", NotRunning: "OCF_NOT_RUNNING", Degraded: "OCF_DEGRADED",
}

// CodeName returns the OCF name of an exit code.
func CodeName(code int) string {
	if n, ok := codeNames[code]; ok {
		return n
	}
	return fmt.Sprintf("exit code %d", code)
}

// Error is an action's failure: the exit code and the one-line reason
// given to Pacemaker as the exit reason.
type Error struct {
	Code   int
	Reason string
}

func (e *Error) Error() string { return e.Reason }

// Errorf returns an *Error with the given exit code.
func Errorf(code int, format string, a ...any) *Error {
	return &Error{Code: code, Reason: fmt.Sprintf(format, a...)}
}

// CodeOf returns the exit code of an action's error: nil is Success, an
// *Error its code, anything else ErrGeneric.
func CodeOf(err error) int {
	if err == nil {
		return Success
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ErrGeneric
}
