package hbctl

import (
	"strings"

	"github.com/o2cb-ra/o2cb-ra/internal/manpage"
	"github.com/o2cb-ra/o2cb-ra/internal/rundir"
)

// optionDoc documents one letter of optSpec.
type optionDoc struct {
	letter byte
	arg    string // the argument's name, "" for none
	doc    string
}

// options are the command line's options, in the order the page lists
// them; a test checks that each letter of optSpec is here.
var options = []optionDoc{
	{'S', "", "Start: add the service's reference to the region, starting it when it is the first; returns once the region is steady."},
	{'K', "", "Stop: drop the service's reference; the last one gone stops the region. -K -u UUID without a service drops the reference of service ocfs2, as the kernel's call at umount does."},
	{'I', "", "Print the region's references as \"UUID: N refs\"."},
	{'P', "", "Give the region's I/O thread (the daemon's, or the kernel's o2hb thread) the real-time I/O class."},
	{'L', "", "Print the UUID of the device of -d, or list every OCFS2 device found as UUID:DEVICE."},
	{'d', "device", "The region's device: an OCFS2 volume, whose UUID names the region."},
	{'u', "uuid", "The region's UUID (any case, dashes allowed); its device is searched for."},
	{'n', "io_priority", "With -P: the level in the real-time class, 0 (the highest, the default) to 7."},
	{'q', "", "With -I: print \"live\" when the region runs and is steady, else nothing."},
	{'V', "", "Print the version."},
	{'h', "", "Print the usage."},
}

// environment documents the variables Run reads.
var environment = [][2]string{
	{EnvOwner, "Set to global (as the o2cb agent does in global heartbeat mode), -S and -K act for the cluster and need no service. Without it, a start or stop in a global-heartbeat cluster succeeds and changes nothing, as with ocfs2-tools: the cluster owns the regions."},
	{EnvBackend, "Who runs the regions: kernel (the kernel's o2hb through configfs), userspace or observer (the node's heartbeat daemon), or auto (unset): the kernel when a cluster is registered in configfs, else the daemon."},
	{EnvDevices, "Device paths or globs, separated by colons or spaces, searched first for a UUID; then /dev/mapper/* and the devices of /proc/partitions."},
	{EnvRunDir, "The heartbeat daemon's run directory; default " + rundir.DefaultRunDir + "."},
	{EnvTimeout, "Seconds to wait for the daemon: default 120 for -S and -K, 10 otherwise."},
}

// PageName is the name of ocfs2_hb_ctl's manual page: ocfs2-tools owns
// ocfs2_hb_ctl(8), and both may be installed.
const PageName = "o2cb-ra-ocfs2_hb_ctl"

// ManPage is o2cb-ra-ocfs2_hb_ctl(8), made from the usage text, the
// options and the environment variables Run reads.
func ManPage(source, date string) *manpage.Page {
	p := &manpage.Page{Name: PageName, Section: "8", Summary: "o2cb-ra's heartbeat layout driver, ocfs2_hb_ctl", Date: date, Source: source, Manual: "System Administration"}
	var syn manpage.Example
	for _, l := range strings.Split(usage, "\n") {
		l = strings.TrimPrefix(strings.TrimSpace(l), "Usage: ")
		if strings.HasPrefix(l, Name+" ") {
			syn = append(syn, l)
		}
	}
	p.Add("SYNOPSIS", syn)
	p.Add("DESCRIPTION", manpage.Para(`ocfs2_hb_ctl starts, stops and inspects the disk heartbeat regions of
OCFS2 volumes. It is a drop-in for the ocfs2-tools program of that name: the
same options, output and exit status, and the kernel's call at umount (-K -u
UUID). o2cb-ra installs it as /usr/lib/o2cb-ra/ocfs2_hb_ctl, where its agents
find it, and never in place of ocfs2-tools' /sbin/ocfs2_hb_ctl; the o2cb
agent's kernel backend points the kernel's umount call at it
(/proc/sys/fs/ocfs2/nm/hb_ctl_path).

Where a cluster is registered in the kernel, -S and -K create and remove the
kernel's own regions through configfs, with the geometry libocfs2 computes,
and count local-mode references in the System V semaphores ocfs2-tools'
mount.ocfs2 counts in. Before a start the device must answer a direct read of
its heartbeat area within 5 seconds: the kernel's start reads it
uninterruptibly. Elsewhere the node's heartbeat daemon runs the regions.

Services count references: the region stops when the last one is gone.
No device search waits on a hung device: each has half a second to answer,
and one that does not is named.`))
	var opts []manpage.Block
	for _, o := range options {
		tag := manpage.Text{manpage.B("-" + string(o.letter))}
		if o.arg != "" {
			tag = append(tag, manpage.R(" "), manpage.I(o.arg))
		}
		opts = append(opts, manpage.Item{Tag: tag, Body: []manpage.Block{manpage.Para(o.doc)}})
	}
	p.Add("OPTIONS", opts...)
	var env []manpage.Block
	for _, e := range environment {
		env = append(env, manpage.Item{Tag: manpage.Text{manpage.B(e[0])}, Body: []manpage.Block{manpage.Para(e[1])}})
	}
	p.Add("ENVIRONMENT", env...)
	p.Add("EXIT STATUS", manpage.Para(`0 on success; success prints nothing but what -I and -L report, and
warnings ("ocfs2_hb_ctl: warning: ..." on standard error). 1 on any failure,
with one line "ocfs2_hb_ctl: reason" on standard error.`))
	p.Add("SEE ALSO", manpage.Text{manpage.B("o2cb-ra"), manpage.R("(8), "), manpage.B("ocf_ocfs2_o2cb"), manpage.R("(7), "),
		manpage.B("ocfs2_hb_ctl"), manpage.R("(8), "), manpage.B("mount.ocfs2"), manpage.R("(8)")})
	return p
}
