package hbclient

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"syscall"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/rundir"
)

// ErrNotRunning is returned when no daemon answers on the socket.
var ErrNotRunning = errors.New("the o2cb heartbeat daemon is not running (start the o2cb resource first)")

// ErrNoAnswer is returned when the daemon closes the connection without
// answering, as it does when it dies: the request may or may not have
// taken effect.
var ErrNoAnswer = errors.New("no answer from the heartbeat daemon")

// noAnswerError is ErrNoAnswer with the socket and the operation.
type noAnswerError struct{ socket, op string }

func (e *noAnswerError) Error() string {
	return fmt.Sprintf("the heartbeat daemon on %s hung up without answering %s (did it die? see its log); the %s may or may not have taken effect",
		e.socket, e.op, e.op)
}

func (e *noAnswerError) Is(target error) bool { return target == ErrNoAnswer }

// Client talks to the daemon of one run directory. Each call is one
// connection, bounded by the context and by Timeout.
type Client struct {
	Socket  string
	Timeout time.Duration // per call when ctx has no earlier deadline; 10s if 0
}

// NewClient returns a client for the daemon of runDir.
func NewClient(runDir string) *Client {
	return &Client{Socket: filepath.Join(runDir, rundir.SocketName)}
}

// Do sends req and returns the daemon's response. A failed request is an
// error that errors.Is matches against ErrCode(code); no daemon is
// ErrNotRunning.
func (c *Client) Do(ctx context.Context, req Request) (*Response, error) {
	timeout := c.Timeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", c.Socket)
	if err != nil {
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("%w: no daemon on %s", ErrNotRunning, c.Socket)
		}
		return nil, fmt.Errorf("connect to the heartbeat daemon on %s: %w", c.Socket, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
		if req.Timeout == 0 {
			req.Timeout = int(time.Until(dl) / time.Millisecond)
		}
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	req.V = ProtocolVersion
	if err := WriteMessage(conn, req, MaxMessageBytes); err != nil {
		// The daemon may have answered and hung up before reading, as it
		// does for a peer it refuses: its answer says why.
		var resp Response
		if rerr := ReadMessage(bufio.NewReader(conn), &resp, MaxResponseBytes); rerr == nil && resp.Error != nil {
			return &resp, resp.Error
		}
		return nil, fmt.Errorf("send %s request to the heartbeat daemon on %s: %w", req.Op, c.Socket, err)
	}
	var resp Response
	if err := ReadMessage(bufio.NewReader(conn), &resp, MaxResponseBytes); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("the heartbeat daemon on %s did not answer %s in time: %w", c.Socket, req.Op, context.Cause(ctx))
		}
		if errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) {
			return nil, &noAnswerError{socket: c.Socket, op: req.Op}
		}
		return nil, fmt.Errorf("read the heartbeat daemon's answer to %s on %s: %w", req.Op, c.Socket, err)
	}
	if !resp.OK {
		if resp.Error == nil {
			return &resp, &Error{Code: CodeBadRequest, Message: "daemon answered neither ok nor an error"}
		}
		return &resp, resp.Error
	}
	return &resp, nil
}

// Status returns the daemon's status.
func (c *Client) Status(ctx context.Context) (*Status, error) {
	resp, err := c.Do(ctx, Request{Op: OpStatus})
	if err != nil {
		return nil, err
	}
	if resp.Status == nil {
		return nil, errors.New("heartbeat daemon sent a status answer without status")
	}
	return resp.Status, nil
}

// Health returns the part of the daemon's status a monitor judges by
// (Health), as a Status whose other fields are zero. A daemon from before
// OpHealth, still running after an upgrade, is asked for its whole status.
func (c *Client) Health(ctx context.Context) (*Status, error) {
	resp, err := c.Do(ctx, Request{Op: OpHealth})
	if errors.Is(err, ErrCode(CodeBadRequest)) {
		return c.Status(ctx)
	}
	if err != nil {
		return nil, err
	}
	if resp.Health == nil {
		return nil, errors.New("heartbeat daemon sent a health answer without health")
	}
	return resp.Health.Status(), nil
}

// Ping asks whether the daemon is there; it answers with its node,
// cluster, mode and pid (the other fields of Status are zero).
func (c *Client) Ping(ctx context.Context) (*Status, error) {
	resp, err := c.Do(ctx, Request{Op: OpPing})
	if err != nil {
		return nil, err
	}
	if resp.Status == nil {
		return nil, errors.New("heartbeat daemon sent a ping answer without status")
	}
	return resp.Status, nil
}
