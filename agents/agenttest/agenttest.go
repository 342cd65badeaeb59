// Package agenttest runs an agent's action in-process, as tests of the
// agents do: parameters and environment from maps, the machine from a
// host.Host of the test's choosing, and the exit code and stderr back;
// and a daemon on a run directory's socket that answers a status of the
// test's choosing (FakeDaemon), or never (SilentDaemon).
//
//	a := o2cb.New(agenttest.Root("n1"))
//	code, stderr := agenttest.Run(t, a, "validate-all", map[string]string{"cluster_conf": conf}, nil)
package agenttest

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/o2cb-ra/o2cb-ra/agents/host"
	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
	"github.com/o2cb-ra/o2cb-ra/internal/ocf"
	"github.com/o2cb-ra/o2cb-ra/internal/rundir"
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

// FakeDaemon answers every request on the socket of runDir with the
// status that status returns (a health request with its health part),
// until the test ends.
func FakeDaemon(t testing.TB, runDir string, status func() *hbclient.Status) {
	t.Helper()
	serve(t, runDir, func(conn net.Conn) {
		var req hbclient.Request
		if err := hbclient.ReadMessage(bufio.NewReader(conn), &req, hbclient.MaxMessageBytes); err != nil {
			return
		}
		resp := hbclient.Response{V: hbclient.ProtocolVersion, OK: true, Status: status()}
		if req.Op == hbclient.OpHealth {
			resp.Health, resp.Status = hbclient.HealthOf(resp.Status), nil
		}
		hbclient.WriteMessage(conn, resp, hbclient.MaxResponseBytes)
	})
}

// SilentDaemon accepts connections on the socket of runDir and never
// answers, until the test ends.
func SilentDaemon(t testing.TB, runDir string) {
	t.Helper()
	done := make(chan struct{})
	serve(t, runDir, func(net.Conn) { <-done })
	t.Cleanup(func() { close(done) }) // before serve's cleanup waits for the handlers
}

// serve listens on runDir's socket and runs handle for each connection,
// then closes it; the listener and every handler end with the test.
func serve(t testing.TB, runDir string, handle func(net.Conn)) {
	t.Helper()
	if err := os.MkdirAll(runDir, 0o700); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", filepath.Join(runDir, rundir.SocketName))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer conn.Close()
				handle(conn)
			})
		}
	})
}
