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
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the command, which is in parentheses and may
	// itself hold spaces and parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return false
	}
	state := s[i+2]
	return state != 'Z' && state != 'X'
}
