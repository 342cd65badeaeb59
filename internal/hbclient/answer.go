package hbclient

import (
	"strconv"
	"unicode/utf8"
)

// This file decodes the answer a monitor reads, every few seconds on every
// node, without encoding/json. Before its first decode, encoding/json
// builds its reflection decoders and encoders for the whole of Response,
// Status and RegionStatus included: 0.7–0.8 ms of a new process and up
// to 60 page faults, most of a monitor's talk with the daemon.
//
// decodeAnswer reads the answer to health and the plain ok or error
// answers. Whatever else a line holds (a status or a region, null, a key
// given twice or in another case, a number or a string encoding/json
// might read otherwise) makes it give up, and ReadMessage decodes the line
// with encoding/json, whose result or error stands. What it accepts it
// decodes as encoding/json does (FuzzDecodeAnswer holds it to that).

// answerScanner reads one JSON line. Once bad, every method returns zero
// values and the result is thrown away.
type answerScanner struct {
	s   []byte
	i   int
	bad bool
}

// decodeAnswer decodes line into r, a zero Response, and reports whether
// it could; false leaves r as it was.
func decodeAnswer(line []byte, r *Response) bool {
	p := &answerScanner{s: line}
	var resp Response
	var seen uint8
	p.object(func(key []byte) {
		switch string(key) {
		case "v":
			p.once(&seen, 1<<0)
			resp.V = p.int()
		case "ok":
			p.once(&seen, 1<<1)
			resp.OK = p.bool()
		case "error":
			p.once(&seen, 1<<2)
			resp.Error = p.error()
		case "note":
			p.once(&seen, 1<<3)
			resp.Note = p.string()
		case "health":
			p.once(&seen, 1<<4)
			resp.Health = p.health()
		default:
			p.fail()
		}
	})
	p.space()
	if p.bad || p.i != len(p.s) {
		return false
	}
	*r = resp
	return true
}

func (p *answerScanner) error() *Error {
	e := &Error{}
	var seen uint8
	p.object(func(key []byte) {
		switch string(key) {
		case "code":
			p.once(&seen, 1<<0)
			e.Code = p.string()
		case "message":
			p.once(&seen, 1<<1)
			e.Message = p.string()
		case "region":
			p.once(&seen, 1<<2)
			e.Region = p.string()
		default:
			p.fail()
		}
	})
	return e
}

func (p *answerScanner) health() *Health {
	h := &Health{}
	var seen uint8
	p.object(func(key []byte) {
		switch string(key) {
		case "node":
			p.once(&seen, 1<<0)
			var seenNode uint8
			p.object(func(key []byte) {
				switch string(key) {
				case "name":
					p.once(&seenNode, 1<<0)
					h.Node.Name = p.string()
				case "number":
					p.once(&seenNode, 1<<1)
					h.Node.Number = p.int()
				default:
					p.fail()
				}
			})
		case "backend":
			p.once(&seen, 1<<1)
			h.Backend = p.string()
		case "interval_ms":
			p.once(&seen, 1<<2)
			h.IntervalMS = p.int()
		case "regions":
			p.once(&seen, 1<<3)
			h.Regions = []RegionHealth{}
			p.array(func() { h.Regions = append(h.Regions, p.region()) })
		case "kernel_peer":
			p.once(&seen, 1<<4)
			h.KernelPeer = p.string()
		default:
			p.fail()
		}
	})
	return h
}

func (p *answerScanner) region() RegionHealth {
	var r RegionHealth
	var seen uint8
	p.object(func(key []byte) {
		switch string(key) {
		case "uuid":
			p.once(&seen, 1<<0)
			r.UUID = p.string()
		case "device":
			p.once(&seen, 1<<1)
			r.Device = p.string()
		case "state":
			p.once(&seen, 1<<2)
			r.State = State(p.string())
		case "error":
			p.once(&seen, 1<<3)
			r.Error = p.string()
		case "live_nodes":
			p.once(&seen, 1<<4)
			r.LiveNodes = []int{}
			p.array(func() { r.LiveNodes = append(r.LiveNodes, p.int()) })
		case "owners":
			p.once(&seen, 1<<5)
			r.Owners = []Owner{}
			p.array(func() { r.Owners = append(r.Owners, p.owner()) })
		case "own_slot_age_s":
			p.once(&seen, 1<<6)
			r.OwnSlotAge = p.float()
		case "io_in_flight_s":
			p.once(&seen, 1<<7)
			r.IOInFlight = p.float()
		default:
			p.fail()
		}
	})
	return r
}

func (p *answerScanner) owner() Owner {
	var o Owner
	var seen uint8
	p.object(func(key []byte) {
		switch string(key) {
		case "name":
			p.once(&seen, 1<<0)
			o.Name = p.string()
		case "refs":
			p.once(&seen, 1<<1)
			o.Refs = p.int()
		default:
			p.fail()
		}
	})
	return o
}

func (p *answerScanner) fail() {
	p.bad = true
	p.i = len(p.s)
}

// once fails on a key given twice: encoding/json would let the last one
// win, or merge two objects.
func (p *answerScanner) once(seen *uint8, bit uint8) {
	if *seen&bit != 0 {
		p.fail()
	}
	*seen |= bit
}

// space skips JSON white space.
func (p *answerScanner) space() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// take consumes c after white space, reporting whether it was there.
func (p *answerScanner) take(c byte) bool {
	p.space()
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *answerScanner) expect(c byte) {
	if !p.take(c) {
		p.fail()
	}
}

// object reads an object, calling field for each key; field reads the
// value.
func (p *answerScanner) object(field func(key []byte)) {
	p.expect('{')
	if p.bad || p.take('}') {
		return
	}
	for !p.bad {
		key := p.text()
		p.expect(':')
		if p.bad {
			return
		}
		field(key)
		if !p.take(',') {
			p.expect('}')
			return
		}
	}
}

// array reads an array, calling elem for each element.
func (p *answerScanner) array(elem func()) {
	p.expect('[')
	if p.bad || p.take(']') {
		return
	}
	for !p.bad {
		elem()
		if !p.take(',') {
			p.expect(']')
			return
		}
	}
}

func (p *answerScanner) bool() bool {
	p.space()
	switch rest := p.s[p.i:]; {
	case len(rest) >= 4 && string(rest[:4]) == "true":
		p.i += 4
		return true
	case len(rest) >= 5 && string(rest[:5]) == "false":
		p.i += 5
		return false
	}
	p.fail()
	return false
}

// number returns the text of a number by JSON's grammar, and whether it
// is an integer (no fraction, no exponent).
func (p *answerScanner) number() (text []byte, integer bool) {
	p.space()
	start := p.i
	digits := func() int {
		n := 0
		for p.i < len(p.s) && '0' <= p.s[p.i] && p.s[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	if p.i < len(p.s) && p.s[p.i] == '-' {
		p.i++
	}
	switch {
	case p.i < len(p.s) && p.s[p.i] == '0':
		p.i++
	case digits() == 0:
		p.fail()
		return nil, false
	}
	integer = true
	if p.i < len(p.s) && p.s[p.i] == '.' {
		p.i++
		if digits() == 0 {
			p.fail()
			return nil, false
		}
		integer = false
	}
	if p.i < len(p.s) && (p.s[p.i] == 'e' || p.s[p.i] == 'E') {
		p.i++
		if p.i < len(p.s) && (p.s[p.i] == '+' || p.s[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			p.fail()
			return nil, false
		}
		integer = false
	}
	return p.s[start:p.i], integer
}

// int reads an integer as encoding/json does into an int: a fraction, an
// exponent or an overflow is its error.
func (p *answerScanner) int() int {
	text, integer := p.number()
	if p.bad || !integer {
		p.fail()
		return 0
	}
	n, err := strconv.ParseInt(string(text), 10, strconv.IntSize)
	if err != nil {
		p.fail()
		return 0
	}
	return int(n)
}

func (p *answerScanner) float() float64 {
	text, _ := p.number()
	if p.bad {
		return 0
	}
	f, err := strconv.ParseFloat(string(text), 64)
	if err != nil {
		p.fail()
		return 0
	}
	return f
}

func (p *answerScanner) string() string { return string(p.text()) }

// text reads a string: valid UTF-8, no control characters, and escapes
// but for surrogates (encoding/json pairs them or replaces them). Without
// escapes it is the line's own bytes.
func (p *answerScanner) text() []byte {
	if !p.take('"') {
		p.fail()
		return nil
	}
	start, escapes := p.i, false
	for {
		if p.i >= len(p.s) {
			p.fail()
			return nil
		}
		c := p.s[p.i]
		if c == '"' {
			break
		}
		if c < 0x20 {
			p.fail()
			return nil
		}
		if c == '\\' {
			escapes = true
			p.i++
		}
		p.i++
	}
	raw := p.s[start:p.i]
	p.i++
	if !utf8.Valid(raw) {
		p.fail()
		return nil
	}
	if !escapes {
		return raw
	}
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			out = append(out, raw[i])
			continue
		}
		i++
		switch raw[i] {
		case '"', '\\', '/':
			out = append(out, raw[i])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			if i+4 >= len(raw) {
				p.fail()
				return nil
			}
			r, err := strconv.ParseUint(string(raw[i+1:i+5]), 16, 16)
			if err != nil || 0xd800 <= r && r <= 0xdfff {
				p.fail()
				return nil
			}
			out = utf8.AppendRune(out, rune(r))
			i += 4
		default:
			p.fail()
			return nil
		}
	}
	return out
}
