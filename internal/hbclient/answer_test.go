package hbclient

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// jsonAnswer decodes line as ReadMessage did before decodeAnswer: with
// encoding/json, unknown fields and a second value refused.
func jsonAnswer(line []byte) (*Response, error) {
	var r Response
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errMore
	}
	return &r, nil
}

var errMore = errors.New("more than one JSON value on the line")

// randomAnswers returns health, ok and error answers as the daemon
// writes them (json.Marshal), with strings of any bytes and numbers of
// any size.
func randomAnswers(n int) []Response {
	rng := rand.New(rand.NewPCG(3, 4))
	str := hostileStrings(rng)
	num := func() int {
		switch rng.IntN(4) {
		case 0:
			return rng.IntN(255)
		case 1:
			return -rng.IntN(1000)
		case 2:
			return math.MaxInt - rng.IntN(3)
		}
		return math.MinInt + rng.IntN(3)
	}
	float := func() float64 {
		switch rng.IntN(4) {
		case 0:
			return 0
		case 1:
			return rng.Float64() * 10
		case 2:
			return math.Ldexp(rng.Float64(), rng.IntN(2000)-1000)
		}
		return -math.Ldexp(rng.Float64(), rng.IntN(60)-30)
	}
	out := []Response{{V: 1, OK: true, Health: &Health{Regions: []RegionHealth{}}}}
	for range n {
		r := Response{V: num(), OK: rng.IntN(2) == 0, Note: str()}
		switch rng.IntN(3) {
		case 0:
			r.Error = &Error{Code: str(), Message: str(), Region: str()}
		case 1:
			h := &Health{Node: Node{Name: str(), Number: num()}, Backend: str(), IntervalMS: num(), KernelPeer: str(),
				Regions: []RegionHealth{}}
			for range rng.IntN(4) {
				reg := RegionHealth{UUID: str(), Device: str(), State: State(str()), Error: str(),
					LiveNodes: []int{}, Owners: []Owner{}, OwnSlotAge: float(), IOInFlight: float()}
				for range rng.IntN(4) {
					reg.LiveNodes = append(reg.LiveNodes, num())
				}
				for range rng.IntN(3) {
					reg.Owners = append(reg.Owners, Owner{Name: str(), Refs: num()})
				}
				h.Regions = append(h.Regions, reg)
			}
			r.Health = h
		}
		out = append(out, r)
	}
	return out
}

// Every answer the daemon writes to health, and every plain ok or error
// answer, is read without encoding/json, and as encoding/json reads it.
func TestDecodeAnswerIsEncodingJSON(t *testing.T) {
	for _, r := range randomAnswers(5000) {
		line, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		want, err := jsonAnswer(line)
		if err != nil {
			t.Fatalf("%s: encoding/json: %v", line, err)
		}
		var got Response
		if !decodeAnswer(line, &got) {
			t.Fatalf("%s: decodeAnswer gave up", line)
		}
		if !reflect.DeepEqual(&got, want) {
			t.Fatalf("%s:\ndecodeAnswer  %#v\nencoding/json %#v", line, got, *want)
		}
	}
}

// What encoding/json might read otherwise, or refuse, decodeAnswer leaves
// to it, and ReadMessage's answer is encoding/json's.
func TestDecodeAnswerGivesUp(t *testing.T) {
	for _, line := range []string{
		``,
		`{}x`,
		`{"v":1}}`,
		`{"v":1} {"v":2}`,
		`{"v":null}`,
		`{"health":null}`,
		`{"V":1}`,
		`{"v":1,"v":2}`,
		`{"health":{"regions":[]},"health":{"backend":"x"}}`,
		`{"v":1.0}`,
		`{"v":1e2}`,
		`{"v":01}`,
		`{"v":-}`,
		`{"v":99999999999999999999}`,
		`{"v":"1"}`,
		`{"ok":1}`,
		`{"ok":tru}`,
		`{"note":"\ud83d\ude00"}`,
		`{"note":"\ud800"}`,
		`{"note":"\x"}`,
		`{"note":"\u12"}`,
		"{\"note\":\"\xff\"}",
		"{\"note\":\"a\tb\"}",
		`{"note":"a`,
		`{"v":1,}`,
		`{"health":{"regions":[{"live_nodes":[1,]}]}}`,
		`{"status":{"node":{"name":"n1","number":1}}}`,
		`{"region":{"uuid":"00112233445566778899AABBCCDDEEFF"}}`,
		`{"health":{"regions":[{"own_slot_age_s":1e999}]}}`,
		`{"health":{"regions":[{"unknown":1}]}}`,
		`[]`,
		`"v"`,
	} {
		var fast Response
		if decodeAnswer([]byte(line), &fast) {
			t.Errorf("%s: decodeAnswer took it: %#v", line, fast)
		}
		if fast != (Response{}) {
			t.Errorf("%s: decodeAnswer gave up but changed the response: %#v", line, fast)
		}
		want, werr := jsonAnswer([]byte(line))
		var got Response
		gerr := ReadMessage(bufio.NewReader(strings.NewReader(line+"\n")), &got, MaxResponseBytes)
		if (werr == nil) != (gerr == nil) || werr == nil && !reflect.DeepEqual(&got, want) {
			t.Errorf("%s: ReadMessage %#v, %v; encoding/json %#v, %v", line, got, gerr, want, werr)
		}
	}
}

// FuzzDecodeAnswer holds decodeAnswer to encoding/json on any bytes:
// what it takes, encoding/json takes too and reads alike.
func FuzzDecodeAnswer(f *testing.F) {
	for _, r := range randomAnswers(20) {
		line, _ := json.Marshal(r)
		f.Add(line)
	}
	f.Add([]byte(`{"v":1,"ok":false,"error":{"code":"bad_request","message":"unknown op \"health\""}}`))
	f.Add([]byte(` { "v" : 1 , "ok" : true , "health" : { "regions" : [ { "live_nodes" : [ 0 , 254 ] } ] } } `))
	f.Add([]byte(`{"note":"\u00e9\u2028\/\b\f\n\r\t"}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		var got Response
		if !decodeAnswer(line, &got) {
			return
		}
		want, err := jsonAnswer(line)
		if err != nil {
			t.Fatalf("%q: decodeAnswer took what encoding/json refuses (%v): %#v", line, err, got)
		}
		if !reflect.DeepEqual(&got, want) {
			t.Fatalf("%q:\ndecodeAnswer  %#v\nencoding/json %#v", line, got, *want)
		}
	})
}

// BenchmarkHealthAnswer reads the health answer of 32 regions as
// ReadMessage does (decodeAnswer), against encoding/json. A monitor's
// process reads it once, cold, where encoding/json pays for building its
// reflection decoders besides, which this warm loop does not show.
func BenchmarkHealthAnswer(b *testing.B) {
	h := &Health{Node: Node{Name: "n1", Number: 1}, Backend: "userspace", IntervalMS: 2000, Regions: []RegionHealth{}}
	for i := range 32 {
		h.Regions = append(h.Regions, RegionHealth{UUID: strings.Repeat("0", 30) + strconv.Itoa(10+i), Device: "/dev/disk/by-id/wwn-0x5000c500a1b2c3" + strconv.Itoa(10+i),
			State: "steady", LiveNodes: []int{1, 2, 3}, Owners: []Owner{{Name: OwnerGlobal, Refs: 1}}, OwnSlotAge: 1.649151676})
	}
	line, err := json.Marshal(Response{V: ProtocolVersion, OK: true, Health: h})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("decodeAnswer", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var r Response
			if !decodeAnswer(line, &r) || len(r.Health.Regions) != 32 {
				b.Fatal("decodeAnswer gave up")
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if r, err := jsonAnswer(line); err != nil || len(r.Health.Regions) != 32 {
				b.Fatal(err)
			}
		}
	})
}
