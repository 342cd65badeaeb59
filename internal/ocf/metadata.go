package ocf

import (
	"fmt"
	"strings"
	"time"

	"github.com/beevik/etree"
)

// Action declares one action of an agent. An agent may declare an action
// more than once with different depths (a monitor at OCF_CHECK_LEVEL 0 and
// one at 10, each with its own interval and timeout); the entry whose
// Depth is the call's OCF_CHECK_LEVEL gives the default timeout, else the
// first entry of that name.
type Action struct {
	Name     string
	Timeout  time.Duration
	Interval time.Duration // advised monitor interval; 0 for none
	Depth    int           // OCF_CHECK_LEVEL the action is advertised with (monitor)
	// Run does the action; nil in a further entry of the same name runs
	// the first entry's.
	Run func(*Context) error
	// NoParams runs the action without resolving parameters (meta-data
	// and usage never fail on bad ones).
	NoParams bool
}

// Agent is a resource agent: what it documents and what it does.
type Agent struct {
	Name    string
	Version string
	Short   string
	Long    string
	Params  []Param
	Actions []Action
	// Example is the resource its manual page shows configured; nil for
	// one with the required parameters only.
	Example *Example
	// SeeAlso names related manual pages, as "page(section)".
	SeeAlso []string
}

// Example is a resource of an agent as an administrator configures it.
type Example struct {
	Resource string   // the resource's name
	Params   []string // name=value, in order
	Clone    bool     // run it as a clone (interleave=true)
	OnFail   string   // the monitor's on-fail, "" for Pacemaker's default
}

// Seconds renders a duration the way agents' meta-data usually do: "20s",
// or "500ms" for a fraction of a second.
func Seconds(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%ds", int(d/time.Second))
	}
	return fmt.Sprintf("%dms", int(d/time.Millisecond))
}

// trimText formats a description: the text between blank lines, with a
// newline before and after, as the meta-data of resource-agents reads.
func trimText(s string) string { return "\n" + strings.TrimSpace(s) + "\n" }

// OCFVersion is the version of the OCF resource agent API the meta-data
// claims.
const OCFVersion = "1.1"

// doctype names resource-agents' ra-api-1.dtd, the OCF 1.0 DTD, with an
// internal subset that declares what OCF 1.1 adds to the markup we use
// (declarations of the internal subset take precedence). Tools that check
// meta-data with that DTD, as resource-agents' ocf-tester does with
// xmllint --valid, still accept it; Pacemaker, pcs and crmsh read the
// markup and ignore the DTD.
const doctype = `DOCTYPE resource-agent SYSTEM "ra-api-1.dtd" [
<!ATTLIST parameter unique-group CDATA #IMPLIED reloadable (1|0) #IMPLIED>
<!ATTLIST action name CDATA #REQUIRED>
]`

// MetaData renders the agent's meta-data in OCF 1.1 markup.
//
// The deprecated unique attribute is not given: OCF 1.1 replaces it with
// unique-group, Pacemaker decides between reload-agent and a restart by
// reloadable alone for a 1.1 agent, and unique="1" cannot say that a
// parameter is unique only together with others (tools read it per
// parameter).
func (a *Agent) MetaData() ([]byte, error) {
	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0"`)
	doc.CreateDirective(doctype)
	ra := doc.CreateElement("resource-agent")
	ra.CreateAttr("name", a.Name)
	ra.CreateAttr("version", a.Version)
	ra.CreateElement("version").SetText(OCFVersion)
	desc := func(parent *etree.Element, long, short string) {
		l := parent.CreateElement("longdesc")
		l.CreateAttr("lang", "en")
		l.SetText(trimText(long))
		s := parent.CreateElement("shortdesc")
		s.CreateAttr("lang", "en")
		s.SetText(strings.TrimSpace(short))
	}
	desc(ra, a.Long, a.Short)
	params := ra.CreateElement("parameters")
	for _, p := range a.Params {
		pe := params.CreateElement("parameter")
		pe.CreateAttr("name", p.Name)
		if p.UniqueGroup != "" {
			pe.CreateAttr("unique-group", p.UniqueGroup)
		}
		if p.Required {
			pe.CreateAttr("required", "1")
		}
		if p.Reloadable {
			pe.CreateAttr("reloadable", "1")
		}
		desc(pe, p.Long, p.Short)
		c := pe.CreateElement("content")
		c.CreateAttr("type", p.Type.metaType())
		if p.Default != "" {
			c.CreateAttr("default", p.Default)
		}
	}
	actions := ra.CreateElement("actions")
	for _, act := range a.Actions {
		ae := actions.CreateElement("action")
		ae.CreateAttr("name", act.Name)
		ae.CreateAttr("timeout", Seconds(act.Timeout))
		if act.Interval > 0 {
			ae.CreateAttr("interval", Seconds(act.Interval))
		}
		if act.Interval > 0 || act.Depth != 0 {
			ae.CreateAttr("depth", fmt.Sprint(act.Depth))
		}
	}
	doc.Indent(2)
	doc.WriteSettings.CanonicalText = true // no &apos; in prose
	return doc.WriteToBytes()
}
