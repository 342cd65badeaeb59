// Command o2cb-ra is the OCF agents ocf:ocfs2:o2cb and ocf:ocfs2:hbregion,
// the node's heartbeat daemon and its status tool, in one binary.
package main

import (
	"os"

	"github.com/o2cb-ra/o2cb-ra/internal/command"
)

func main() {
	os.Exit(command.Run(os.Args, os.Stdout, os.Stderr))
}
