// Command o2cb-ra is the OCF agents ocf:ocfs2:o2cb and ocf:ocfs2:hbregion
// (by the name it is called under), the node's heartbeat daemon and its
// status tool, in one binary.
//
// Agents run as a new process for every action, so the binary starts
// lean: the runtime does not look up the cgroup's CPU limit at start
// (reading /proc/self/cgroup and mountinfo cost an agent action 0.1 to
// 0.3 ms of its 2.5 to 3 ms) nor every second after; GOMAXPROCS is the
// CPUs the process may run on, and the daemon raises it for its regions.
//
//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0
package main

import (
	"os"

	"github.com/o2cb-ra/o2cb-ra/internal/command"
	"github.com/o2cb-ra/o2cb-ra/internal/ocf"
)

func main() {
	os.Exit(command.Main(os.Args, ocf.OSEnv(), os.Stdout, os.Stderr))
}
