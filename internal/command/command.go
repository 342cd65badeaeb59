// Package command is the o2cb-ra command line: the subcommands of the
// multi-call binary, each a *cli.Command, and Run, which main calls.
//
//	o2cb-ra version
//	o2cb-ra slots /dev/sdb1            # the heartbeat slots as on disk
//	o2cb-ra heartbeat --node 1 IMG...  # heartbeat in the foreground
package command

import (
	"errors"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/o2cb-ra/o2cb-ra/internal/ocf"
	"github.com/o2cb-ra/o2cb-ra/internal/version"
)

// Run runs the o2cb-ra command line with args (args[0] is the program
// name) and env, the process environment, and returns the exit status.
func Run(args []string, env ocf.Env, stdout, stderr io.Writer) int {
	a := App()
	a.Metadata[envKey], a.Writer, a.ErrWriter = env, stdout, stderr
	err := a.Run(args)
	if err == nil {
		return 0
	}
	if msg := err.Error(); msg != "" {
		fmt.Fprintf(stderr, "o2cb-ra: %s\n", msg)
	}
	var coder cli.ExitCoder
	if errors.As(err, &coder) && coder.ExitCode() != 0 {
		return coder.ExitCode()
	}
	return 1
}

// App is the command line, writing to nothing until Run sets its
// environment and output.
func App() *cli.App {
	return &cli.App{
		Metadata:  map[string]any{},
		Name:      "o2cb-ra",
		Usage:     "OCFS2 o2cb cluster and disk heartbeat as Pacemaker resources",
		Version:   version.Version,
		Writer:    io.Discard,
		ErrWriter: io.Discard,
		Commands:  []*cli.Command{versionCommand, agentCommand, daemonCommand, statusCommand, metricsCommand, slotsCommand, heartbeatCommand},
		// Keep cli.Exit codes: v2 type-asserts the error rather than
		// unwrapping it, so errors go back to Run untouched.
		ExitErrHandler:  func(*cli.Context, error) {},
		HideHelpCommand: true,
	}
}

var versionCommand = &cli.Command{
	Name:  "version",
	Usage: "print the version",
	Action: func(c *cli.Context) error {
		fmt.Fprintf(c.App.Writer, "o2cb-ra %s\n", version.Version)
		return nil
	},
}
