package hbd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
	"github.com/o2cb-ra/o2cb-ra/internal/rundir"
	"golang.org/x/sys/unix"
)

// readTimeout bounds how long a client may take to send its request.
const readTimeout = 5 * time.Second

// Server is a running daemon: the pid lock, the socket and the regions.
type Server struct {
	d      *Daemon
	ln     *net.UnixListener
	pid    *os.File
	wg     sync.WaitGroup
	closed chan struct{}
}

// Listen prepares the run directory, takes the pid lock, resumes the
// regions of the state file (in the background: they settle while the
// socket already answers) and listens on the socket.
func Listen(d *Daemon) (*Server, error) {
	dir := d.cfg.RunDir
	if err := rundir.PrepareRunDir(dir); err != nil {
		return nil, err
	}
	pid, err := rundir.LockPID(dir)
	if err != nil {
		return nil, err
	}
	sock := filepath.Join(dir, rundir.SocketName)
	// We hold the lock: a socket file left there is a dead daemon's.
	if err := os.Remove(sock); err != nil && !os.IsNotExist(err) {
		pid.Close()
		return nil, fmt.Errorf("remove stale socket %s: %w", sock, err)
	}
	old := unix.Umask(0o177)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	unix.Umask(old)
	if err != nil {
		pid.Close()
		return nil, fmt.Errorf("listen on %s: %w", sock, err)
	}
	ln.SetUnlinkOnClose(true)
	if err := os.Chmod(sock, 0o600); err != nil {
		ln.Close()
		pid.Close()
		return nil, err
	}
	s := &Server{d: d, ln: ln, pid: pid, closed: make(chan struct{})}
	if err := d.resume(); err != nil {
		if errors.Is(err, ErrUnsafeState) {
			// Someone put it there: neither read it nor replace it.
			ln.Close()
			pid.Close()
			return nil, err
		}
		d.log.Error("could not resume the regions of the state file", "err", err)
	}
	d.log.Info("heartbeat daemon listening", "socket", sock, "cluster", d.cluster, "mode", d.mode,
		"node", d.node.Name, "number", d.node.Number, "interval", d.cfg.Interval, "dead_threshold", d.cfg.DeadThreshold)
	return s, nil
}

// Serve answers clients until ctx ends, then stops every region cleanly
// and releases the run directory. It returns once the goroutines of the
// server (one per connection and its hang-up watch) and of the daemon
// (Shutdown) have ended.
func (s *Server) Serve(ctx context.Context) error {
	accepting := make(chan struct{})
	s.wg.Go(func() {
		select {
		case <-ctx.Done():
		case <-accepting:
		}
		s.ln.Close()
	})
	var err error
	for {
		conn, aerr := s.ln.AcceptUnix()
		if aerr != nil {
			if ctx.Err() == nil {
				err = aerr
			}
			break
		}
		s.wg.Go(func() { s.handle(ctx, conn) })
	}
	close(accepting)
	s.d.log.Info("heartbeat daemon stopping")
	stopCtx, cancel := context.WithTimeout(context.Background(), 2*s.d.cfg.Interval+10*time.Second)
	defer cancel()
	s.d.Shutdown(stopCtx)
	s.wg.Wait()
	s.pid.Close()
	close(s.closed)
	return err
}

// peerAllowed checks the peer's credentials: root or our own user.
func peerAllowed(conn *net.UnixConn) (uid int, ok bool) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return -1, false
	}
	var cred *unix.Ucred
	var cerr error
	raw.Control(func(fd uintptr) { cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED) })
	if cerr != nil || cred == nil {
		return -1, false
	}
	return int(cred.Uid), cred.Uid == 0 || int(cred.Uid) == os.Geteuid()
}

func (s *Server) handle(ctx context.Context, conn *net.UnixConn) {
	defer conn.Close()
	if uid, ok := peerAllowed(conn); !ok {
		s.d.log.Warn("refused a client that is neither root nor the daemon's user", "uid", uid)
		hbclient.WriteMessage(conn, hbclient.Response{V: hbclient.ProtocolVersion, Error: wireError(fail(ErrPermission, "permission denied: uid %d may not use the heartbeat daemon", uid))}, hbclient.MaxResponseBytes)
		return
	}
	conn.SetReadDeadline(time.Now().Add(readTimeout))
	var req hbclient.Request
	if err := hbclient.ReadMessage(bufio.NewReaderSize(conn, 4096), &req, hbclient.MaxMessageBytes); err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			err = fmt.Errorf("no complete request line within %v", readTimeout)
		}
		hbclient.WriteMessage(conn, hbclient.Response{V: hbclient.ProtocolVersion, Error: wireError(mark(ErrBadRequest, err))}, hbclient.MaxResponseBytes)
		return
	}
	conn.SetReadDeadline(time.Time{})
	// A client that hangs up while its request waits (a start waiting
	// for steady) cancels it: its reference is dropped, not left behind.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.wg.Go(func() {
		var b [1]byte
		conn.Read(b[:]) // returns on hang-up, or when handle closes conn
		cancel()
	})
	resp := s.d.Handle(ctx, req)
	conn.SetWriteDeadline(time.Now().Add(readTimeout))
	if err := hbclient.WriteMessage(conn, resp, hbclient.MaxResponseBytes); err != nil {
		s.d.log.Warn("could not answer a client", "op", req.Op, "err", err)
	}
}
