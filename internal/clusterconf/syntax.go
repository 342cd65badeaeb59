package clusterconf

import (
	"bytes"
	"io"
	"strings"
)

// This file is the format layer: stanzas of `key = value` attributes, read
// by ocfs2-tools' rules (o2cb_ctl/jconfig.c) and written back as its
// writer does. It knows nothing of clusters and nodes.

// stanza is one stanza as written in the file.
type stanza struct {
	kind     string   // the header's name: cluster, node, heartbeat, or any other
	line     int      // line of the header; 0 for a stanza made by a method
	comments []string // comment lines (with their '#') just above the header
	attrs    []*attr
}

// attr is one attribute of a stanza.
type attr struct {
	key string
	// value as the parser collected it: trailing blanks kept, a '\n' for
	// each continuation. ocfs2-tools, and the model, use it with trailing
	// white space removed (see trimValue).
	value    string
	line     int      // line of the key
	comments []string // comment lines just above the attribute
}

// file is a parsed cluster.conf at the format level.
type file struct {
	stanzas []*stanza
	trailer []string // comment lines after the last stanza
}

// get returns the attribute named key, or nil.
func (s *stanza) get(key string) *attr {
	for _, a := range s.attrs {
		if a.key == key {
			return a
		}
	}
	return nil
}

// set replaces the value of key, or appends the attribute.
func (s *stanza) set(key, value string) {
	if a := s.get(key); a != nil {
		a.value = value
		return
	}
	s.attrs = append(s.attrs, &attr{key: key, value: value})
}

// trimValue is the value ocfs2-tools uses: j_config_get_attribute strips
// trailing ASCII white space (g_strchomp), so "name = a  " names "a".
func trimValue(v string) string {
	n := len(v)
	for n > 0 && isSpaceByte(v[n-1]) {
		n--
	}
	return v[:n]
}

// isSpaceByte reports whether b is ASCII white space, as g_strchomp and
// isspace in the C locale have it.
func isSpaceByte(b byte) bool {
	return b == ' ' || '\t' <= b && b <= '\r'
}

// trimBlanks removes the blanks (spaces and tabs) s starts with. The
// cutset functions of package strings build a set at every call, which
// was a quarter of the time to read a cluster.conf of 255 nodes.
func trimBlanks(s string) string {
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return s[i:]
}

// isIdentByte reports whether b may be part of a stanza or key name (the
// identifier set of jconfig's scanner: letters, digits and '_').
func isIdentByte(b byte) bool {
	return b == '_' || '0' <= b && b <= '9' || 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z'
}

// identLen returns the length of the identifier s starts with.
func identLen(s string) int {
	n := 0
	for n < len(s) && isIdentByte(s[n]) {
		n++
	}
	return n
}

// lineReader hands out the lines of a file with their numbers.
type lineReader struct {
	data string
	pos  int
	num  int
}

// next returns the next line without its newline, and whether a newline
// ended it (false only for a last line without one). ok is false at the
// end of the input.
func (r *lineReader) next() (line string, newline, ok bool) {
	if r.pos >= len(r.data) {
		return "", false, false
	}
	r.num++
	rest := r.data[r.pos:]
	if i := strings.IndexByte(rest, '\n'); i >= 0 {
		r.pos += i + 1
		return rest[:i], true, true
	}
	r.pos = len(r.data)
	return rest, false, true
}

// A stanza's attributes have room for stanzaAttrs at first (a node
// stanza has five). Stanzas, with that room, are allocated stanzaBlock at
// a time, and attributes attrBlock at a time.
const (
	stanzaAttrs = 6
	stanzaBlock = 32
	attrBlock   = 64
)

// parseSyntax reads the stanzas of data. Like ocfs2-tools it goes on
// after an error; unlike it, it reports every error with its line.
func parseSyntax(data []byte, errs *errList) *file {
	f := &file{}
	r := &lineReader{data: string(data)}
	var (
		cur     *stanza  // the open stanza, nil when none
		broken  bool     // the last header was bad: skip its attributes quietly
		pending []string // comments waiting for the next attribute or header
		// Stanzas and attributes are taken from blocks: a cluster.conf
		// of 255 nodes has 256 stanzas and some 1,300 attributes, which
		// every agent action reads.
		block    []attr
		stanzas  []stanza
		attrRoom []*attr // the stanzas' first room for their attributes
	)
	for {
		line, newline, ok := r.next()
		if !ok {
			break
		}
		num := r.num
		if strings.IndexByte(line, 0) >= 0 {
			errs.add(num, ErrSyntax, "NUL byte in the line")
			cur, broken = nil, true
			continue
		}
		switch {
		case line == "":
			// A blank line ends a stanza.
			cur, broken = nil, false

		case line[0] == '#':
			// A comment: only at column 0, and it does not end a stanza.
			pending = append(pending, line)

		case isIdentByte(line[0]):
			cur, broken = nil, true
			n := identLen(line)
			name, rest := line[:n], line[n:]
			switch {
			case rest == "":
				errs.add(num, ErrSyntax, "stanza header %q has no ':' (a line starting in column 0 is a stanza header like \"node:\"; attributes are indented)", name)
			case rest[0] != ':':
				errs.add(num, ErrSyntax, "stanza header: %q after %q, want ':'", rest[:1], name)
			case trimBlanks(rest[1:]) != "":
				errs.add(num, ErrSyntax, "stanza header %q: text after the ':'%s", name, crHint(rest[1:]))
			default:
				if len(stanzas) == cap(stanzas) {
					stanzas, attrRoom = make([]stanza, 0, stanzaBlock), make([]*attr, stanzaBlock*stanzaAttrs)
				}
				// The capacity ends at this stanza's room: a seventh
				// attribute moves its list out of the block.
				room := attrRoom[len(stanzas)*stanzaAttrs:][:0:stanzaAttrs]
				stanzas = append(stanzas, stanza{kind: name, line: num, comments: pending, attrs: room})
				cur, broken = &stanzas[len(stanzas)-1], false
				pending = nil
				f.stanzas = append(f.stanzas, cur)
			}

		case line[0] == ' ' || line[0] == '\t':
			body := trimBlanks(line)
			if body == "" {
				// A line of blanks ends a stanza too.
				cur, broken = nil, false
				continue
			}
			if !isIdentByte(body[0]) {
				if body[0] == '#' {
					errs.add(num, ErrSyntax, "indented comment: a comment must start in column 0")
				} else {
					errs.add(num, ErrSyntax, "%q where an attribute name should start%s", body[:1], crHint(body))
				}
				continue
			}
			n := identLen(body)
			key := body[:n]
			rest := trimBlanks(body[n:])
			if rest == "" {
				errs.add(num, ErrSyntax, "attribute %q has no '=' (want \"%s = value\")", key, key)
				continue
			}
			if rest[0] != '=' {
				errs.add(num, ErrSyntax, "attribute %q: %q where '=' should be%s", key, rest[:1], crHint(rest))
				continue
			}
			value, ok := readValue(r, trimBlanks(rest[1:]), newline, errs)
			if !ok {
				continue
			}
			if cur == nil {
				if !broken {
					errs.add(num, ErrSyntax, "attribute %q outside a stanza (a blank line ends a stanza)", key)
				}
				continue
			}
			if prev := cur.get(key); prev != nil {
				errs.add(num, ErrInvalid, "%s stanza: %q given twice (also at line %d)", cur.kind, key, prev.line)
				continue
			}
			if len(block) == cap(block) {
				block = make([]attr, 0, attrBlock)
			}
			block = append(block, attr{key: key, value: value, line: num, comments: pending})
			cur.attrs = append(cur.attrs, &block[len(block)-1])
			pending = nil

		default:
			errs.add(num, ErrSyntax, "%q at the start of a line: want a stanza header, an indented attribute, a '#' comment or a blank line%s", line[:1], crHint(line))
			cur, broken = nil, true
		}
	}
	f.trailer = pending
	return f
}

// readValue collects a value that starts with first (the text after '='
// and its blanks). A backslash that ends a line continues the value on the
// next line, which is taken whole; the value gets a '\n' there. Any other
// backslash is an ordinary character.
func readValue(r *lineReader, first string, newline bool, errs *errList) (string, bool) {
	value := first
	for strings.HasSuffix(value, `\`) {
		if !newline {
			// ocfs2-tools drops such a backslash; a value that ends in a
			// backslash could not be written back, so say so.
			errs.add(r.num, ErrSyntax, "the file ends after a continuation backslash")
			return "", false
		}
		value = value[:len(value)-1] + "\n"
		next, nl, ok := r.next()
		if !ok {
			break
		}
		if strings.IndexByte(next, 0) >= 0 {
			errs.add(r.num, ErrSyntax, "NUL byte in the line")
			return "", false
		}
		value += next
		newline = nl
	}
	return value, true
}

// crHint explains a carriage return, the usual cause of stray characters.
func crHint(s string) string {
	if strings.Contains(s, "\r") {
		return " (carriage return: the file has DOS line ends?)"
	}
	return ""
}

// writeSyntax writes f in ocfs2-tools' format: "name:" headers, attributes
// as a tab, "key = value" (or "key =" when empty), continuation lines for
// values with newlines, and a blank line after each stanza. Comments go
// back above what they preceded.
func writeSyntax(w io.Writer, f *file) error {
	var b bytes.Buffer
	writeComments := func(cs []string) {
		for _, c := range cs {
			b.WriteString(c)
			b.WriteByte('\n')
		}
	}
	for _, s := range f.stanzas {
		writeComments(s.comments)
		b.WriteString(s.kind)
		b.WriteString(":\n")
		for _, a := range s.attrs {
			writeComments(a.comments)
			b.WriteByte('\t')
			b.WriteString(a.key)
			if a.value == "" {
				b.WriteString(" =\n")
				continue
			}
			b.WriteString(" = ")
			b.WriteString(strings.ReplaceAll(a.value, "\n", "\\\n"))
			b.WriteByte('\n')
		}
		b.WriteByte('\n')
	}
	writeComments(f.trailer)
	_, err := w.Write(b.Bytes())
	return err
}
