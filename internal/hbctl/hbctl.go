// Package hbctl is ocfs2_hb_ctl, the heartbeat layout driver for OCFS2
// volumes and a drop-in for the ocfs2-tools program of that name.
//
// Options are those of ocfs2-tools (-S, -K, -I, -P, -d, -u, -n, -h and a
// service argument) plus the layout-driver contract: -L -d DEVICE prints
// the volume's UUID, -L alone lists every OCFS2 device found as
// UUID:DEVICE, -I -q prints "live" for an active region, and -V prints the
// version. So far only -L, -h and -V act; the region actions answer that
// they are not available yet.
//
//	os.Exit(hbctl.Run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
package hbctl

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/o2cb-ra/o2cb-ra/internal/ocfs2"
	"github.com/o2cb-ra/o2cb-ra/internal/version"
)

// Name is the program name used in messages.
const Name = "ocfs2_hb_ctl"

// optSpec is the getopt specification: upstream's ISKPd:u:n:h plus the
// layout driver's L, q and V.
const optSpec = "ISKPLd:u:n:hqV"

// EnvDevices names extra devices, paths or globs separated by colons or
// spaces, searched first when scanning for OCFS2 volumes.
const EnvDevices = "O2CB_HB_DEVICES"

const usage = `Usage: ocfs2_hb_ctl -S -d <device> <service>
       ocfs2_hb_ctl -S -u <uuid> <service>
       ocfs2_hb_ctl -K -d <device> [<service>]
       ocfs2_hb_ctl -K -u <uuid> [<service>]
       ocfs2_hb_ctl -I [-q] -d <device>
       ocfs2_hb_ctl -I [-q] -u <uuid>
       ocfs2_hb_ctl -P -d <device> [-n <io_priority>]
       ocfs2_hb_ctl -P -u <uuid> [-n <io_priority>]
       ocfs2_hb_ctl -L [-d <device>]
       ocfs2_hb_ctl -V
       ocfs2_hb_ctl -h
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
}

// usageError is a misuse of the command line: its message, then usage.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// parse turns args into a request and checks the combination of options
// as ocfs2-tools does.
func parse(args []string) (request, error) {
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
	if r.action == 0 {
		return request{}, usageError{"no action given (-S, -K, -I, -P or -L)"}
	}
	if r.action == 'L' {
		switch {
		case r.uuid != "":
			return request{}, usageError{"-L takes -d <device>, not -u"}
		case r.service != "":
			return request{}, usageError{fmt.Sprintf("-L takes no service argument, got %q", r.service)}
		case r.hasPrio:
			return request{}, usageError{"-n goes with -P"}
		}
		return r, nil
	}
	if (r.uuid == "") == (r.device == "") {
		return request{}, usageError{fmt.Sprintf("-%c needs exactly one of -d <device> and -u <uuid>", r.action)}
	}
	if r.action == 'S' && r.service == "" {
		return request{}, usageError{"-S needs a service argument"}
	}
	if r.action == 'K' && r.service == "" {
		if r.uuid == "" {
			return request{}, usageError{"-K -d needs a service argument"}
		}
		r.service = "ocfs2" // the kernel's umount calls -K -u <uuid>
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
	r, err := parse(args)
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
			fmt.Fprintf(stderr, "%s: %s\n", Name, oneLine(err))
			return 1
		}
		fmt.Fprintln(stdout, sb.UUID)
		return 0
	case r.action == 'L':
		found, err := ocfs2.Scan(ocfs2.ScanOptions{Extra: ocfs2.SplitDeviceList(env(EnvDevices))})
		for _, f := range found {
			fmt.Fprintf(stdout, "%s:%s\n", f.UUID, f.Device)
		}
		if err != nil {
			fmt.Fprintf(stderr, "%s: %s\n", Name, oneLine(err))
			return 1
		}
		return 0
	default:
		fmt.Fprintf(stderr, "%s: -%c is not available yet\n", Name, r.action)
		return 1
	}
}

// oneLine joins a multi-line error (errors.Join) into one line.
func oneLine(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", "; ")
}
