package hbd

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"
)

// A daemon that dies with a request in flight closes its end: the client
// says so, names the socket, and does not wait for its timeout.
func TestClientDaemonHangsUp(t *testing.T) {
	sock := filepath.Join(t.TempDir(), SocketName)
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		conn.Read(make([]byte, 4096)) // the request
		conn.Close()
	}()
	c := &Client{Socket: sock}
	_, err = c.Do(context.Background(), Request{Op: OpStart, UUID: "0123456789ABCDEF0123456789ABCDEF", Owner: "service:a"})
	if !errors.Is(err, ErrNoAnswer) || !strings.Contains(err.Error(), sock) || !strings.Contains(err.Error(), "start") {
		t.Fatalf("Do(start) against a daemon that hangs up = %v, want ErrNoAnswer naming %s and the operation", err, sock)
	}
}
