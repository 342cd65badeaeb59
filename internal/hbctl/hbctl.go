// Package hbctl is ocfs2_hb_ctl, the heartbeat layout driver for OCFS2
// volumes and a drop-in for the ocfs2-tools program of that name. It
// starts, stops and inspects heartbeat regions: the kernel's, or those of
// the node's heartbeat daemon (package hbd).
//
// Options are those of ocfs2-tools plus the layout-driver contract:
//
//	-S -d DEVICE SERVICE    add SERVICE's reference to the region of DEVICE,
//	-S -u UUID SERVICE      starting it; returns once it is steady
//	-K -d DEVICE SERVICE    drop SERVICE's reference; the last one gone
//	-K -u UUID [SERVICE]    stops the region (service "ocfs2" by default:
//	                        the kernel runs -K -u UUID at umount)
//	-I [-q] -d|-u           print "UUID: N refs"; with -q print "live" when
//	                        the region is running and steady, else nothing
//	-P -d|-u [-n 0..7]      give the region's I/O thread the real-time I/O
//	                        class at level N (0, the highest, by default)
//	-L [-d DEVICE]          print the UUID of DEVICE, or list every OCFS2
//	                        device found as UUID:DEVICE
//	-V, -h                  version, usage
//
// With O2CB_HEARTBEAT_OWNER=global in the environment (the o2cb agent,
// global heartbeat) -S -u UUID and -K -u UUID act for the cluster and need
// no service. Without it a start or stop is a consumer's call: in a
// global-heartbeat cluster it succeeds and changes nothing, as
// ocfs2-tools does.
//
// Two backends run the regions. Where a cluster is registered in the
// kernel's configfs (the o2cb agent's kernel backend), -S and -K create and
// remove the kernel's heartbeat regions themselves, counting local-mode
// references in the System V semaphores that ocfs2-tools' mount.ocfs2
// counts in; -I reports those, -P sets the priority of the region's o2hb
// kernel thread; no daemon is involved, so the kernel's umount call is
// fast. Elsewhere the node's heartbeat daemon runs them.
// O2CB_HEARTBEAT_BACKEND (kernel, userspace, observer or auto) overrides
// the choice.
//
// Environment: O2CB_RUN_DIR (the daemon's run directory, default
// /run/o2cb), O2CB_HB_DEVICES (paths or globs searched first for a UUID),
// O2CB_HEARTBEAT_OWNER, O2CB_HB_CTL_TIMEOUT (seconds to wait for the
// daemon; default 120 for -S and -K, 10 otherwise).
//
// Success prints nothing but what -I and -L report, and warnings
// ("ocfs2_hb_ctl: warning: <what>" on stderr); every failure is one line
// "ocfs2_hb_ctl: <reason>" on stderr and exit status 1.
//
// The devices searched for -L and -u, and the device of -d, are read with
// a bound (ocfs2.DefaultProbeTimeout): a device that does not answer in
// time (a hung device) is named, in a warning when the volume was found
// elsewhere, else in the failure; -L lists what the others hold and fails
// naming it. The program exits even while such a read hangs.
//
//	os.Exit(hbctl.Run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
package hbctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
	"github.com/o2cb-ra/o2cb-ra/internal/o2cbfs"
	"github.com/o2cb-ra/o2cb-ra/internal/ocfs2"
	"github.com/o2cb-ra/o2cb-ra/internal/rundir"
	"github.com/o2cb-ra/o2cb-ra/internal/version"
)

// Name is the program name used in messages.
const Name = "ocfs2_hb_ctl"

// optSpec is the getopt specification: upstream's ISKPd:u:n:h plus the
// layout driver's L, q and V.
const optSpec = "ISKPLd:u:n:hqV"

// Environment variables read by Run.
const (
	// EnvDevices names extra devices, paths or globs separated by colons
	// or spaces, searched first when scanning for OCFS2 volumes.
	EnvDevices = "O2CB_HB_DEVICES"
	// EnvRunDir is the daemon's run directory (rundir.DefaultRunDir if empty).
	EnvRunDir = "O2CB_RUN_DIR"
	// EnvOwner set to "global" makes -S and -K act for the cluster.
	EnvOwner = "O2CB_HEARTBEAT_OWNER"
	// EnvTimeout is how long to wait for the daemon, in seconds.
	EnvTimeout = "O2CB_HB_CTL_TIMEOUT"
)

// DefaultService is the service of -K -u UUID without one: the kernel's
// call at umount.
const DefaultService = "ocfs2"

// Default waits for the daemon: a start waits until the region is steady
// (the daemon gives up after a bounded number of heartbeat intervals), a
// stop for the clean-stop block.
const (
	startStopTimeout = 120 * time.Second
	queryTimeout     = 10 * time.Second
)

const usage = `Usage: ocfs2_hb_ctl -S -d <device> <service>
       ocfs2_hb_ctl -S -u <uuid> <service>
       ocfs2_hb_ctl -K -d <device> <service>
       ocfs2_hb_ctl -K -u <uuid> [<service>]
       ocfs2_hb_ctl -I [-q] -d <device>
       ocfs2_hb_ctl -I [-q] -u <uuid>
       ocfs2_hb_ctl -P -d <device> [-n <io_priority>]
       ocfs2_hb_ctl -P -u <uuid> [-n <io_priority>]
       ocfs2_hb_ctl -L [-d <device>]
       ocfs2_hb_ctl -V
       ocfs2_hb_ctl -h
-K -u without a service stops service "ocfs2". With O2CB_HEARTBEAT_OWNER=global
-S and -K act for the cluster (global heartbeat) and need no service.
-P sets the real-time I/O class, level 0 (highest, the default) to 7.
Devices searched by -L and -u: $O2CB_HB_DEVICES (paths or globs separated
by colons), /dev/mapper/*, then the devices of /proc/partitions.
`

// request is a parsed command line.
type request struct {
	action  byte // 'S', 'K', 'I', 'P', 'L', or 0
	help    bool
	version bool
	quiet   bool
	device  string
	uuid    string
	prio    int
	hasPrio bool
	service string
	global  bool // O2CB_HEARTBEAT_OWNER=global: -S and -K act for the cluster
}

// owner is the daemon's name for who holds the reference of -S and -K.
func (r request) owner() string {
	if r.global {
		return hbclient.OwnerGlobal
	}
	return "service:" + r.service
}

// usageError is a misuse of the command line: its message, then usage.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// parse turns args into a request and checks the combination of options
// as ocfs2-tools does; ownerEnv is the value of O2CB_HEARTBEAT_OWNER.
func parse(args []string, ownerEnv string) (request, error) {
	opts, operands, err := getopt(args, optSpec)
	if err != nil {
		return request{}, usageError{err.Error()}
	}
	var r request
	for _, o := range opts {
		switch o.Name {
		case 'S', 'K', 'I', 'P', 'L':
			if r.action != 0 && r.action != o.Name {
				return request{}, usageError{fmt.Sprintf("options -%c and -%c cannot be combined", r.action, o.Name)}
			}
			r.action = o.Name
		case 'h':
			r.help = true
		case 'V':
			r.version = true
		case 'q':
			r.quiet = true
		case 'd':
			r.device = o.Arg
		case 'u':
			r.uuid = o.Arg
		case 'n':
			n, err := strconv.Atoi(o.Arg)
			if err != nil || n < 0 || n > 7 {
				return request{}, usageError{fmt.Sprintf("I/O priority %q is not 0 to 7", o.Arg)}
			}
			r.prio, r.hasPrio = n, true
		}
	}
	if r.help || r.version {
		return r, nil
	}
	switch len(operands) {
	case 0:
	case 1:
		r.service = operands[0]
	default:
		return request{}, usageError{fmt.Sprintf("one service argument at most, got %q", operands)}
	}
	switch {
	case r.action == 0:
		return request{}, usageError{"no action given (-S, -K, -I, -P or -L)"}
	case r.quiet && r.action != 'I':
		return request{}, usageError{"-q goes with -I"}
	case r.hasPrio && r.action != 'P':
		return request{}, usageError{"-n goes with -P"}
	}
	if r.action == 'L' {
		switch {
		case r.uuid != "":
			return request{}, usageError{"-L takes -d <device>, not -u"}
		case r.service != "":
			return request{}, usageError{fmt.Sprintf("-L takes no service argument, got %q", r.service)}
		}
		return r, nil
	}
	if (r.uuid == "") == (r.device == "") {
		return request{}, usageError{fmt.Sprintf("-%c needs exactly one of -d <device> and -u <uuid>", r.action)}
	}
	switch r.action {
	case 'I', 'P':
		if r.service != "" {
			return request{}, usageError{fmt.Sprintf("-%c takes no service argument, got %q", r.action, r.service)}
		}
	case 'S', 'K':
		switch ownerEnv {
		case "":
		case hbclient.OwnerGlobal:
			r.global = true
		default:
			return request{}, usageError{fmt.Sprintf("%s=%q: the only owner known is %q", EnvOwner, ownerEnv, hbclient.OwnerGlobal)}
		}
		switch {
		case r.global:
			// The cluster owns the reference; a service is not needed.
		case r.service == "" && r.action == 'S':
			return request{}, usageError{"-S needs a service argument"}
		case r.service == "" && r.uuid == "":
			return request{}, usageError{"-K -d needs a service argument"}
		case r.service == "":
			r.service = DefaultService // the kernel's umount calls -K -u <uuid>
		}
		if !r.global {
			if err := hbclient.ValidOwner(r.owner()); err != nil {
				return request{}, usageError{fmt.Sprintf("service %q: %v", r.service, err)}
			}
		}
	}
	if r.uuid != "" {
		u, err := ocfs2.NormalizeUUID(r.uuid)
		if err != nil {
			return request{}, usageError{err.Error()}
		}
		r.uuid = u
	}
	return r, nil
}

// Run runs ocfs2_hb_ctl with args (without the program name), reading the
// environment through env, and returns the exit status: 0 or 1.
func Run(args []string, env func(string) string, stdout, stderr io.Writer) int {
	r, err := parse(args, env(EnvOwner))
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n%s", Name, err, usage)
		return 1
	}
	switch {
	case r.help:
		fmt.Fprint(stdout, usage)
		return 0
	case r.version:
		fmt.Fprintf(stdout, "%s %s\n", Name, version.Version)
		return 0
	case r.action == 'L' && r.device != "":
		sb, err := ocfs2.Probe(r.device)
		if err != nil {
			return fail(stderr, err)
		}
		fmt.Fprintln(stdout, sb.UUID)
		return 0
	case r.action == 'L':
		found, err := ocfs2.Scan(ocfs2.ScanOptions{Extra: ocfs2.SplitDeviceList(env(EnvDevices))})
		for _, f := range found {
			fmt.Fprintf(stdout, "%s:%s\n", f.UUID, f.Device)
		}
		if err != nil {
			return fail(stderr, err)
		}
		return 0
	}
	var k o2cbfs.Kernel
	kernel, err := useKernel(k, env)
	if err == nil && kernel {
		err = kernelAction(k, r, env, stdout, stderr)
	} else if err == nil {
		err = regionAction(r, env, stdout, stderr)
	}
	if err != nil {
		return fail(stderr, err)
	}
	return 0
}

// fail prints err as the one line of a failure and returns exit status 1.
func fail(stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "%s: %s\n", Name, oneLine(err))
	return 1
}

// regionAction runs -S, -K, -I or -P through the daemon.
func regionAction(r request, env func(string) string, stdout, stderr io.Writer) error {
	timeout := queryTimeout
	if r.action == 'S' || r.action == 'K' {
		timeout = startStopTimeout
	}
	if s := env(EnvTimeout); s != "" {
		secs, err := strconv.ParseFloat(s, 64)
		if err != nil || !(secs > 0) || secs > math.MaxInt32/1000 {
			return fmt.Errorf("%s=%q: want a number of seconds above 0", EnvTimeout, s)
		}
		timeout = time.Duration(secs * float64(time.Second))
	}
	if r.device != "" {
		sb, err := ocfs2.Probe(r.device)
		if err != nil {
			return err
		}
		r.uuid = sb.UUID
	} else if r.action == 'S' {
		// Find the device as the daemon would, but with our own
		// O2CB_HB_DEVICES; if we find none the daemon searches its list.
		warn := func(err error) { fmt.Fprintf(stderr, "%s: warning: %s\n", Name, oneLine(err)) }
		dev, err := ocfs2.FindByUUID(r.uuid, ocfs2.ScanOptions{Extra: ocfs2.SplitDeviceList(env(EnvDevices)), Warn: warn})
		switch {
		case err == nil:
			r.device = dev
		case errors.Is(err, ocfs2.ErrNoAnswer):
			warn(err)
		}
	}
	if r.device != "" {
		// The daemon does not share our working directory.
		abs, err := filepath.Abs(r.device)
		if err != nil {
			return err
		}
		r.device = abs
	}
	runDir := env(EnvRunDir)
	if runDir == "" {
		runDir = rundir.DefaultRunDir
	}
	client := hbclient.NewClient(runDir)
	// The daemon bounds its own wait by the request's timeout and answers
	// not_steady after stopping what it started; the connection lasts
	// longer, to read that answer.
	client.Timeout = timeout + 2*time.Second
	if r.action == 'S' || r.action == 'K' {
		client.Timeout = timeout + 10*time.Second
	}
	req := hbclient.Request{UUID: r.uuid, Timeout: int(timeout / time.Millisecond)}
	ctx := context.Background()

	switch r.action {
	case 'S', 'K':
		// As ocfs2-tools blocks signals around the call: a start or stop
		// that the daemon has accepted runs to its end, so that the
		// reference count stays what the caller is told.
		sigs := make(chan os.Signal, 4)
		signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
		defer signal.Stop(sigs)
		req.Owner, req.Consumer = r.owner(), !r.global
		what := fmt.Sprintf("start heartbeat region %s", r.uuid)
		req.Op, req.Device = hbclient.OpStart, r.device
		if r.action == 'K' {
			what = fmt.Sprintf("stop heartbeat region %s", r.uuid)
			req.Op, req.Device = hbclient.OpStop, ""
		}
		if r.global {
			what += " for the cluster"
		} else {
			what += fmt.Sprintf(" for service %q", r.service)
		}
		if _, err := client.Do(ctx, req); err != nil {
			msg := reason(err, r)
			if strings.Contains(msg, r.uuid) {
				// The daemon's message names the region already: keep
				// the line short (Pacemaker keeps 128 characters of an
				// exit reason).
				return fmt.Errorf("cannot %s: %s", what[:strings.Index(what, " heartbeat region")], msg)
			}
			return fmt.Errorf("cannot %s: %s", what, msg)
		}
		return nil

	case 'I':
		req.Op = hbclient.OpInfo
		resp, err := client.Do(ctx, req)
		refs, live := 0, false
		switch {
		case err == nil && resp.Region != nil:
			refs, live = resp.Region.Refs, resp.Region.State == hbclient.StateSteady
		case err == nil:
			return fmt.Errorf("the heartbeat daemon answered info on region %s without the region", r.uuid)
		case errors.Is(err, hbclient.ErrCode(hbclient.CodeUnknownRegion)):
		case r.quiet && errors.Is(err, hbclient.ErrNotRunning):
			// A status probe: no daemon, so nothing is live.
		default:
			return fmt.Errorf("cannot read the references of region %s: %s", r.uuid, reason(err, r))
		}
		if r.quiet {
			if live {
				fmt.Fprintln(stdout, "live")
			}
			return nil
		}
		fmt.Fprintf(stdout, "%s: %d refs\n", r.uuid, refs)
		return nil

	case 'P':
		req.Op, req.Priority = hbclient.OpIOPrio, r.prio
		if _, err := client.Do(ctx, req); err != nil {
			return fmt.Errorf("cannot set the I/O priority of region %s: %s", r.uuid, reason(err, r))
		}
		return nil
	}
	return fmt.Errorf("unknown action -%c", r.action)
}

// reason words a failed request for the administrator: the daemon's
// message, said plainly where the code tells more than the message.
func reason(err error, r request) string {
	msg := oneLine(err)
	has := func(s string) bool { return strings.Contains(strings.ToLower(msg), s) }
	switch {
	case errors.Is(err, hbclient.ErrNotRunning):
		return msg
	case errors.Is(err, hbclient.ErrCode(hbclient.CodeCollision)) && !has("collision"):
		return "region in collision: " + msg
	case errors.Is(err, hbclient.ErrCode(hbclient.CodeNotSteady)) && !has("steady"):
		return "the region did not become steady in time: " + msg
	case errors.Is(err, hbclient.ErrCode(hbclient.CodeUnknownRegion)) && r.action == 'S':
		return "no device holds this region: " + msg
	case errors.Is(err, hbclient.ErrCode(hbclient.CodeDeviceMismatch)) && r.device != "" && !has(r.device):
		return fmt.Sprintf("%s is not the region's device: %s", r.device, msg)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return msg + fmt.Sprintf(" (set %s to wait longer)", EnvTimeout)
	}
	return msg
}

// oneLine joins a multi-line error (errors.Join) into one line.
func oneLine(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", "; ")
}
