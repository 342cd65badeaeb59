// Package o2cbfstest lays out the kernel's o2cb files (configfs, debugfs,
// mountinfo) as plain files under a temporary root, for tests of what
// reads and plans from them. What only the kernel does (default groups,
// write-once attributes, EBUSY) is tested in qemu guests.
package o2cbfstest

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/o2cb-ra/o2cb-ra/internal/o2cbfs"
)

// Tree writes cluster c, registered with its regions, under a new root
// and returns the Kernel that reads it.
func Tree(t testing.TB, c o2cbfs.Cluster, regions ...o2cbfs.Region) o2cbfs.Kernel {
	t.Helper()
	k := o2cbfs.Kernel{Root: t.TempDir()}
	cp := func(p ...string) string {
		return filepath.Join(append([]string{o2cbfs.ConfigfsDir, "cluster", c.Name}, p...)...)
	}
	Put(t, k, cp("heartbeat", "mode"), c.Mode)
	Put(t, k, cp("heartbeat", "dead_threshold"), strconv.Itoa(c.DeadThreshold))
	Put(t, k, cp("idle_timeout_ms"), strconv.Itoa(c.IdleTimeoutMS))
	Put(t, k, cp("keepalive_delay_ms"), strconv.Itoa(c.KeepaliveDelayMS))
	Put(t, k, cp("reconnect_delay_ms"), strconv.Itoa(c.ReconnectDelayMS))
	Put(t, k, cp("fence_method"), c.FenceMethod)
	for _, n := range c.Nodes {
		Put(t, k, cp("node", n.Name, "num"), strconv.Itoa(n.Num))
		Put(t, k, cp("node", n.Name, "ipv4_port"), strconv.Itoa(n.Port))
		Put(t, k, cp("node", n.Name, "ipv4_address"), n.Address.String())
		Put(t, k, cp("node", n.Name, "local"), map[bool]string{true: "1", false: "0"}[n.Local])
	}
	for _, r := range regions {
		rp := func(a string) string { return cp("heartbeat", r.UUID, a) }
		Put(t, k, rp("block_bytes"), strconv.Itoa(r.BlockBytes))
		Put(t, k, rp("start_block"), strconv.FormatUint(r.StartBlock, 10))
		Put(t, k, rp("blocks"), strconv.Itoa(r.Blocks))
		Put(t, k, rp("dev"), r.Dev)
		pid := ""
		if r.Pid > 0 {
			pid = strconv.Itoa(r.Pid)
		}
		Put(t, k, rp("pid"), pid)
	}
	Put(t, k, "/proc/self/mountinfo", "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw")
	return k
}

// Put writes one file of the tree, with the kernel's trailing newline.
func Put(t testing.TB, k o2cbfs.Kernel, p, v string) {
	t.Helper()
	full := filepath.Join(k.Root, p)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(v+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Mount adds an OCFS2 mount of device on dir to the tree's mountinfo.
func Mount(t testing.TB, k o2cbfs.Kernel, device, dir string) {
	t.Helper()
	p := filepath.Join(k.Root, "/proc/self/mountinfo")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	line := "40 22 254:16 / " + dir + " rw,relatime shared:20 - ocfs2 " + device + " rw,heartbeat=global\n"
	if err := os.WriteFile(p, append(b, line...), 0o644); err != nil {
		t.Fatal(err)
	}
}

// LiveNodes writes debugfs' o2hb/<uuid>/livenodes as the kernel prints it.
func LiveNodes(t testing.TB, k o2cbfs.Kernel, uuid string, nodes ...int) {
	t.Helper()
	var b strings.Builder
	for _, n := range nodes {
		b.WriteString(strconv.Itoa(n) + " ")
	}
	Put(t, k, filepath.Join(o2cbfs.DebugfsDir, "o2hb", uuid, "livenodes"), b.String())
}

// Snapshot is every file of the tree with its content, to show that an
// action changed nothing in the kernel's files (the lock under /run is
// not one of them).
func Snapshot(t testing.TB, k o2cbfs.Kernel) string {
	t.Helper()
	var b strings.Builder
	err := filepath.Walk(k.Root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if fi.IsDir() && p == filepath.Join(k.Root, "run") {
			return filepath.SkipDir
		}
		if fi.IsDir() {
			b.WriteString(strings.TrimPrefix(p, k.Root) + "/ ")
			return nil
		}
		data, err := os.ReadFile(p)
		b.WriteString(strings.TrimPrefix(p, k.Root) + "=" + strings.TrimSpace(string(data)) + " ")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}
