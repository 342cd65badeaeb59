package hbd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
	"github.com/o2cb-ra/o2cb-ra/internal/hbdisk"
	"github.com/o2cb-ra/o2cb-ra/internal/rundir"
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

// resume starts every region of the state file with its owners, each in
// the background with a new generation.
func (d *Daemon) resume() error {
	st, err := loadState(filepath.Join(d.cfg.RunDir, rundir.StateName))
	if err != nil {
		return err
	}
	for _, sr := range st.Regions {
		vol, err := d.resolve(sr.UUID, sr.Device)
		if err != nil {
			// The device may have moved: search by UUID.
			if vol, err = d.resolve(sr.UUID, ""); err != nil {
				d.log.Error("cannot resume region", "region", sr.UUID, "device", sr.Device, "err", err)
				continue
			}
		}
		d.mu.Lock()
		r := &region{uuid: sr.UUID, device: vol.Path, vol: vol, owners: sr.Owners}
		d.regions[sr.UUID] = r
		d.ensureRunning(r)
		d.mu.Unlock()
		d.log.Info("resuming region", "region", sr.UUID, "device", vol.Path, "owners", ownerList(sr.Owners))
	}
	d.mu.Lock()
	d.saveLocked()
	d.mu.Unlock()
	return nil
}

// Serve answers clients until ctx ends, then stops every region cleanly
// and releases the run directory.
func (s *Server) Serve(ctx context.Context) error {
	go func() {
		<-ctx.Done()
		s.ln.Close()
	}()
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
	go func() {
		var b [1]byte
		conn.Read(b[:]) // returns on hang-up, or when handle closes conn
		cancel()
	}()
	resp := s.d.Handle(ctx, req)
	conn.SetWriteDeadline(time.Now().Add(readTimeout))
	if err := hbclient.WriteMessage(conn, resp, hbclient.MaxResponseBytes); err != nil {
		s.d.log.Warn("could not answer a client", "op", req.Op, "err", err)
	}
}

// Handle answers one request.
func (d *Daemon) Handle(ctx context.Context, req hbclient.Request) hbclient.Response {
	resp := hbclient.Response{V: hbclient.ProtocolVersion}
	if req.V != hbclient.ProtocolVersion {
		resp.Error = wireError(fail(ErrVersion, "protocol version %d is not spoken here (version %d is)", req.V, hbclient.ProtocolVersion))
		return resp
	}
	if req.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(req.Timeout)*time.Millisecond)
		defer cancel()
	}
	var err error
	switch req.Op {
	case hbclient.OpPing:
		d.mu.Lock()
		resp.Status = &hbclient.Status{Node: hbclient.Node{Name: d.node.Name, Number: d.node.Number}, Cluster: d.cluster, Mode: string(d.mode), PID: os.Getpid()}
		d.mu.Unlock()
	case hbclient.OpStatus:
		resp.Status = d.Status()
	case hbclient.OpInfo:
		resp.Region, err = d.Info(req.UUID)
	case hbclient.OpStart:
		resp.Note, err = d.StartRegion(ctx, req.UUID, req.Device, req.Owner, req.Consumer)
		if err == nil && resp.Note == "" {
			resp.Region, _ = d.Info(req.UUID)
		}
	case hbclient.OpStop:
		resp.Note, err = d.StopRegion(ctx, req.UUID, req.Owner, req.Consumer)
	case hbclient.OpIOPrio:
		err = d.SetIOPriority(req.UUID, req.Priority)
	case hbclient.OpReload:
		err = d.Reload()
	default:
		err = fail(ErrBadRequest, "unknown operation %q", req.Op)
	}
	if err != nil {
		resp.Error = wireError(err)
		return resp
	}
	resp.OK = true
	return resp
}

// SetIOPriority gives region uuid's I/O thread the real-time I/O class at
// level prio (0 highest, 7 lowest), as ocfs2-tools' ocfs2_hb_ctl -P does
// with ionice -c1.
func (d *Daemon) SetIOPriority(uuid string, prio int) error {
	if prio < 0 || prio > 7 {
		return fail(ErrBadRequest, "I/O priority %d is outside 0..7", prio)
	}
	uuid, err := normalizeOrBad(uuid)
	if err != nil {
		return err
	}
	d.mu.Lock()
	r := d.regions[uuid]
	var eng *hbdisk.Region
	if r != nil {
		eng = r.eng
	}
	d.mu.Unlock()
	if eng == nil {
		return regionFail(uuid, ErrUnknownRegion, "not running on this node")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*d.cfg.Interval+5*time.Second)
	defer cancel()
	tid, err := eng.SetIOPriority(ctx, hbdisk.IOPriorityRealtime(prio))
	if err != nil {
		return mark(ErrIO, err)
	}
	d.log.Info("I/O priority raised", "region", uuid, "thread", tid, "class", "realtime", "level", prio)
	return nil
}

// Run runs the daemon in the foreground until SIGTERM or SIGINT.
func Run(ctx context.Context, d *Daemon, ready func(error)) error {
	s, err := Listen(d)
	if ready != nil {
		ready(err)
	}
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return s.Serve(ctx)
}
