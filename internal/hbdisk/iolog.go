package hbdisk

import (
	"fmt"
	"strings"
)

// logIO logs the iteration's device errors once per change, read and
// write errors in one line: a device failing the same way every
// iteration is one warning, the counters of
// Status count every error, and the first clean iteration after errors
// says the device answers again.
func (r *Region) logIO(readErr, writeErr error) {
	if readErr == nil && writeErr == nil {
		if r.loggedIO != "" {
			r.log.Info("heartbeat I/O works again", "after", strings.TrimSpace(r.loggedIO))
			r.loggedIO = ""
		}
		return
	}
	key := ""
	for _, e := range []error{readErr, writeErr} {
		if e != nil {
			r.lastErr.Store(e.Error())
			key += e.Error() + "\n"
		}
	}
	if key == r.loggedIO {
		return
	}
	r.loggedIO = key
	var attrs []any
	if readErr != nil {
		attrs = append(attrs, "read_err", readErr)
	}
	if writeErr != nil {
		attrs = append(attrs, "write_err", writeErr)
	}
	r.log.Warn("heartbeat I/O error; logged again only when it changes", attrs...)
}

// logStale logs a device that returns stale data once per transition;
// the iteration counts every stale read.
func (r *Region) logStale(stale bool) {
	if stale == r.staleLogged {
		return
	}
	r.staleLogged = stale
	if stale {
		r.log.Error("the device returns stale data: our slot reads back an older block of ours; our own heartbeat counts as unchanged until it reads back what we write",
			"generation", fmt.Sprintf("%#x", r.gen), "wrote_seq", r.lastSeq)
		return
	}
	r.log.Info("the device returns current data again")
}
