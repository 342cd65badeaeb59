package manpage

import (
	"fmt"
	"slices"
	"strings"

	"github.com/o2cb-ra/o2cb-ra/internal/ocf"
)

// actionDocs say what each standard action does, as the OCF API defines
// it.
var actionDocs = map[string]string{
	"start":        "Starts the resource on this node.",
	"stop":         "Stops the resource on this node; success means nothing of it runs here.",
	"monitor":      "Checks the resource: 0 when it runs, 7 when it does not, another code when it failed.",
	"reload":       "Applies a changed configuration without a restart.",
	"reload-agent": "Applies changed reloadable parameters to the running resource (OCF 1.1).",
	"meta-data":    "Prints the agent's meta-data: OCF 1.1 XML on standard output.",
	"validate-all": "Checks the configuration and changes nothing.",
}

// AgentPage is the manual page of an OCF agent of provider, named
// ocf_<provider>_<agent>(7) as resource-agents names its pages.
func AgentPage(a *ocf.Agent, provider, source, date string) *Page {
	p := &Page{Name: "ocf_" + provider + "_" + a.Name, Section: "7", Summary: a.Short, Date: date, Source: source, Manual: "OCF resource agents"}
	var names []string
	for _, act := range a.Actions {
		if !slices.Contains(names, act.Name) {
			names = append(names, act.Name)
		}
	}
	p.Add("SYNOPSIS", Text{B(a.Name), R(" [" + strings.Join(names, " | ") + "]")})
	p.Add("DESCRIPTION", Para(a.Long))

	var params []Block
	for _, prm := range a.Params {
		doc := prm.Long
		if doc == "" {
			doc = prm.Short
		}
		params = append(params, Item{Tag: Text{B(prm.Name)}, Body: []Block{Para(doc), Para("(" + paramFacts(prm) + ")")}})
	}
	p.Add("SUPPORTED PARAMETERS", params...)

	actions := []Block{Para("This resource agent supports the following actions (operations):")}
	for _, act := range a.Actions {
		tag := Text{B(act.Name)}
		if act.Depth != 0 {
			tag = append(tag, R(fmt.Sprintf(" (OCF_CHECK_LEVEL=%d)", act.Depth)))
		}
		doc := actionDocs[act.Name]
		if act.Name == "monitor" && act.Depth >= 10 {
			doc = "A deeper check of the resource, with the same exit codes as monitor."
		}
		doc += " Suggested minimum timeout: " + ocf.Seconds(act.Timeout) + "."
		if act.Interval > 0 {
			doc += " Suggested interval: " + ocf.Seconds(act.Interval) + "."
		}
		actions = append(actions, Item{Tag: tag, Body: []Block{Para(strings.TrimSpace(doc))}})
	}
	p.Add("SUPPORTED ACTIONS", actions...)

	ex := example(a)
	p.Add("EXAMPLE PCS", Text{R("A resource of this agent, created with "), B("pcs"), R("(8):")}, Example(pcsExample(a, provider, ex)))
	p.Add("EXAMPLE CRM SHELL", Text{R("The same resource with the "), B("crm"), R("(8) shell:")}, Example(crmExample(a, provider, ex)))
	if len(a.SeeAlso) > 0 {
		var t Text
		for i, s := range a.SeeAlso {
			if i > 0 {
				t = append(t, R(", "))
			}
			name, sect, _ := strings.Cut(s, "(")
			t = append(t, B(name), R("("+sect))
		}
		p.Add("SEE ALSO", t)
	}
	return p
}

// paramFacts is the line of facts under a parameter's description.
func paramFacts(p ocf.Param) string {
	facts := []string{"optional"}
	if p.Required {
		facts[0] = "required"
	}
	facts = append(facts, string(p.Type))
	if p.Default != "" {
		facts = append(facts, fmt.Sprintf("default %q", p.Default))
	}
	if p.EnvVar != "" {
		facts = append(facts, "the default can be set with the environment variable "+p.EnvVar)
	}
	if p.Reloadable {
		facts = append(facts, "reloadable")
	}
	if p.UniqueGroup != "" {
		facts = append(facts, "unique-group "+p.UniqueGroup)
	}
	return strings.Join(facts, ", ")
}

// example is the agent's example, or one with its required parameters.
func example(a *ocf.Agent) ocf.Example {
	if a.Example != nil {
		return *a.Example
	}
	ex := ocf.Example{Resource: a.Name}
	for _, p := range a.Params {
		if p.Required {
			ex.Params = append(ex.Params, p.Name+"="+strings.ToUpper(p.Name))
		}
	}
	return ex
}

// monitors are the agent's monitor operations, each as name=value words.
func monitors(a *ocf.Agent, depthWord string, ex ocf.Example) [][]string {
	var ops [][]string
	for _, act := range a.Actions {
		if act.Name != "monitor" || act.Interval == 0 {
			continue
		}
		op := []string{"interval=" + ocf.Seconds(act.Interval), "timeout=" + ocf.Seconds(act.Timeout)}
		if act.Depth != 0 {
			op = append(op, fmt.Sprintf("%s=%d", depthWord, act.Depth))
		}
		if ex.OnFail != "" {
			op = append(op, "on-fail="+ex.OnFail)
		}
		ops = append(ops, op)
	}
	return ops
}

func pcsExample(a *ocf.Agent, provider string, ex ocf.Example) []string {
	head := "pcs resource create " + ex.Resource + " ocf:" + provider + ":" + a.Name
	if len(ex.Params) > 0 {
		head += " " + strings.Join(ex.Params, " ")
	}
	lines := []string{head}
	for i, op := range monitors(a, "OCF_CHECK_LEVEL", ex) {
		w := "    "
		if i == 0 {
			w += "op "
		} else {
			w += "   "
		}
		lines = append(lines, w+"monitor "+strings.Join(op, " "))
	}
	if ex.Clone {
		lines = append(lines, "    clone interleave=true")
	}
	return continued(lines)
}

func crmExample(a *ocf.Agent, provider string, ex ocf.Example) []string {
	lines := []string{"crm configure primitive " + ex.Resource + " ocf:" + provider + ":" + a.Name}
	if len(ex.Params) > 0 {
		lines = append(lines, "    params "+strings.Join(ex.Params, " "))
	}
	for _, op := range monitors(a, "depth", ex) {
		lines = append(lines, "    op monitor "+strings.Join(op, " "))
	}
	lines = continued(lines)
	if ex.Clone {
		lines = append(lines, "crm configure clone "+ex.Resource+"-clone "+ex.Resource+" meta interleave=true")
	}
	return lines
}

// continued ends every line but the last with a shell continuation.
func continued(lines []string) []string {
	for i := range len(lines) - 1 {
		lines[i] += ` \`
	}
	return lines
}
