// Package process tells whether a process runs, the way the daemon's
// stoppers and tests must ask it: a zombie passes kill -0, and nothing may
// reap a detached daemon (in a container, PID 1 often does not).
//
//	for process.Running(pid) { time.Sleep(10 * time.Millisecond) }
package process

import (
	"os"
	"strconv"
	"strings"
)

// Running reports whether pid exists and is neither a zombie nor dead.
func Running(pid int) bool {
	if pid <= 0 {
		return false
	}
	state, ok := state("/proc/" + strconv.Itoa(pid) + "/stat")
	return ok && state != 'Z' && state != 'X'
}

// Stopped reports whether every thread of pid is stopped (SIGSTOP). A
// kill of SIGSTOP returns before that: one thread takes the signal and
// stops the others, and until it runs they go on.
func Stopped(pid int) bool {
	if pid <= 0 {
		return false
	}
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	tasks, err := os.ReadDir(dir)
	if err != nil || len(tasks) == 0 {
		return false
	}
	for _, t := range tasks {
		if s, ok := state(dir + "/" + t.Name() + "/stat"); !ok || s != 'T' && s != 't' {
			return false
		}
	}
	return true
}

// state is the state field of a stat file of /proc.
func state(path string) (byte, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	// The state follows the command, which is in parentheses and may
	// itself hold spaces and parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return 0, false
	}
	return s[i+2], true
}
