package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/clustertest"
	"github.com/o2cb-ra/o2cb-ra/internal/fixture"
	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
	"github.com/o2cb-ra/o2cb-ra/internal/process"
)

// images formats n OCFS2 volumes in dir and returns their UUIDs.
func images(dir string, n int) []string {
	uuids := make([]string, n)
	parallel(n, runtime.NumCPU()*2, func(i int) {
		_, uuid, err := clustertest.Mkfs(fixture.Image{Dir: dir, Name: fmt.Sprintf("v%03d.img", i), SizeMiB: 40,
			Slots: 2, Journal: "size=4M", Label: fmt.Sprintf("v%d", i), Cluster: "bench"})
		if err != nil {
			die("%v", err)
		}
		uuids[i] = uuid
	})
	return uuids
}

// clusterConf writes a cluster.conf with nodes n0..n<count-1>, node i at
// loopback address 127.1.1.i (each daemon listens for kernel nodes on its
// own, and its guard probes the others' as on a real network): in local
// mode, or in global mode with the given heartbeat regions.
func clusterConf(dir string, count int, regions ...string) string {
	path := filepath.Join(dir, "cluster.conf")
	if err := clustertest.WriteClusterConf(path, clustertest.Cluster{Name: "bench", Global: len(regions) > 0,
		Nodes: count, FromZero: true, Subnet: "127.1.1.", Regions: regions}); err != nil {
		die("%v", err)
	}
	return path
}

// node is one daemon process.
type node struct {
	*clustertest.Node
	pid int
}

func (b *bench) startNode(dir, conf, name string, interval time.Duration, threshold int) *node {
	return b.startNodeOf(b.bin, dir, conf, name, interval, threshold)
}

// startNodeOf starts a node with the o2cb-ra of directory bin.
func (b *bench) startNodeOf(bin, dir, conf, name string, interval time.Duration, threshold int) *node {
	n := &node{Node: clustertest.NewNode(clustertest.NodeConfig{Bin: filepath.Join(bin, "o2cb-ra"), Conf: conf, Name: name,
		Run: filepath.Join(dir, "run-"+name), Devices: dir + "/*.img", Interval: interval, Threshold: threshold})}
	pid, err := n.Start()
	if err != nil {
		die("%v", err)
	}
	n.pid = pid
	b.mu.Lock()
	b.pids = append(b.pids, n.pid)
	b.mu.Unlock()
	return n
}

func (n *node) client() *hbclient.Client { return n.Client(time.Minute) }

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
		die("status of %s: %v", n.Run, err)
	}
	return st
}

// kill sends sig to pid and waits until it is gone: SIGKILL after 30 s.
func (b *bench) kill(pid int, sig syscall.Signal) {
	if err := fixture.StopProcess(pid, sig, 30*time.Second); err != nil {
		b.log.Print(err)
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

// unmountAll unmounts the scenarios' file systems; one still busy for a
// moment (a process that used it just ending) is tried again, and
// detached lazily in the end, so that none outlives the bench.
func (b *bench) unmountAll() {
	for _, m := range b.mounts {
		var err error
		var out []byte
		for try := 0; try < 10; try++ {
			if out, err = exec.Command("umount", m).CombinedOutput(); err == nil {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if err != nil {
			b.log.Printf("bench: umount %s: %v: %s; detaching it (umount -l)", m, err, out)
			exec.Command("umount", "-l", m).Run()
		}
	}
	b.mounts = nil
}
