package hbd

import (
	"strings"
	"testing"

	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
)

// FuzzDecodeState feeds the state file's decoder arbitrary bytes: it
// never panics, and what it accepts names each region once by a
// normalized UUID, with valid owners holding at least one reference.
func FuzzDecodeState(f *testing.F) {
	f.Add([]byte(`{"version":1,"regions":[]}`))
	f.Add([]byte(`{"version":1,"regions":[{"uuid":"00112233445566778899AABBCCDDEEFF","device":"/dev/sdb","owners":{"global":1,"service:/mnt":2}}]}`))
	f.Add([]byte(`{"version":2,"regions":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := decodeState("state.json", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "state.json: ") {
				t.Fatalf("decodeState error %q does not name the file", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, r := range st.Regions {
			if len(r.UUID) != 32 || strings.ToUpper(r.UUID) != r.UUID || seen[r.UUID] {
				t.Fatalf("decodeState accepted region %q", r.UUID)
			}
			seen[r.UUID] = true
			for o, n := range r.Owners {
				if hbclient.ValidOwner(o) != nil || n < 1 {
					t.Fatalf("decodeState accepted owner %q with %d references", o, n)
				}
			}
		}
	})
}
