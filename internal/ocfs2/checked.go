package ocfs2

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/o2cb-ra/o2cb-ra/internal/hbdisk"
)

// The kernel's heartbeat start reads every slot of the region before its
// thread runs (o2hb_populate_slot_data, within the write of the region's
// dev attribute), and that read cannot be interrupted: a region handed to
// the kernel on a hung device leaves the writer in uninterruptible sleep,
// and the region half made, until the device answers. OpenRegion makes
// sure first, in a bounded time, that the device answers the same reads.

// DefaultAnswerTimeout is how long OpenRegion waits for a device to
// answer the reads of its volume and of its heartbeat area.
const DefaultAnswerTimeout = 5 * time.Second

// openChildMarker marks the child OpenChecked starts: its arguments are
// the marker, the path of its descriptor 3 (read through the page cache)
// and "direct" when descriptor 4 is the same file opened O_DIRECT, or
// "cached" when the file cannot do direct I/O.
const openChildMarker = "--ocfs2-open-child"

// OpenRegion opens the volume of heartbeat region uuid for a start of its
// heartbeat: on device, or on the device a search with opts finds when
// device is "". The device must answer the reads of its superblock and
// heartbeat file, and a direct read of the whole heartbeat area (what
// the kernel reads first), within timeout (DefaultAnswerTimeout if 0).
// Errors name the device: a search's is a *SearchError, another volume
// on device wraps ErrOtherVolume, a device that does not answer
// ErrNoAnswer.
func OpenRegion(uuid, device string, opts ScanOptions, timeout time.Duration) (*Volume, error) {
	u, err := NormalizeUUID(uuid)
	if err != nil {
		return nil, err
	}
	if device == "" {
		if device, err = FindByUUID(u, opts); err != nil {
			return nil, err
		}
	}
	v, err := OpenChecked(device, timeout)
	if err != nil {
		return nil, err
	}
	if v.UUID != u {
		return nil, fmt.Errorf("%s: %w: volume %s, not %s", device, ErrOtherVolume, v.UUID, u)
	}
	return v, nil
}

// OpenChecked is Open done in a child process, followed there by a
// direct (O_DIRECT) read of the heartbeat area, which no page cache can
// answer for a hung device. It returns within twice timeout
// (DefaultAnswerTimeout if 0): timeout for the child to start, timeout
// for its reads. A device that does not answer in time gives an error
// wrapping ErrNoAnswer; the child is left reading and ends when the
// device answers.
func OpenChecked(path string, timeout time.Duration) (*Volume, error) {
	if timeout <= 0 {
		timeout = DefaultAnswerTimeout
	}
	f, _, err := openDevice(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	files, how := []*os.File{f}, "cached"
	// No direct I/O (a file on tmpfs before Linux 6.6): reads go through
	// the page cache.
	if d, err := os.OpenFile(path, os.O_RDONLY|unix.O_DIRECT|unix.O_CLOEXEC, 0); err == nil {
		defer d.Close()
		files, how = append(files, d), "direct"
	}
	rd, err := runChild([]string{childName, openChildMarker, path, how}, files)
	if err != nil {
		return nil, fmt.Errorf("%s: starting the reading child: %w", path, err)
	}
	defer rd.Close()
	dec := json.NewDecoder(rd)
	for _, what := range []string{"start", "read"} {
		if err := rd.SetReadDeadline(time.Now().Add(timeout)); err != nil {
			return nil, err
		}
		var r result
		if err := dec.Decode(&r); err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) && what == "read" {
				return nil, fmt.Errorf("%s %w the reads of its volume and heartbeat area within %v (hung?)", path, ErrNoAnswer, timeout)
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return nil, fmt.Errorf("%s: the reading child did not start within %v", path, timeout)
			}
			return nil, fmt.Errorf("%s: the reading child ended without an answer: %w", path, err)
		}
		if r.I == helloIndex {
			continue
		}
		if r.Vol == nil {
			_, err := r.superblock()
			return nil, err
		}
		v := r.Vol
		v.Superblock.setBits()
		return v, nil
	}
	return nil, fmt.Errorf("%s: the reading child answered out of turn", path)
}

// openChildMain is the child of OpenChecked: it says hello, opens the
// volume on descriptor 3, reads the heartbeat area on descriptor 4 when
// direct (else 3), and writes the volume or the error as one JSON line.
func openChildMain(path string, direct bool, w io.Writer) int {
	enc := json.NewEncoder(w)
	if err := enc.Encode(result{I: helloIndex}); err != nil {
		return 1
	}
	if childHook != nil {
		childHook(path)
	}
	f := os.NewFile(3, path)
	d := f
	if direct {
		d = os.NewFile(4, path)
	}
	v, err := openChecked(f, d, path)
	r := resultOf(0, nil, err)
	r.Vol = v
	if enc.Encode(r) != nil {
		return 1
	}
	return 0
}

func openChecked(f, d *os.File, path string) (*Volume, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	size, err := fileSize(f, fi)
	if err != nil {
		return nil, fmt.Errorf("%s: finding the size: %w", path, err)
	}
	v, err := openFile(f, path, size)
	if err != nil {
		return nil, err
	}
	g := v.Heartbeat.Geometry
	buf := hbdisk.AlignedBuffer(g.BlockBytes * g.Blocks)
	if _, err := d.ReadAt(buf, int64(g.StartBlock)*int64(g.BlockBytes)); err != nil {
		return nil, fmt.Errorf("%s: reading the heartbeat area (%d blocks of %d bytes from block %d): %w",
			path, g.Blocks, g.BlockBytes, g.StartBlock, err)
	}
	return v, nil
}
