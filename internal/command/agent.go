package command

import (
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/o2cb-ra/o2cb-ra/agents/hbregion"
	"github.com/o2cb-ra/o2cb-ra/agents/o2cb"
	"github.com/o2cb-ra/o2cb-ra/internal/ocf"
)

// Agents are the OCF agents this binary is, by the name it is installed
// under in the provider directory; each is declared when first called.
var Agents = map[string]func() *ocf.Agent{
	"o2cb":     o2cb.Agent,
	"hbregion": hbregion.Agent,
}

// AgentNames returns the agents' names, sorted.
func AgentNames() []string { return slices.Sorted(maps.Keys(Agents)) }

// Main is the whole binary: args[0] names an agent (a link in the OCF
// provider directory) or else the command line runs.
func Main(args []string, env ocf.Env, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		if a, ok := Agents[filepath.Base(args[0])]; ok {
			return a().Main(args[1:], env, stdout, stderr)
		}
	}
	return Run(args, env, stdout, stderr)
}

// envKey is the process environment's key in the cli.App's Metadata:
// Main gets it once, from main, and the agent command passes it on.
const envKey = "env"

// appEnv is the environment Run was given; none is an empty one.
func appEnv(c *cli.Context) ocf.Env {
	if env, ok := c.App.Metadata[envKey].(ocf.Env); ok && env != nil {
		return env
	}
	return ocf.MapEnv{}
}

var agentCommand = &cli.Command{
	Name:      "agent",
	Usage:     "run an OCF agent's action, as the links in the provider directory do",
	ArgsUsage: "<" + strings.Join(AgentNames(), "|") + "> ACTION",
	Action: func(c *cli.Context) error {
		if c.NArg() != 2 {
			return cli.Exit(fmt.Sprintf("agent: give an agent (%s) and an action", strings.Join(AgentNames(), ", ")), ocf.ErrArgs)
		}
		a, ok := Agents[c.Args().Get(0)]
		if !ok {
			return cli.Exit(fmt.Sprintf("agent: unknown agent %q; known agents: %s", c.Args().Get(0), strings.Join(AgentNames(), ", ")), ocf.ErrArgs)
		}
		if code := a().Main(c.Args().Slice()[1:], appEnv(c), c.App.Writer, c.App.ErrWriter); code != 0 {
			return cli.Exit("", code)
		}
		return nil
	},
}
