// Package agenttest runs an agent's action in-process, as tests of the
// agents do: parameters and environment from maps, the machine from a
// host.Host of the test's choosing, and the exit code and stderr back.
//
//	a := o2cb.New(agenttest.Root("n1"))
//	code, stderr := agenttest.Run(t, a, "validate-all", map[string]string{"cluster_conf": conf}, nil)
package agenttest

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/o2cb-ra/o2cb-ra/agents/host"
	"github.com/o2cb-ra/o2cb-ra/internal/ocf"
)

// Root is a machine where the agent runs as root on the host hostname.
func Root(hostname string) host.Host {
	return host.Host{Euid: func() int { return 0 }, Hostname: func() (string, error) { return hostname, nil }}
}

// User is a machine where the agent runs as uid, on the host hostname.
func User(uid int, hostname string) host.Host {
	return host.Host{Euid: func() int { return uid }, Hostname: func() (string, error) { return hostname, nil }}
}

// NoHostname is a machine where root's host name cannot be read.
func NoHostname() host.Host {
	return host.Host{Euid: func() int { return 0 }, Hostname: func() (string, error) { return "", errors.New("no host name") }}
}

// Run runs action of a with params (OCF_RESKEY_<name>) and env, messages
// logged to stderr only, and returns the exit code and stderr.
func Run(t testing.TB, a *ocf.Agent, action string, params, env map[string]string) (int, string) {
	t.Helper()
	e := ocf.MapEnv{"HA_LOGFACILITY": "none"}
	for k, v := range params {
		e["OCF_RESKEY_"+k] = v
	}
	for k, v := range env {
		e[k] = v
	}
	var stderr strings.Builder
	code := a.Main([]string{action}, e, io.Discard, &stderr)
	return code, stderr.String()
}
