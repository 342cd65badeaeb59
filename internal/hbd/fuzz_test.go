package hbd

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
)

// FuzzReadMessage feeds the control socket's decoder arbitrary bytes: it
// never panics, never accepts a line over the limit, and what it accepts
// round-trips.
func FuzzReadMessage(f *testing.F) {
	f.Add([]byte(`{"v":1,"op":"ping"}` + "\n"))
	f.Add([]byte(`{"v":1,"op":"start","uuid":"00112233445566778899AABBCCDDEEFF","owner":"service:/mnt","consumer":true,"timeout_ms":500}` + "\n"))
	f.Add([]byte(`{"v":1,"op":"stop","uuid":"x","owner":"pacemaker:r:0"}`))
	f.Add([]byte(`{"v":1} {"v":2}`))
	f.Add([]byte(strings.Repeat("[", 1000)))
	f.Add([]byte("\xff\xfe\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var req Request
		err := readMessage(bufio.NewReaderSize(bytes.NewReader(data), 4096), &req, MaxMessageBytes)
		if err != nil {
			return
		}
		line, _, _ := bytes.Cut(data, []byte("\n"))
		if len(line) >= MaxMessageBytes {
			t.Fatalf("accepted a %d-byte line", len(line))
		}
		var buf bytes.Buffer
		if err := writeMessage(&buf, req, MaxMessageBytes); err != nil {
			// Re-encoding may escape characters and outgrow the limit.
			return
		}
		var again Request
		if err := readMessage(bufio.NewReader(&buf), &again, MaxMessageBytes); err != nil || again != req {
			t.Fatalf("round trip: %+v, %v; want %+v", again, err, req)
		}
		_ = ValidOwner(req.Owner)
	})
}

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
				if ValidOwner(o) != nil || n < 1 {
					t.Fatalf("decodeState accepted owner %q with %d references", o, n)
				}
			}
		}
	})
}
