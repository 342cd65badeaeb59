package qemuguest

import (
	"fmt"
	"io"
	"syscall"
)

// CPIO writes the "newc" cpio format the kernel unpacks as an initramfs.
// Errors stick: the first one is returned by Close (and Err).
type CPIO struct {
	w   io.Writer
	n   int64
	ino int
	err error
}

// NewCPIO returns a writer of an archive to w (for an initramfs, usually
// a gzip.Writer).
func NewCPIO(w io.Writer) *CPIO { return &CPIO{w: w} }

func (c *CPIO) write(b []byte) {
	if c.err != nil {
		return
	}
	var n int
	n, c.err = c.w.Write(b)
	c.n += int64(n)
}

func (c *CPIO) pad() {
	if r := c.n % 4; r != 0 {
		c.write(make([]byte, 4-r))
	}
}

// Add writes one entry: name without a leading slash, mode with its file
// type bits (syscall.S_IFREG...), the device numbers of a device node.
func (c *CPIO) Add(name string, mode uint32, data []byte, rdevMajor, rdevMinor int) {
	c.ino++
	nlink := 1
	if mode&syscall.S_IFMT == syscall.S_IFDIR {
		nlink = 2
	}
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		c.ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rdevMajor, rdevMinor, len(name)+1, 0)
	c.write([]byte(hdr))
	c.write(append([]byte(name), 0))
	c.pad()
	c.write(data)
	c.pad()
}

// Dir adds directories (mode 0755), parents first as given.
func (c *CPIO) Dir(names ...string) {
	for _, n := range names {
		c.Add(n, syscall.S_IFDIR|0o755, nil, 0, 0)
	}
}

// File adds a regular file.
func (c *CPIO) File(name string, perm uint32, data []byte) {
	c.Add(name, syscall.S_IFREG|perm, data, 0, 0)
}

// Symlink adds a symbolic link name -> target.
func (c *CPIO) Symlink(name, target string) {
	c.Add(name, syscall.S_IFLNK|0o777, []byte(target), 0, 0)
}

// Err returns the first write error.
func (c *CPIO) Err() error { return c.err }

// Close writes the trailer and returns the first error; it does not
// close the underlying writer.
func (c *CPIO) Close() error {
	c.Add("TRAILER!!!", 0, nil, 0, 0)
	return c.err
}
