package metrics

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// ask sends a raw request to addr and returns the status line and body.
func ask(t *testing.T, addr, req string) (status, body string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	line, _ := r.ReadString('\n')
	rest, _ := io.ReadAll(r)
	_, b, _ := strings.Cut(string(rest), "\r\n\r\n")
	return strings.TrimSpace(line), b
}

func TestServe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	fail := false
	done := make(chan error)
	go func() {
		done <- Serve(ctx, ln, func(w io.Writer) error {
			if fail {
				return errors.New("no status")
			}
			_, err := io.WriteString(w, "ha_cluster_o2cb_up 1\n")
			return err
		})
	}()
	addr := ln.Addr().String()
	for _, c := range []struct{ req, status, body string }{
		{"GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n", "HTTP/1.1 200 OK", "ha_cluster_o2cb_up 1\n"},
		{"GET /metrics?x=1 HTTP/1.0\r\n\r\n", "HTTP/1.1 200 OK", "ha_cluster_o2cb_up 1\n"},
		{"HEAD /metrics HTTP/1.1\r\n\r\n", "HTTP/1.1 200 OK", ""},
		{"GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 404 Not Found", "o2cb-ra serves /metrics only\n"},
		{"POST /metrics HTTP/1.1\r\n\r\n", "HTTP/1.1 405 Method Not Allowed", "GET /metrics\n"},
		{"hello\r\n\r\n", "HTTP/1.1 400 Bad Request", "bad request\n"},
		{"GET /metrics HTTP/1.1\r\nX: " + strings.Repeat("a", 9000) + "\r\n\r\n", "HTTP/1.1 431 Request Header Fields Too Large", "request headers too large\n"},
	} {
		status, body := ask(t, addr, c.req)
		if status != c.status || body != c.body {
			t.Errorf("%.40q: %q %q, want %q %q", c.req, status, body, c.status, c.body)
		}
	}
	fail = true
	if status, body := ask(t, addr, "GET /metrics HTTP/1.1\r\n\r\n"); status != "HTTP/1.1 500 Internal Server Error" || body != "no status\n" {
		t.Errorf("a failed write: %q %q", status, body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve after its context ended: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after its context ended")
	}
}
