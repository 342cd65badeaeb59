package ocf

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Type is a parameter's content type in the meta-data.
type Type string

// The content types. OCF 1.1 knows string, integer and boolean; Time is
// parsed as an OCF time but advertised as a string.
const (
	String  Type = "string"
	Integer Type = "integer"
	Boolean Type = "boolean"
	Time    Type = "time"
)

// metaType is the content type the meta-data gives.
func (t Type) metaType() string {
	if t == Time {
		return string(String)
	}
	return string(t)
}

// Param declares one parameter: how it is documented, parsed and checked.
type Param struct {
	Name     string
	Type     Type
	Default  string // "" for none
	Required bool
	// UniqueGroup names a set of parameters whose combined values no two
	// resources of the agent may share (OCF 1.1 unique-group); "" for none.
	UniqueGroup string
	// Reloadable marks a parameter the reload-agent action applies to a
	// running resource; a change of any other restarts it.
	Reloadable bool
	Short      string // one line
	Long       string // paragraphs
	// EnvVar, if set, names an environment variable whose value replaces
	// the default (not a value given in OCF_RESKEY_<name>).
	EnvVar string
	// Check validates the value after its type; its error becomes an
	// OCF_ERR_CONFIGURED that names the parameter.
	Check func(string) error
}

// ParseBool reads an OCF boolean the way resource-agents' ocf_is_true does.
func ParseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "yes", "true", "on", "y":
		return true, nil
	case "0", "no", "false", "off", "n", "":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean (true/false, yes/no, 1/0, on/off)", s)
}

// ParseTime reads an OCF time: a number of seconds, or with a unit
// (ms, s, m, h, as Pacemaker writes them).
func ParseTime(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseUint(s, 10, 32); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a time (seconds, or a number with ms, s, m or h)", s)
	}
	return d, nil
}

// checkType checks a value against the parameter's type.
func (p *Param) checkType(v string) error {
	switch p.Type {
	case Integer:
		if _, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err != nil {
			return fmt.Errorf("%q is not an integer", v)
		}
	case Boolean:
		_, err := ParseBool(v)
		return err
	case Time:
		_, err := ParseTime(v)
		return err
	}
	return nil
}

// Params are an action's resolved parameter values.
type Params struct {
	vals map[string]string
	set  map[string]bool // given in OCF_RESKEY_*
}

// String returns the parameter's value ("" if unset without default).
func (p Params) String(name string) string { return p.vals[name] }

// Int returns an integer parameter; values were checked when resolved.
func (p Params) Int(name string) int {
	n, _ := strconv.Atoi(strings.TrimSpace(p.vals[name]))
	return n
}

// Bool returns a boolean parameter.
func (p Params) Bool(name string) bool {
	b, _ := ParseBool(p.vals[name])
	return b
}

// IsSet reports whether the parameter was given (not defaulted).
func (p Params) IsSet(name string) bool { return p.set[name] }

// resolve reads every declared parameter from env: OCF_RESKEY_<name>,
// else its EnvVar, else its default; and checks them all. The errors are
// joined into one OCF_ERR_CONFIGURED naming each parameter.
func resolve(decl []Param, env Env) (Params, error) {
	p := Params{vals: map[string]string{}, set: map[string]bool{}}
	var problems []string
	for i := range decl {
		d := &decl[i]
		v, ok := env.Lookup("OCF_RESKEY_" + d.Name)
		if ok {
			p.set[d.Name] = true
		} else if d.EnvVar != "" {
			v, ok = env.Lookup(d.EnvVar)
		}
		if !ok {
			v = d.Default
		}
		if v == "" && d.Required {
			problems = append(problems, fmt.Sprintf("parameter %s is required", d.Name))
			continue
		}
		p.vals[d.Name] = v
		if v == "" {
			continue
		}
		if err := d.checkType(v); err != nil {
			problems = append(problems, fmt.Sprintf("parameter %s: %v", d.Name, err))
			continue
		}
		if d.Check != nil {
			if err := d.Check(v); err != nil {
				problems = append(problems, fmt.Sprintf("parameter %s: %v", d.Name, err))
			}
		}
	}
	if len(problems) > 0 {
		return p, Errorf(ErrConfigured, "%s", strings.Join(problems, "; "))
	}
	return p, nil
}
