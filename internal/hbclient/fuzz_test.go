package hbclient

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
		err := ReadMessage(bufio.NewReaderSize(bytes.NewReader(data), 4096), &req, MaxMessageBytes)
		if err != nil {
			return
		}
		line, _, _ := bytes.Cut(data, []byte("\n"))
		if len(line) >= MaxMessageBytes {
			t.Fatalf("accepted a %d-byte line", len(line))
		}
		var buf bytes.Buffer
		if err := WriteMessage(&buf, req, MaxMessageBytes); err != nil {
			// Re-encoding may escape characters and outgrow the limit.
			return
		}
		var again Request
		if err := ReadMessage(bufio.NewReader(&buf), &again, MaxMessageBytes); err != nil || again != req {
			t.Fatalf("round trip: %+v, %v; want %+v", again, err, req)
		}
		_ = ValidOwner(req.Owner)
	})
}
