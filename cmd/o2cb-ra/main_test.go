package main

import (
	"runtime/debug"
	"strings"
	"testing"
)

// The binary's runtime skips the cgroup CPU limit (see the package doc).
func TestStartsWithoutCgroupLookup(t *testing.T) {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		t.Skip("no build info")
	}
	for _, s := range bi.Settings {
		if s.Key == "DefaultGODEBUG" {
			for _, want := range []string{"containermaxprocs=0", "updatemaxprocs=0"} {
				if !strings.Contains(s.Value, want) {
					t.Errorf("DefaultGODEBUG %q lacks %s", s.Value, want)
				}
			}
			return
		}
	}
	t.Error("no DefaultGODEBUG in the build info")
}
