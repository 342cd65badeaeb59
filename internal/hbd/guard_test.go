package hbd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/backend/memsource"
	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
	"github.com/o2cb-ra/o2cb-ra/internal/o2net"
)

// kernelPeer listens on 127.0.0.1 as a kernel node would for a
// higher-numbered node that it sees heartbeat: it sends its handshake on
// accept. It returns its port.
func kernelPeer(t *testing.T) int { return peer(t, true) }

// peer is kernelPeer, or with kernel false a TCP service that accepts
// and sends nothing (another of our daemons' listeners).
func peer(t *testing.T, kernel bool) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	hs := o2net.Timeouts{DeadThreshold: testThreshold, IdleTimeoutMS: 30000, KeepaliveDelayMS: 2000, ReconnectDelayMS: 2000}.Handshake()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			if kernel {
				c.Write(hs.Marshal())
			}
			c.Close()
		}
	}()
	return l.Addr().(*net.TCPAddr).Port
}

// freePort is a TCP port free on 127.0.0.2 a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// A writer that finds a kernel node answering o2net steps back: its
// region stops with a clean-stop block, status says why, and no region
// starts again.
func TestGuardStepsBackFromAKernelPeer(t *testing.T) {
	conf := guardConf(t, kernelPeer(t))
	src := memsource.New()
	disk := src.Add(memUUID1, nil)
	src.Add(memUUID2, nil)
	d := memDaemon(t, conf, "n2", src)
	if _, err := callStart(t, d, memUUID1, "", "service:/mnt", true); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.Guard(t.Context(), Guard{Interval: 20 * time.Millisecond, Timeout: time.Second})
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the guard did not step back within 10 s of a kernel peer answering")
	}
	st := d.Status()
	if !strings.Contains(st.KernelPeer, "kernel node k1 (number 1) answers o2net at 127.0.0.1:") || !strings.Contains(st.KernelPeer, "heartbeat_backend=observer") {
		t.Errorf("status kernel_peer = %q; want the kernel node named and the way out", st.KernelPeer)
	}
	if s := memSlot(disk, 2); s.Generation() != 0 {
		t.Errorf("our slot after stepping back: generation %#x, want the clean-stop block (0)", s.Generation())
	}
	if len(st.Regions) != 1 || st.Regions[0].State == hbclient.StateSteady {
		t.Errorf("region after stepping back: %+v, want it stopped", st.Regions)
	}
	_, err := callStart(t, d, memUUID2, "", "service:/mnt2", true)
	if !errors.Is(err, hbclient.ErrCode(hbclient.CodeKernelPeer)) {
		t.Errorf("a start after stepping back: %v, want kernel_peer", err)
	}
}

// The probes of a round do not wait for each other: behind 30 peers that
// accept and answer nothing (other daemons' listeners), each holding its
// probe for the whole timeout, the kernel node numbered last of them is
// found within a few timeouts, where one probe after another would take
// 30.
func TestGuardProbesARoundInParallel(t *testing.T) {
	const silent, timeout = 30, 300 * time.Millisecond
	var ports []int
	for range silent {
		ports = append(ports, holder(t))
	}
	ports = append(ports, kernelPeer(t))
	conf := guardConfPeers(t, "p", ports)
	src := memsource.New()
	src.Add(memUUID1, nil)
	d := memDaemon(t, conf, fmt.Sprintf("n%d", len(ports)+1), src)
	if _, err := callStart(t, d, memUUID1, "", "service:/mnt", true); err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	ctx, cancel := context.WithTimeout(t.Context(), silent*timeout)
	defer cancel()
	d.Guard(ctx, Guard{Interval: 20 * time.Millisecond, Timeout: timeout})
	took := time.Since(begin)
	st := d.Status()
	want := fmt.Sprintf("kernel node p%d (number %d) answers o2net", len(ports), len(ports))
	if !strings.Contains(st.KernelPeer, want) {
		t.Fatalf("after %v: kernel_peer %q, want %q", took, st.KernelPeer, want)
	}
	if limit := 10 * timeout; took > limit {
		t.Errorf("the kernel node behind %d silent peers was found after %v, want within %v (%d probes of %v one after another take %v)",
			silent, took, limit, silent, timeout, silent*timeout)
	}
}

// holder listens on 127.0.0.1 as another of our daemons does: it accepts
// and holds the connection, sending nothing, until the test ends. It
// returns its port.
func holder(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	t.Cleanup(func() {
		l.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	return l.Addr().(*net.TCPAddr).Port
}

// guardConfPeers is a cluster of <prefix>1..<prefix>N (numbers 1 to N)
// on 127.0.0.1 at the given ports and ourselves, n<N+1>, on 127.0.0.2.
func guardConfPeers(t *testing.T, prefix string, ports []int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "cluster:\n\tname = kp\n\theartbeat_mode = local\n\tnode_count = %d\n", len(ports)+1)
	for i, port := range ports {
		fmt.Fprintf(&b, "\nnode:\n\tcluster = kp\n\tnumber = %d\n\tip_port = %d\n\tip_address = 127.0.0.1\n\tname = %s%d\n", i+1, port, prefix, i+1)
	}
	fmt.Fprintf(&b, "\nnode:\n\tcluster = kp\n\tnumber = %d\n\tip_port = %d\n\tip_address = 127.0.0.2\n\tname = n%d\n", len(ports)+1, freePort(t), len(ports)+1)
	conf := filepath.Join(t.TempDir(), "cluster.conf")
	if err := os.WriteFile(conf, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return conf
}

// guardConf is a cluster of k1 (number 1) on 127.0.0.1:peerPort and
// ourselves, n2, on 127.0.0.2.
func guardConf(t *testing.T, peerPort int) string { return guardConfPeers(t, "k", []int{peerPort}) }

// A peer that is not a kernel (it answers no handshake) leaves the
// writer writing.
func TestGuardIgnoresAPeerWithoutO2net(t *testing.T) {
	conf := guardConf(t, peer(t, false))
	src := memsource.New()
	src.Add(memUUID1, nil)
	d := memDaemon(t, conf, "n2", src)
	if _, err := callStart(t, d, memUUID1, "", "service:/mnt", true); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	d.Guard(ctx, Guard{Interval: 20 * time.Millisecond, Timeout: 100 * time.Millisecond})
	st := d.Status()
	if st.KernelPeer != "" || len(st.Regions) != 1 || st.Regions[0].State != hbclient.StateSteady {
		t.Errorf("after 0.5 s of probing a peer without o2net: kernel_peer %q, regions %+v; want the region steady", st.KernelPeer, st.Regions)
	}
}
