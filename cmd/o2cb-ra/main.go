// Command o2cb-ra is the OCF agents ocf:ocfs2:o2cb and ocf:ocfs2:hbregion
// (by the name it is called under), the node's heartbeat daemon and its
// status tool, in one binary.
//
// GOMAXPROCS is the CPUs the process may run on, not a cgroup's CPU
// quota, and the runtime does not re-read that quota every second: the
// daemon sizes its Ps for its regions itself, and an agent lives for
// milliseconds. (The runtime still reads /proc/self/cgroup and mountinfo
// once at start, to count whether the setting changed the default.)
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
