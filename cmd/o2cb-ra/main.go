// Command o2cb-ra is the OCF agents ocf:ocfs2:o2cb and ocf:ocfs2:hbregion
// (by the name it is called under), the node's heartbeat daemon and its
// status tool, in one binary.
package main

import (
	"os"

	"github.com/o2cb-ra/o2cb-ra/internal/command"
	"github.com/o2cb-ra/o2cb-ra/internal/ocf"
)

func main() {
	os.Exit(command.Main(os.Args, ocf.OSEnv(), os.Stdout, os.Stderr))
}
