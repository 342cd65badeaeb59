package hbclient

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
)

// A request's AppendJSON is what json.Marshal writes, for every field
// set or not and for strings of any bytes: control and HTML characters,
// U+2028 and U+2029, invalid UTF-8.
func TestRequestAppendJSONIsMarshal(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	str := hostileStrings(rng)
	reqs := []Request{{}, {V: ProtocolVersion, Op: OpHealth}, {V: 1, Op: OpStart, UUID: "00112233445566778899AABBCCDDEEFF",
		Device: "/dev/sdb1", Owner: OwnerGlobal, Consumer: true, Priority: 7, Timeout: 999}, {V: -1, Priority: -3, Timeout: -1}}
	for range 5000 {
		reqs = append(reqs, Request{V: rng.IntN(3) - 1, Op: str(), UUID: str(), Device: str(), Owner: str(),
			Consumer: rng.IntN(2) == 0, Priority: rng.IntN(9) - 1, Timeout: rng.IntN(3) * rng.IntN(100000)})
	}
	for _, r := range reqs {
		want, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.AppendJSON(nil); !bytes.Equal(got, want) {
			t.Fatalf("%#v: AppendJSON %q, json.Marshal %q", r, got, want)
		}
	}
}

// hostileStrings returns a maker of strings that a JSON writer must
// escape or replace: up to five pieces, each a control, quote, HTML or
// line-separator character, a multi-byte or invalid UTF-8 sequence, a
// plain word, or one random byte.
func hostileStrings(rng *rand.Rand) func() string {
	pieces := []string{"", "a", "\"", "\\", "/", "\n", "\r", "\t", "\b", "\f", "\x00", "\x1f", "\x7f", "<", ">", "&",
		"é", "\u2028", "\u2029", "\xff", "\xe2\x80", "\U0001F600", "/dev/disk/by-id/x", "steady", "service:/mnt/a b"}
	return func() string {
		var b []byte
		for range rng.IntN(6) {
			if rng.IntN(4) == 0 {
				b = append(b, byte(rng.IntN(256)))
			} else {
				b = append(b, pieces[rng.IntN(len(pieces))]...)
			}
		}
		return string(b)
	}
}
