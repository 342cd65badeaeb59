package hbctl

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/o2cb-ra/o2cb-ra/internal/hbdisk"
	"github.com/o2cb-ra/o2cb-ra/internal/o2cbfs"
	"github.com/o2cb-ra/o2cb-ra/internal/ocfs2"
)

// EnvBackend selects who heartbeats: "kernel" (the kernel's o2hb through
// configfs), "userspace" or "observer" (the node's heartbeat daemon), or
// "auto"/unset: the kernel when a cluster is registered in configfs,
// else the daemon. The kernel's umount call comes with no such variable,
// and the registration decides.
const EnvBackend = "O2CB_HEARTBEAT_BACKEND"

// useKernel decides the backend of a region action.
func useKernel(k o2cbfs.Kernel, env func(string) string) (bool, error) {
	switch v := env(EnvBackend); v {
	case "kernel":
		return true, nil
	case "userspace", "observer":
		return false, nil
	case "", "auto":
		c, err := k.Registered()
		return c != nil && err == nil, nil
	default:
		return false, fmt.Errorf("%s=%q: want auto, kernel, userspace or observer", EnvBackend, v)
	}
}

// kernelAction runs -S, -K, -I or -P on the kernel's o2hb. In local
// heartbeat mode -S and -K count references as ocfs2-tools' mount.ocfs2
// does, so that both count the same mounts; in global mode they act only
// for the cluster (O2CB_HEARTBEAT_OWNER=global) and otherwise succeed
// without a change, as ocfs2-tools does.
func kernelAction(k o2cbfs.Kernel, r request, env func(string) string, stdout, stderr io.Writer) error {
	mode, err := k.Mode()
	if err != nil {
		return fmt.Errorf("the kernel's o2cb cluster: %w", err)
	}
	global := mode == "global"
	if r.device != "" && r.uuid == "" {
		sb, err := ocfs2.Probe(r.device)
		if err != nil {
			return err
		}
		r.uuid = sb.UUID
	}
	if r.action == 'S' || r.action == 'K' {
		// A start or stop the kernel has begun runs to its end, as
		// ocfs2-tools blocks signals: the dev write blocks them on its
		// thread, and these would end the process with the reference
		// count not what the kernel runs.
		sigs := make(chan os.Signal, 4)
		signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
		defer signal.Stop(sigs)
	}
	switch r.action {
	case 'S':
		if global && !r.global {
			return nil
		}
		dev, geo, err := kernelDevice(r, env, stderr)
		if err != nil {
			return err
		}
		if global {
			err = k.StartRegion(r.uuid, dev, geo)
		} else {
			err = k.Join(r.uuid, dev, geo, true)
		}
		if err != nil {
			return fmt.Errorf("cannot start heartbeat region %s in the kernel: %w", r.uuid, err)
		}
		return nil
	case 'K':
		if global && !r.global {
			return nil
		}
		if global {
			err = k.StopRegion(r.uuid)
		} else {
			_, err = k.Leave(r.uuid, true)
		}
		if err != nil {
			return fmt.Errorf("cannot stop heartbeat region %s in the kernel: %w", r.uuid, err)
		}
		return nil
	case 'I':
		reg, rerr := k.Region(r.uuid)
		if r.quiet {
			if rerr == nil && reg.Started() {
				fmt.Fprintln(stdout, "live")
			}
			return nil
		}
		n, err := o2cbfs.CountRefs(r.uuid)
		if err != nil {
			return fmt.Errorf("cannot read the references of region %s: %w", r.uuid, err)
		}
		fmt.Fprintf(stdout, "%s: %d refs\n", r.uuid, n)
		return nil
	case 'P':
		if _, err := k.SetIOPriority(r.uuid, hbdisk.IOPriorityRealtime(r.prio)); err != nil {
			return fmt.Errorf("cannot set the I/O priority of region %s: %w", r.uuid, err)
		}
		return nil
	}
	return fmt.Errorf("unknown action -%c", r.action)
}

// kernelDevice finds the region's device (the one of -d, or the one
// holding the UUID), computes its geometry as libocfs2 does, and makes
// sure it answers: the kernel's start reads the region uninterruptibly.
func kernelDevice(r request, env func(string) string, stderr io.Writer) (string, hbdisk.Geometry, error) {
	warn := func(err error) { fmt.Fprintf(stderr, "%s: warning: %s\n", Name, oneLine(err)) }
	opts := ocfs2.ScanOptions{Extra: ocfs2.SplitDeviceList(env(EnvDevices)), Warn: warn}
	v, err := ocfs2.OpenRegion(r.uuid, r.device, opts, 0)
	if err != nil {
		return "", hbdisk.Geometry{}, err
	}
	return v.Path, v.Heartbeat.Geometry, nil
}
