package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestRunFlags(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"-h"}, 0, "-only"},
		{[]string{"-no-such-flag"}, 2, "flag provided but not defined: -no-such-flag"},
		{[]string{"-quick=maybe"}, 2, "invalid boolean value"},
		{[]string{"-only", "join,laod32"}, 2, `-only: unknown scenario "laod32" (known: join, load32, agents, tmpfs, load256, hung, scale255, scale32x64)`},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(tc.args, &stdout, &stderr); code != tc.code || !strings.Contains(stderr.String(), tc.stderr) {
			t.Errorf("run(%q) = %d, stderr %q; want %d, stderr with %q", tc.args, code, stderr.String(), tc.code, tc.stderr)
		}
		if stdout.Len() != 0 {
			t.Errorf("run(%q) wrote %q to stdout, want nothing", tc.args, stdout.String())
		}
	}
}

func TestOptionsWant(t *testing.T) {
	all := scenarios
	for _, tc := range []struct {
		o    options
		want string // the scenarios that run, in the order of all
	}{
		{options{tmpfs: true}, "join load32 agents tmpfs load256 hung"},
		{options{tmpfs: false}, "join load32 agents load256 hung"},
		{options{only: "hung"}, "hung"},
		{options{only: "join,tmpfs", tmpfs: false}, "join tmpfs"},
	} {
		var got []string
		for _, s := range all {
			if tc.o.want(s) {
				got = append(got, s)
			}
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("%+v runs %q, want %q", tc.o, strings.Join(got, " "), tc.want)
		}
	}
}
