package signal

import (
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"
)

// Decoder decodes signals as Unmarshal does, with less work per signal: a
// scanner reads the form Marshal writes (the keys of the wire struct, each
// once, in any order, with JSON whitespace; strings without escapes; no
// nulls; no gap) straight into the signal, and hands anything else to
// encoding/json, so what decodes, and to what, is exactly what Unmarshal's
// encoding/json path says (FuzzDecoder holds the two together). The strings a
// consumer sees again and again (sites, lines, equipment, signal names,
// agents) are kept and reused instead of allocated for every signal. A
// Decoder is not safe for concurrent use; its zero value is ready.
type Decoder struct {
	strs map[string]string
}

// maxInterned bounds the strings a Decoder keeps; maxInternLen is the
// longest it keeps.
const (
	maxInterned  = 4096
	maxInternLen = 64
)

// Unmarshal decodes and validates one encoded signal (see the package's
// Unmarshal).
func (d *Decoder) Unmarshal(data []byte) (Signal, error) {
	if len(data) > MaxEncodedSize {
		return Signal{}, fmt.Errorf("%w: %d bytes exceeds %d", ErrInvalid, len(data), MaxEncodedSize)
	}
	var w wire
	var h holder
	if !d.scan(data, &w, &h) {
		return unmarshalJSON(data)
	}
	return w.signal()
}

// holder holds what the wire struct's pointers point at.
type holder struct {
	b   bool
	n   float64
	s   string
	sts time.Time
}

// The wire struct's fields, as bits of a set.
const (
	fV = 1 << iota
	fSite
	fLine
	fEq
	fSig
	fB
	fN
	fS
	fTS
	fSTS
	fRX
	fQ
	fSC
	fAgent
	fSeq
)

func field(key []byte) int {
	switch string(key) {
	case "v":
		return fV
	case "site":
		return fSite
	case "line":
		return fLine
	case "eq":
		return fEq
	case "sig":
		return fSig
	case "b":
		return fB
	case "n":
		return fN
	case "s":
		return fS
	case "ts":
		return fTS
	case "sts":
		return fSTS
	case "rx":
		return fRX
	case "q":
		return fQ
	case "sc":
		return fSC
	case "agent":
		return fAgent
	case "seq":
		return fSeq
	}
	return 0
}

// scan reads data into w; false leaves it to encoding/json.
func (d *Decoder) scan(data []byte, w *wire, h *holder) bool {
	p := scanner{b: data}
	if !p.next('{') {
		return false
	}
	seen := 0
	for {
		key, ok := p.plain()
		if !ok || !p.next(':') {
			return false
		}
		f := field(key)
		if f == 0 || seen&f != 0 {
			return false
		}
		seen |= f
		switch f {
		case fV:
			v, ok := p.uint(1 << 31)
			if !ok {
				return false
			}
			w.V = int(v)
		case fSite, fLine, fEq, fSig, fS, fQ, fAgent:
			raw, ok := p.plain()
			if !ok {
				return false
			}
			s := d.intern(raw)
			switch f {
			case fSite:
				w.Site = s
			case fLine:
				w.Line = s
			case fEq:
				w.Eq = s
			case fSig:
				w.Sig = s
			case fS:
				h.s, w.S = s, &h.s
			case fQ:
				w.Q = s
			case fAgent:
				w.Agent = s
			}
		case fB, fRX:
			v, ok := p.bool()
			if !ok {
				return false
			}
			if f == fB {
				h.b, w.B = v, &h.b
			} else {
				w.RX = v
			}
		case fN:
			v, ok := p.number()
			if !ok {
				return false
			}
			h.n, w.N = v, &h.n
		case fTS, fSTS:
			raw, ok := p.quoted()
			if !ok {
				return false
			}
			t := &w.TS
			if f == fSTS {
				t, w.STS = &h.sts, &h.sts
			}
			if t.UnmarshalJSON(raw) != nil {
				return false
			}
		case fSC:
			v, ok := p.uint(1<<32 - 1)
			if !ok {
				return false
			}
			w.SC = uint32(v)
		case fSeq:
			v, ok := p.uint(1<<64 - 1)
			if !ok {
				return false
			}
			w.Seq = v
		}
		if p.next(',') {
			continue
		}
		if !p.next('}') {
			return false
		}
		p.space()
		return p.i == len(p.b)
	}
}

// intern returns b as a string, the same string each time it is asked for
// one it kept. A nil Decoder keeps none.
func (d *Decoder) intern(b []byte) string {
	if d == nil {
		return string(b)
	}
	if s, ok := d.strs[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(b) <= maxInternLen {
		if d.strs == nil || len(d.strs) >= maxInterned {
			d.strs = make(map[string]string, 64)
		}
		d.strs[s] = s
	}
	return s
}

// scanner reads JSON tokens; every method skips the whitespace before its
// token and reports false for anything it does not take.
type scanner struct {
	b []byte
	i int
}

func (p *scanner) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *scanner) next(c byte) bool {
	p.space()
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// plain reads a string without escapes, of valid UTF-8, and returns its
// contents.
func (p *scanner) plain() ([]byte, bool) {
	if !p.next('"') {
		return nil, false
	}
	start, ascii := p.i, true
	for ; p.i < len(p.b); p.i++ {
		switch c := p.b[p.i]; {
		case c == '"':
			s := p.b[start:p.i]
			p.i++
			return s, ascii || utf8.Valid(s)
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, false
}

// quoted reads a string without escapes and returns it with its quotes.
func (p *scanner) quoted() ([]byte, bool) {
	p.space()
	start := p.i
	if _, ok := p.plain(); !ok {
		return nil, false
	}
	return p.b[start:p.i], true
}

func (p *scanner) bool() (bool, bool) {
	p.space()
	rest := p.b[p.i:]
	switch {
	case len(rest) >= 4 && string(rest[:4]) == "true":
		p.i += 4
		return true, p.delimited()
	case len(rest) >= 5 && string(rest[:5]) == "false":
		p.i += 5
		return false, p.delimited()
	}
	return false, false
}

// delimited tells whether a literal ends where it should: at a delimiter
// or the end, not in the middle of a longer token.
func (p *scanner) delimited() bool {
	if p.i == len(p.b) {
		return true
	}
	switch p.b[p.i] {
	case ',', '}', ' ', '\t', '\n', '\r':
		return true
	}
	return false
}

// uint reads a non-negative integer without sign, fraction or exponent, at
// most limit.
func (p *scanner) uint(limit uint64) (uint64, bool) {
	p.space()
	start := p.i
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
	}
	digits := p.b[start:p.i]
	if len(digits) == 0 || len(digits) > 1 && digits[0] == '0' || !p.delimited() {
		return 0, false
	}
	v, err := strconv.ParseUint(string(digits), 10, 64)
	return v, err == nil && v <= limit
}

// number reads a JSON number.
func (p *scanner) number() (float64, bool) {
	p.space()
	start := p.i
	digits := func() int {
		n := 0
		for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	if p.i < len(p.b) && p.b[p.i] == '-' {
		p.i++
	}
	intStart := p.i
	if n := digits(); n == 0 || n > 1 && p.b[intStart] == '0' {
		return 0, false
	}
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		if digits() == 0 {
			return 0, false
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return 0, false
		}
	}
	if !p.delimited() {
		return 0, false
	}
	v, err := strconv.ParseFloat(string(p.b[start:p.i]), 64)
	return v, err == nil
}
