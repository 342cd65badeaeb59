package ocfs2

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/bits"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// A read of a hung device (a stalled FUSE file under a loop device, a
// SAN path that stopped answering) blocks its thread in the kernel, and a
// process cannot exit while one of its threads waits in such a read, nor
// while it closes the last descriptor of a block device with a read in
// flight (the kernel then drops the device's page cache, waiting for the
// read): a timeout inside the process would answer, but the process would
// not end. So Probe, Scan and FindByUUID read devices in two steps:
//
//   - In this process, without ever waiting for I/O: preadv2(RWF_NOWAIT)
//     answers from the page cache or fails with EAGAIN, having started
//     the read. A healthy device answers within a few milliseconds, and
//     no child is started.
//   - The devices that have not answered within fastWait (50 ms) go to a child
//     process, this program run again through /proc/self/exe, which
//     inherits their descriptors, reads them as usual and writes one
//     result per device, as each completes, to a pipe of its own. The
//     caller takes what arrives within the timeout and leaves the child
//     behind if a device has not answered; holding the descriptors, the
//     child is the one that waits, and it ends by itself once its reads
//     return (or once it writes to the closed pipe).
//
// The child holds none of the caller's other descriptors: its stdin and
// stderr are /dev/null, its stdout the pipe. What is left unbounded: an
// open(2) of the device itself that hangs (a SCSI device in error
// recovery), a read that cannot get a request slot, and the close of a
// device that answered from the page cache while the kernel's readahead
// beyond it hangs (the last close of a block device waits for its reads).
// The size of a device comes from BLKGETSIZE64, not lseek(2), which waits
// for the device's inode lock while another process's read hangs.

// DefaultProbeTimeout is how long Probe, Scan and FindByUUID wait for the
// devices to answer, from the call; a child slow to start (a loaded
// machine) still gets half of it after its start, within twice it in all.
const DefaultProbeTimeout = 500 * time.Millisecond

// fastWait is how long the devices have to answer in this process before
// the others are left to a child.
const fastWait = 50 * time.Millisecond

// ErrNoAnswer: a device did not answer the read of its superblock in
// time (a hung device, or one slower than the timeout).
var ErrNoAnswer = errors.New("did not answer")

// errNotYet: the data is not in the page cache yet (RWF_NOWAIT), or the
// file cannot be read without waiting (errNoNowait).
var (
	errNotYet   = errors.New("not read yet")
	errNoNowait = fmt.Errorf("%w: no RWF_NOWAIT", errNotYet)
)

// The child's command line: argv[0] says what it is in ps, the marker
// that it is one, then the paths of its descriptors 3, 4, ...
const (
	childName   = "ocfs2-probe"
	childMarker = "--ocfs2-probe-child"
)

// Search modes.
const (
	modeProbe = "probe" // Probe: every error reported
	modeScan  = "scan"  // Scan: paths that are not devices or files skipped
)

// helloIndex is the index of the child's first line, written before it
// reads anything.
const helloIndex = -1

// childWorkers bounds the devices read at once by a child. A hung device
// holds one worker; the others go on with the rest of the list.
const childWorkers = 16

// init turns the process into a probing child when it was started as one,
// whatever program links this package (the agents, ocfs2_hb_ctl, the
// daemon, test binaries): the child runs before main and exits.
func init() {
	if len(os.Args) >= 2 && os.Args[0] == childName && os.Args[1] == childMarker {
		os.Exit(childMain(os.Args[2:], os.Stdout))
	}
	if len(os.Args) == 4 && os.Args[0] == childName && os.Args[1] == openChildMarker {
		os.Exit(openChildMain(os.Args[2], os.Args[3] == "direct", os.Stdout))
	}
}

// Test hooks, set by tests before init runs: childHook is called in the
// child before each path is read; hereHook true leaves a path to the
// child.
var (
	childHook func(path string)
	hereHook  func(path string) bool
)

// result is what a probe says of one path.
type result struct {
	I     int         `json:"i"`
	SB    *Superblock `json:"sb,omitempty"`
	Vol   *Volume     `json:"vol,omitempty"`  // OpenChecked's child
	Skip  bool        `json:"skip,omitempty"` // not a device or file (scan mode)
	Err   string      `json:"err,omitempty"`
	Errno int         `json:"errno,omitempty"` // a syscall.Errno the error wraps
	Is    []string    `json:"is,omitempty"`    // the sentinels (sentinels' keys) it wraps
}

// sentinels are the errors of this package a child's error keeps across
// the pipe, for errors.Is in the caller.
var sentinels = map[string]error{
	"not-ocfs2": ErrNotOCFS2, "truncated": ErrTruncated, "bad-superblock": ErrBadSuperblock,
	"bad-inode": ErrBadInode, "bad-extent-list": ErrBadExtentList, "bad-directory": ErrBadDirectory,
	"no-heartbeat-file": ErrNoHeartbeatFile, "bad-heartbeat-file": ErrBadHeartbeatFile,
	"sector-size": ErrSectorSize, "checksum": ErrChecksum, "other-volume": ErrOtherVolume,
}

// resultOf is the result of path i: sb, or err.
func resultOf(i int, sb *Superblock, err error) *result {
	r := &result{I: i}
	if err == nil {
		r.SB = sb
		return r
	}
	r.Err = err.Error()
	var errno syscall.Errno
	if errors.As(err, &errno) {
		r.Errno = int(errno)
	}
	for k, s := range sentinels {
		if errors.Is(err, s) {
			r.Is = append(r.Is, k)
		}
	}
	return r
}

// readSuperblockOf reads the superblock of the open device or file f,
// naming path in its errors as Probe does.
func readSuperblockOf(r io.ReaderAt, path string, size int64) (*Superblock, error) {
	sb, err := ReadSuperblock(r, size)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return sb, nil
}

// childMain reads the superblocks of descriptors 3, 4, ..., named by
// paths, childWorkers at a time, and writes each result to w as a JSON
// line, as it completes.
func childMain(paths []string, w io.Writer) int {
	var mu sync.Mutex
	enc := json.NewEncoder(w)
	if err := enc.Encode(result{I: helloIndex}); err != nil {
		return 1
	}
	each(paths, func(k int, p string) {
		if childHook != nil {
			childHook(p)
		}
		f := os.NewFile(uintptr(3+k), p)
		var r *result
		fi, err := f.Stat()
		size := int64(0)
		if err == nil {
			size, err = fileSize(f, fi)
		}
		if err != nil {
			r = resultOf(k, nil, fmt.Errorf("%s: finding the size: %w", p, err))
		} else {
			sb, err := readSuperblockOf(f, p, size)
			r = resultOf(k, sb, err)
		}
		f.Close()
		mu.Lock()
		defer mu.Unlock()
		if err := enc.Encode(r); err != nil {
			os.Exit(1) // the caller has gone
		}
	})
	return 0
}

// each calls fn for every path, childWorkers at a time, in list order.
func each(paths []string, fn func(i int, p string)) {
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(childWorkers, len(paths)) {
		wg.Go(func() {
			for i := range next {
				fn(i, paths[i])
			}
		})
	}
	for i := range paths {
		next <- i
	}
	close(next)
	wg.Wait()
}

// pending is a device being read.
type pending struct {
	i     int // in the caller's list
	path  string
	f     *os.File
	size  int64
	retry bool // RWF_NOWAIT may answer later
}

// probeAll probes paths and returns their results by index (nil: no
// answer) once every path has answered, done says enough have, or
// timeout has passed since the start. done may be nil.
func probeAll(mode string, paths []string, timeout time.Duration, done func(got []*result) bool) []*result {
	got := make([]*result, len(paths))
	if timeout <= 0 {
		timeout = DefaultProbeTimeout
	}
	begin := time.Now()
	deadline := begin.Add(timeout)
	enough := func() bool { return done != nil && done(got) }
	var waiting []*pending
	for i, p := range paths {
		if mode == modeScan && !isDeviceOrFile(p) {
			got[i] = &result{I: i, Skip: true}
			continue
		}
		f, size, err := openDevice(p)
		if err != nil {
			got[i] = resultOf(i, nil, err)
			continue
		}
		waiting = append(waiting, &pending{i: i, path: p, f: f, size: size, retry: true})
	}
	// In this process first, never waiting for the device.
	fastEnd := begin.Add(min(fastWait, timeout))
	for step := 100 * time.Microsecond; ; step = min(2*step, 2*time.Millisecond) {
		waiting = readHere(waiting, got)
		if len(waiting) == 0 || enough() || !time.Now().Before(fastEnd) || !slices.ContainsFunc(waiting, func(o *pending) bool { return o.retry }) {
			break
		}
		time.Sleep(step)
	}
	if len(waiting) == 0 {
		return got
	}
	// The rest in a child, which holds their descriptors even when
	// enough have answered: closing the last descriptor of a device
	// with a read in flight waits for the read.
	rd, err := startChild(waiting)
	if err != nil {
		// No child (no /proc?): read here, unbounded.
		each(make([]string, len(waiting)), func(k int, _ string) {
			o := waiting[k]
			sb, err := readSuperblockOf(o.f, o.path, o.size)
			got[o.i] = resultOf(o.i, sb, err)
			o.f.Close()
		})
		return got
	}
	for _, o := range waiting {
		o.f.Close()
	}
	defer rd.Close() // a child still writing dies of SIGPIPE
	// The child says hello before it reads: on a loaded machine its start
	// alone may take much of the timeout, which is the devices' time.
	// It gets half the timeout after its hello, within twice the timeout
	// in all.
	latest := begin.Add(2 * timeout)
	if enough() || rd.SetReadDeadline(latest) != nil {
		return got
	}
	dec := json.NewDecoder(rd)
	for answered := 0; answered < len(waiting); {
		var r result
		if err := dec.Decode(&r); err != nil {
			break // the deadline, or the child's end
		}
		if r.I == helloIndex {
			d := deadline
			if h := time.Now().Add(timeout / 2); h.After(d) {
				d = h
			}
			if d.After(latest) {
				d = latest
			}
			if rd.SetReadDeadline(d) != nil {
				break
			}
			continue
		}
		if r.I < 0 || r.I >= len(waiting) || got[waiting[r.I].i] != nil {
			continue
		}
		r.I = waiting[r.I].i
		got[r.I] = &r
		answered++
		if enough() {
			break
		}
	}
	return got
}

// readHere tries to read the superblocks of waiting without waiting for
// I/O, fills got with those read, closes their files and returns the
// others.
func readHere(waiting []*pending, got []*result) []*pending {
	var still []*pending
	for _, o := range waiting {
		if !o.retry || (hereHook != nil && hereHook(o.path)) {
			o.retry = false
			still = append(still, o)
			continue
		}
		sb, err := readSuperblockOf(nowaitReader{o.f}, o.path, o.size)
		if errors.Is(err, errNotYet) {
			o.retry = !errors.Is(err, errNoNowait)
			still = append(still, o)
			continue
		}
		got[o.i] = resultOf(o.i, sb, err)
		o.f.Close()
	}
	return still
}

// nowaitReader reads with preadv2(RWF_NOWAIT): from the page cache only,
// starting the read of what is missing and failing with errNotYet, never
// waiting for the device.
type nowaitReader struct{ f *os.File }

func (r nowaitReader) ReadAt(p []byte, off int64) (int, error) {
	rc, err := r.f.SyscallConn()
	if err != nil {
		return 0, err
	}
	n := 0
	for n < len(p) {
		var m int
		var rerr error
		if err := rc.Control(func(fd uintptr) {
			m, rerr = unix.Preadv2(int(fd), [][]byte{p[n:]}, off+int64(n), unix.RWF_NOWAIT)
		}); err != nil {
			return n, err
		}
		switch {
		case rerr == syscall.EINTR:
			continue
		case rerr == syscall.EAGAIN:
			return n, errNotYet
		case rerr == syscall.EOPNOTSUPP || rerr == syscall.EINVAL:
			return n, errNoNowait
		case rerr != nil:
			return n, &fs.PathError{Op: "read", Path: r.f.Name(), Err: rerr}
		case m == 0:
			return n, io.EOF
		}
		n += m
	}
	return n, nil
}

// startChild starts the probing child with the files of waiting as its
// descriptors 3, 4, ... and returns the read end of its output.
func startChild(waiting []*pending) (*os.File, error) {
	args := []string{childName, childMarker}
	var files []*os.File
	for _, o := range waiting {
		args = append(args, o.path)
		files = append(files, o.f)
	}
	return runChild(args, files)
}

// runChild starts this program again as a child with args (args[0] its
// name in ps), files as its descriptors 3, 4, ..., stdin and stderr
// /dev/null, and returns the read end of a pipe that is its stdout. It
// is reaped in the background whenever it ends; a caller that exits first
// leaves it to init.
func runChild(args []string, files []*os.File) (*os.File, error) {
	rd, wr, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd := &exec.Cmd{Path: "/proc/self/exe", Args: args, Stdout: wr, ExtraFiles: files}
	err = cmd.Start()
	wr.Close()
	if err != nil {
		rd.Close()
		return nil, err
	}
	go func() { _ = cmd.Wait() }() // only to reap it
	return rd, nil
}

// superblock returns the superblock of a result, or its error rebuilt:
// the child's message, wrapping the same errno and sentinels.
func (r *result) superblock() (*Superblock, error) {
	if r.SB != nil {
		r.SB.setBits()
		return r.SB, nil
	}
	e := &childError{msg: r.Err}
	if r.Errno != 0 {
		e.wrapped = append(e.wrapped, syscall.Errno(r.Errno))
	}
	for _, k := range r.Is {
		if s, ok := sentinels[k]; ok {
			e.wrapped = append(e.wrapped, s)
		}
	}
	if e.msg == "" {
		e.msg = "no superblock read"
	}
	return nil, e
}

// setBits sets what a superblock that crossed a pipe lacks: its shifts.
func (sb *Superblock) setBits() {
	if sb.BlockSize > 0 && sb.ClusterSize > 0 {
		sb.blockBits = uint(bits.TrailingZeros(uint(sb.BlockSize)))
		sb.clusterBits = uint(bits.TrailingZeros(uint(sb.ClusterSize)))
	}
}

// childError is an error of the child, as it was worded there.
type childError struct {
	msg     string
	wrapped []error
}

func (e *childError) Error() string   { return e.msg }
func (e *childError) Unwrap() []error { return e.wrapped }

// noAnswer is the error naming the paths whose result is missing, nil if
// none is.
func noAnswer(paths []string, got []*result, timeout time.Duration) error {
	if timeout <= 0 {
		timeout = DefaultProbeTimeout
	}
	var missing []string
	for i, r := range got {
		if r == nil {
			missing = append(missing, paths[i])
		}
	}
	if len(missing) == 0 {
		return nil
	}
	const most = 8
	names := strings.Join(missing[:min(len(missing), most)], ", ")
	if len(missing) > most {
		names += fmt.Sprintf(" and %d more", len(missing)-most)
	}
	return fmt.Errorf("%s %w within %v (hung?)", names, ErrNoAnswer, timeout)
}

// isDeviceOrFile reports whether p is a block device or regular file: a
// search reads nothing else.
func isDeviceOrFile(p string) bool {
	fi, err := os.Stat(p)
	if err != nil {
		return false
	}
	m := fi.Mode()
	return m.IsRegular() || (m&fs.ModeDevice != 0 && m&fs.ModeCharDevice == 0)
}
