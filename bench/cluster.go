package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/clusterconf"
	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
	"github.com/o2cb-ra/o2cb-ra/internal/ocfs2"
	"github.com/o2cb-ra/o2cb-ra/internal/process"
	"github.com/o2cb-ra/o2cb-ra/internal/rundir"
)

// images formats n OCFS2 volumes in dir and returns their UUIDs.
func images(dir string, n int) []string {
	uuids := make([]string, n)
	parallel(n, runtime.NumCPU()*2, func(i int) {
		img := filepath.Join(dir, fmt.Sprintf("v%03d.img", i))
		if err := os.Truncate(img, 0); err != nil && !os.IsNotExist(err) {
			die("%v", err)
		}
		f, err := os.Create(img)
		if err != nil {
			die("%v", err)
		}
		f.Truncate(40 << 20)
		f.Close()
		cmd := exec.Command("mkfs.ocfs2", "-q", "-F", "-b", "4096", "-C", "4096", "-N", "2", "-J", "size=4M",
			"-L", fmt.Sprintf("v%d", i), "--cluster-stack=o2cb", "--cluster-name=bench", "--global-heartbeat", img)
		if o, err := cmd.CombinedOutput(); err != nil {
			die("mkfs.ocfs2 %s: %v\n%s", img, err, o)
		}
		sb, err := ocfs2.Probe(img)
		if err != nil {
			die("%v", err)
		}
		uuids[i] = sb.UUID
	})
	return uuids
}

// clusterConf writes a cluster.conf with nodes n0..n<count-1>, with the
// project's own writer: in local mode, or in global mode with the given
// heartbeat regions.
func clusterConf(dir string, count int, regions ...string) string {
	var conf clusterconf.Config
	mode := clusterconf.ModeLocal
	if len(regions) > 0 {
		mode = clusterconf.ModeGlobal
	}
	cl, err := conf.AddCluster("bench", mode)
	if err != nil {
		die("%v", err)
	}
	for _, u := range regions {
		if _, err := cl.AddRegion(u, ""); err != nil {
			die("%v", err)
		}
	}
	for n := range count {
		node := clusterconf.Node{Name: fmt.Sprintf("n%d", n), Number: n, Address: netip.MustParseAddr("127.0.0.1"), Port: 7777}
		if _, err := cl.AddNode(node); err != nil {
			die("%v", err)
		}
	}
	path := filepath.Join(dir, "cluster.conf")
	if err := conf.WriteFile(path); err != nil {
		die("%v", err)
	}
	return path
}

// node is one daemon process.
type node struct {
	run string
	env []string
	pid int
}

func (b *bench) startNode(dir, conf, name string, interval time.Duration, threshold int) *node {
	n := &node{run: filepath.Join(dir, "run-"+name)}
	n.env = append(os.Environ(), "O2CB_CLUSTER_CONF="+conf, "O2CB_NODE_NAME="+name, "O2CB_RUN_DIR="+n.run,
		"O2CB_HB_DEVICES="+dir+"/*.img", "O2CB_HEARTBEAT_INTERVAL_MS="+strconv.Itoa(int(interval/time.Millisecond)),
		"O2CB_DEAD_THRESHOLD="+strconv.Itoa(threshold))
	cmd := exec.Command(filepath.Join(b.bin, "o2cb-ra"), "daemon")
	cmd.Env = n.env
	if o, err := cmd.CombinedOutput(); err != nil {
		die("o2cb-ra daemon as %s: %v\n%s", name, err, o)
	}
	pb, err := os.ReadFile(filepath.Join(n.run, rundir.PIDName))
	if err != nil {
		die("%v", err)
	}
	n.pid, _ = strconv.Atoi(strings.TrimSpace(string(pb)))
	b.mu.Lock()
	b.pids = append(b.pids, n.pid)
	b.mu.Unlock()
	return n
}

func (n *node) client() *hbclient.Client {
	c := hbclient.NewClient(n.run)
	c.Timeout = time.Minute
	return c
}

func (n *node) start(uuid string) time.Duration {
	begin := time.Now()
	if _, err := n.client().Do(context.Background(), hbclient.Request{Op: hbclient.OpStart, UUID: uuid, Owner: "service:bench", Consumer: true}); err != nil {
		die("start %s: %v", uuid, err)
	}
	return time.Since(begin)
}

func (n *node) stop(uuid string) {
	if _, err := n.client().Do(context.Background(), hbclient.Request{Op: hbclient.OpStop, UUID: uuid, Owner: "service:bench", Consumer: true}); err != nil {
		die("stop %s: %v", uuid, err)
	}
}

func (n *node) status() *hbclient.Status {
	st, err := n.client().Status(context.Background())
	if err != nil {
		die("status of %s: %v", n.run, err)
	}
	return st
}

func (b *bench) kill(pid int, sig syscall.Signal) {
	syscall.Kill(pid, sig)
	for deadline := time.Now().Add(30 * time.Second); process.Running(pid) && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if process.Running(pid) {
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

func (b *bench) stopAll() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, pid := range b.pids {
		if process.Running(pid) {
			b.kill(pid, syscall.SIGTERM)
		}
	}
	b.pids = nil
}

func (b *bench) unmountAll() {
	for _, m := range b.mounts {
		exec.Command("umount", m).Run()
	}
	b.mounts = nil
}
