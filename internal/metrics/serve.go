package metrics

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// Serve answers HTTP requests on ln until ctx ends: GET (or HEAD)
// /metrics with what write writes, anything else with 404 or 405. Each
// connection carries one request (Connection: close), read within 5 s,
// headers at most 8 KiB; a Prometheus scrape is one GET. It is HTTP/1.x
// written here rather than net/http, which would double the size of a
// binary that every agent action starts.
func Serve(ctx context.Context, ln net.Listener, write func(io.Writer) error) error {
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			return err
		}
		go answer(conn, write)
	}
}

// maxHeader bounds a request's line and headers.
const maxHeader = 8 << 10

func answer(conn net.Conn, write func(io.Writer) error) {
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReaderSize(io.LimitReader(conn, maxHeader), 1024)
	line, err := r.ReadString('\n')
	if err != nil {
		return
	}
	method, rest, _ := strings.Cut(strings.TrimRight(line, "\r\n"), " ")
	target, proto, _ := strings.Cut(rest, " ")
	if !strings.HasPrefix(proto, "HTTP/1.") {
		reply(conn, "400 Bad Request", "text/plain", []byte("bad request\n"), false)
		return
	}
	for { // the headers, up to the blank line
		h, err := r.ReadString('\n')
		if err != nil {
			reply(conn, "431 Request Header Fields Too Large", "text/plain", []byte("request headers too large\n"), false)
			return
		}
		if strings.TrimRight(h, "\r\n") == "" {
			break
		}
	}
	path, _, _ := strings.Cut(target, "?")
	switch {
	case path != "/metrics":
		reply(conn, "404 Not Found", "text/plain", []byte("o2cb-ra serves /metrics only\n"), method == "HEAD")
	case method != "GET" && method != "HEAD":
		reply(conn, "405 Method Not Allowed", "text/plain", []byte("GET /metrics\n"), false)
	default:
		var b bytes.Buffer
		if err := write(&b); err != nil {
			reply(conn, "500 Internal Server Error", "text/plain", []byte(err.Error()+"\n"), method == "HEAD")
			return
		}
		reply(conn, "200 OK", ContentType, b.Bytes(), method == "HEAD")
	}
}

func reply(w io.Writer, status, contentType string, body []byte, head bool) {
	fmt.Fprintf(w, "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", status, contentType, len(body))
	if !head {
		w.Write(body)
	}
}
