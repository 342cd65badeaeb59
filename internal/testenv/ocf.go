package testenv

import "strings"

// ExitReason returns the exit reason an OCF agent printed on stderr (its
// ocf-exit-reason: line), or "" if it printed none.
func ExitReason(stderr string) string {
	for _, l := range strings.Split(stderr, "\n") {
		if r, ok := strings.CutPrefix(l, "ocf-exit-reason:"); ok {
			return r
		}
	}
	return ""
}
