package hbctl

import (
	"slices"
	"strings"
	"testing"
)

// TestManPageOptions: the page documents each option letter of optSpec
// once, and each environment variable Run reads.
func TestManPageOptions(t *testing.T) {
	letters := []byte(strings.ReplaceAll(optSpec, ":", ""))
	var documented []byte
	for _, o := range options {
		documented = append(documented, o.letter)
		if takes := strings.Contains(optSpec, string(o.letter)+":"); takes != (o.arg != "") {
			t.Errorf("-%c: documented with argument %q, but optSpec %q says it takes one: %v", o.letter, o.arg, optSpec, takes)
		}
	}
	slices.Sort(letters)
	slices.Sort(documented)
	if !slices.Equal(letters, documented) {
		t.Errorf("documented options %q, optSpec's %q", documented, letters)
	}
	var env []string
	for _, e := range environment {
		env = append(env, e[0])
	}
	for _, v := range []string{EnvDevices, EnvRunDir, EnvOwner, EnvTimeout, EnvBackend} {
		if !slices.Contains(env, v) {
			t.Errorf("environment variable %s is not documented", v)
		}
	}
}
