package command

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/o2cb-ra/o2cb-ra/internal/clusterconf"
	"github.com/o2cb-ra/o2cb-ra/internal/manpage"
	"github.com/o2cb-ra/o2cb-ra/internal/rundir"
)

// OCFProvider is the OCF provider the agents are installed under.
const OCFProvider = "ocfs2"

// ManPage is o2cb-ra(8), made from the command tree: every command and
// visible flag, with its default and environment variable.
func ManPage(source, date string) *manpage.Page {
	a := App()
	p := &manpage.Page{Name: a.Name, Section: "8", Summary: a.Usage, Date: date, Source: source, Manual: "System Administration"}
	p.Add("SYNOPSIS",
		manpage.Text{manpage.B("o2cb-ra"), manpage.R(" "), manpage.I("command"), manpage.R(" [options] [arguments]")},
		manpage.Text{manpage.B("/usr/lib/ocf/resource.d/" + OCFProvider + "/"), manpage.I("agent"), manpage.R(" "), manpage.I("action")})
	var agents []string
	for _, n := range AgentNames() {
		agents = append(agents, "ocf_"+OCFProvider+"_"+n+"(7)")
	}
	p.Add("DESCRIPTION", manpage.Para(fmt.Sprintf(`o2cb-ra makes OCFS2's o2cb cluster and its disk heartbeat Pacemaker
resources. One binary is the OCF agents (%s, links to it in the provider
directory, each documented in %s), the node's heartbeat daemon, which reads
and writes the kernel o2hb's on-disk slots, and the commands below.

The heartbeat layout driver ocfs2_hb_ctl is installed beside it in
/usr/lib/o2cb-ra; see o2cb-ra-ocfs2_hb_ctl(8).`, strings.Join(AgentNames(), " and "), strings.Join(agents, " and "))))
	var cmds []manpage.Block
	for _, c := range a.Commands {
		if c.Hidden {
			continue
		}
		tag := manpage.Text{manpage.B(c.Name)}
		if c.ArgsUsage != "" {
			tag = append(tag, manpage.R(" "), manpage.I(c.ArgsUsage))
		}
		body := []manpage.Block{manpage.Para(capital(c.Usage) + ".")}
		for _, f := range c.Flags {
			if b := flagDoc(f); b != nil {
				body = append(body, b)
			}
		}
		cmds = append(cmds, manpage.Item{Tag: tag, Body: body})
	}
	p.Add("COMMANDS", cmds...)
	p.Add("EXIT STATUS", manpage.Para(`0 on success, 1 on a failure, with one line on standard error that says
why. Run as an agent (through a link or the agent command), the exit status
is the OCF one: 0 success, 1 generic error, 2 invalid argument, 3
unimplemented action, 4 insufficient privileges, 5 not installed, 6 not
configured, 7 not running.`))
	p.Add("FILES",
		manpage.Item{Tag: manpage.Text{manpage.B(clusterconf.DefaultPath)}, Body: []manpage.Block{manpage.Para("The cluster's configuration, as ocfs2-tools writes and reads it.")}},
		manpage.Item{Tag: manpage.Text{manpage.B(rundir.DefaultRunDir)}, Body: []manpage.Block{manpage.Para("The heartbeat daemon's run directory: its socket, pid file and state.")}},
		manpage.Item{Tag: manpage.Text{manpage.B("/usr/lib/o2cb-ra/ocfs2_hb_ctl")}, Body: []manpage.Block{manpage.Para("The heartbeat layout driver the agents run.")}})
	p.Add("SEE ALSO", manpage.Text{
		manpage.B("ocf_ocfs2_o2cb"), manpage.R("(7), "), manpage.B("ocf_ocfs2_hbregion"), manpage.R("(7), "),
		manpage.B("o2cb-ra-ocfs2_hb_ctl"), manpage.R("(8), "), manpage.B("mount.ocfs2"), manpage.R("(8), "),
		manpage.B("pcs"), manpage.R("(8), "), manpage.B("crm"), manpage.R("(8)")})
	return p
}

// flagDoc documents a visible flag: its names and value, then its usage,
// default and environment variables.
func flagDoc(f cli.Flag) manpage.Block {
	if v, ok := f.(cli.VisibleFlag); ok && !v.IsVisible() {
		return nil
	}
	d, ok := f.(cli.DocGenerationFlag)
	if !ok {
		return nil
	}
	var tag manpage.Text
	for i, n := range f.Names() {
		if i > 0 {
			tag = append(tag, manpage.R(", "))
		}
		dash := "--"
		if len(n) == 1 {
			dash = "-"
		}
		tag = append(tag, manpage.B(dash+n))
	}
	if d.TakesValue() {
		tag = append(tag, manpage.R(" "), manpage.I(strings.ToUpper(strings.ReplaceAll(f.Names()[0], "-", "_"))))
	}
	text := capital(d.GetUsage()) + "."
	def := strings.Trim(d.GetDefaultText(), `"`)
	if r, ok := f.(cli.RequiredFlag); ok && r.IsRequired() {
		text += " Required."
	} else if !d.TakesValue() {
		if def == "true" {
			text += fmt.Sprintf(" On by default; --%s=false turns it off.", f.Names()[0])
		}
	} else if def != "" {
		text += " Default: " + def + "."
	}
	if env := d.GetEnvVars(); len(env) > 0 {
		text += " Environment: " + strings.Join(env, ", ") + "."
	}
	return manpage.Item{Tag: tag, Body: []manpage.Block{manpage.Para(text)}}
}

// capital is s with its first letter in upper case.
func capital(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
