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

	"github.com/o2cb-ra/o2cb-ra/internal/hbdisk"
	"github.com/o2cb-ra/o2cb-ra/internal/ocfs2"
)

// PIDName is the pid file's name in the run directory; the daemon holds
// an exclusive lock on it while it runs.
const PIDName = "o2hbd.pid"

// LogName is the log file used when there is no syslog.
const LogName = "o2hbd.log"

// readTimeout bounds how long a client may take to send its request.
const readTimeout = 5 * time.Second

// ErrUnsafeRunDir: the run directory, or a directory above it, could be
// changed by someone other than root (or the daemon's user).
var ErrUnsafeRunDir = errors.New("unsafe run directory")

// PrepareRunDir creates the run directory (0700) if needed and checks it
// is safe: a directory, not a symlink, owned by us, not writable by group
// or others; and every directory above it (symlinks resolved) owned by
// root or us and not writable by group or others unless sticky (as /tmp
// is), since whoever may write there could rename the run directory away
// and put their own in its place. An unsafe directory is ErrUnsafeRunDir.
func PrepareRunDir(dir string) error {
	unsafe := func(format string, a ...any) error {
		return &unsafeError{msg: fmt.Sprintf(format, a...), kind: ErrUnsafeRunDir}
	}
	fi, err := os.Lstat(dir)
	if os.IsNotExist(err) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("run directory %s: %w", dir, err)
		}
		fi, err = os.Lstat(dir)
	}
	if err != nil {
		return fmt.Errorf("run directory %s: %w", dir, err)
	}
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		return unsafe("run directory %s is a symbolic link: give the real directory", dir)
	case !fi.IsDir():
		return unsafe("run directory %s is not a directory (%s)", dir, "a "+ocfs2.FileKind(fi.Mode()))
	}
	st := fi.Sys().(*syscall.Stat_t)
	if int(st.Uid) != os.Geteuid() {
		return unsafe("run directory %s is owned by uid %d, not %d", dir, st.Uid, os.Geteuid())
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return unsafe("run directory %s has mode %04o: it must not be writable by group or others", dir, fi.Mode().Perm())
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("run directory %s: %w", dir, err)
	}
	parent, err := filepath.EvalSymlinks(filepath.Dir(abs))
	if err != nil {
		return fmt.Errorf("run directory %s: %w", dir, err)
	}
	for p := parent; ; p = filepath.Dir(p) {
		pi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("run directory %s: %w", dir, err)
		}
		uid := int(pi.Sys().(*syscall.Stat_t).Uid)
		if uid != 0 && uid != os.Geteuid() {
			return unsafe("run directory %s: %s above it is owned by uid %d, not root", dir, p, uid)
		}
		if pi.Mode().Perm()&0o022 != 0 && pi.Mode()&os.ModeSticky == 0 {
			return unsafe("run directory %s: %s above it has mode %04o: writable by group or others without the sticky bit", dir, p, pi.Mode().Perm())
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

// unsafeError is a message that errors.Is matches to its kind.
type unsafeError struct {
	msg  string
	kind error
}

func (e *unsafeError) Error() string        { return e.msg }
func (e *unsafeError) Is(target error) bool { return target == e.kind }

// lockPID takes the exclusive lock of the pid file and writes our pid.
// A second daemon on the same run directory fails here.
func lockPID(dir string) (*os.File, error) {
	path := filepath.Join(dir, PIDName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0o600)
	if errors.Is(err, unix.ELOOP) {
		return nil, &unsafeError{fmt.Sprintf("pid file %s is a symbolic link: refusing to follow it (remove it)", path), ErrUnsafeRunDir}
	}
	if err != nil {
		return nil, fmt.Errorf("pid file %s: %w", path, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		b := make([]byte, 32)
		n, _ := f.ReadAt(b, 0)
		f.Close()
		return nil, fmt.Errorf("another heartbeat daemon runs on %s (pid %s): %w", dir, trimNL(b[:n]), ErrAlreadyRunning)
	}
	err = f.Truncate(0)
	if err == nil {
		_, err = f.WriteAt([]byte(fmt.Sprintf("%d\n", os.Getpid())), 0)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("pid file %s: %w", path, err)
	}
	return f, nil
}

// ErrAlreadyRunning: a daemon already holds the run directory.
var ErrAlreadyRunning = errors.New("daemon already running")

func trimNL(b []byte) string {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == 0) {
		b = b[:len(b)-1]
	}
	return string(b)
}

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
	if err := PrepareRunDir(dir); err != nil {
		return nil, err
	}
	pid, err := lockPID(dir)
	if err != nil {
		return nil, err
	}
	sock := filepath.Join(dir, SocketName)
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
	st, err := loadState(filepath.Join(d.cfg.RunDir, StateName))
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
		writeMessage(conn, Response{V: ProtocolVersion, Error: reqError(CodePermission, "permission denied: uid %d may not use the heartbeat daemon", uid)}, MaxResponseBytes)
		return
	}
	conn.SetReadDeadline(time.Now().Add(readTimeout))
	var req Request
	if err := readMessage(bufio.NewReaderSize(conn, 4096), &req, MaxMessageBytes); err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			err = fmt.Errorf("no complete request line within %v", readTimeout)
		}
		writeMessage(conn, Response{V: ProtocolVersion, Error: reqError(CodeBadRequest, "%v", err)}, MaxResponseBytes)
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
	if err := writeMessage(conn, resp, MaxResponseBytes); err != nil {
		s.d.log.Warn("could not answer a client", "op", req.Op, "err", err)
	}
}

// Handle answers one request.
func (d *Daemon) Handle(ctx context.Context, req Request) Response {
	resp := Response{V: ProtocolVersion}
	if req.V != ProtocolVersion {
		resp.Error = reqError(CodeVersion, "protocol version %d is not spoken here (version %d is)", req.V, ProtocolVersion)
		return resp
	}
	if req.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(req.Timeout)*time.Millisecond)
		defer cancel()
	}
	var err error
	switch req.Op {
	case OpPing:
		d.mu.Lock()
		resp.Status = &Status{Node: Node{Name: d.node.Name, Number: d.node.Number}, Cluster: d.cluster, Mode: string(d.mode), PID: os.Getpid()}
		d.mu.Unlock()
	case OpStatus:
		resp.Status = d.Status()
	case OpInfo:
		resp.Region, err = d.Info(req.UUID)
	case OpStart:
		resp.Note, err = d.StartRegion(ctx, req.UUID, req.Device, req.Owner, req.Consumer)
		if err == nil && resp.Note == "" {
			resp.Region, _ = d.Info(req.UUID)
		}
	case OpStop:
		resp.Note, err = d.StopRegion(ctx, req.UUID, req.Owner, req.Consumer)
	case OpIOPrio:
		err = d.SetIOPriority(req.UUID, req.Priority)
	case OpReload:
		err = d.Reload()
	default:
		err = reqError(CodeBadRequest, "unknown operation %q", req.Op)
	}
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			e = reqError(CodeIO, "%v", err)
		}
		resp.Error = e
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
		return reqError(CodeBadRequest, "I/O priority %d is outside 0..7", prio)
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
		return reqError(CodeUnknownRegion, "region %s is not running on this node", uuid)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*d.cfg.Interval+5*time.Second)
	defer cancel()
	tid, err := eng.SetIOPriority(ctx, hbdisk.IOPriorityRealtime(prio))
	if err != nil {
		return reqError(CodeIO, "%v", err)
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
