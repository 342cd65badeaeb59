package ocf

import (
	"fmt"
	"strings"
	"time"

	"github.com/beevik/etree"
)

// Action declares one action of an agent.
type Action struct {
	Name     string
	Timeout  time.Duration
	Interval time.Duration // advised monitor interval; 0 for none
	Depth    int           // OCF_CHECK_LEVEL the action is advertised with (monitor)
	Run      func(*Context) error
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
}

// seconds renders a duration the way agents' meta-data usually do.
func seconds(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%ds", int(d/time.Second))
	}
	return fmt.Sprintf("%dms", int(d/time.Millisecond))
}

func boolAttr(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// trimText formats a description: the text between blank lines, with a
// newline before and after, as the meta-data of resource-agents reads.
func trimText(s string) string { return "\n" + strings.TrimSpace(s) + "\n" }

// MetaData renders the agent's meta-data: OCF 1.0 markup that validates
// against resource-agents' ra-api-1.dtd.
func (a *Agent) MetaData() ([]byte, error) {
	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0"`)
	doc.CreateDirective(`DOCTYPE resource-agent SYSTEM "ra-api-1.dtd"`)
	ra := doc.CreateElement("resource-agent")
	ra.CreateAttr("name", a.Name)
	ra.CreateAttr("version", a.Version)
	ra.CreateElement("version").SetText("1.0")
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
		pe.CreateAttr("unique", boolAttr(p.Unique))
		pe.CreateAttr("required", boolAttr(p.Required))
		desc(pe, p.Long, p.Short)
		c := pe.CreateElement("content")
		c.CreateAttr("type", string(p.Type))
		if p.Default != "" {
			c.CreateAttr("default", p.Default)
		}
	}
	actions := ra.CreateElement("actions")
	for _, act := range a.Actions {
		ae := actions.CreateElement("action")
		ae.CreateAttr("name", act.Name)
		ae.CreateAttr("timeout", seconds(act.Timeout))
		if act.Interval > 0 {
			ae.CreateAttr("interval", seconds(act.Interval))
			ae.CreateAttr("depth", fmt.Sprint(act.Depth))
		}
	}
	doc.Indent(2)
	doc.WriteSettings.CanonicalText = true // no &apos; in prose
	return doc.WriteToBytes()
}
