// Command ocfs2_hb_ctl is the heartbeat layout driver for OCFS2 volumes,
// a drop-in for the ocfs2-tools program of that name. Its logic is in
// internal/hbctl.
package main

import (
	"os"

	"github.com/o2cb-ra/o2cb-ra/internal/hbctl"
)

func main() {
	os.Exit(hbctl.Run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}
