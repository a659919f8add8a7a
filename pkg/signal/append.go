package signal

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
)

// AppendMarshal appends Marshal's encoding of s to dst. It writes the same
// bytes as encoding/json would for the wire struct (a differential fuzz test
// holds it to that), without reflection and without allocating beyond dst's
// growth: the agent encodes every signal it commits.
func AppendMarshal(dst []byte, s Signal) ([]byte, error) {
	if err := s.Validate(); err != nil {
		return dst, err
	}
	v := SchemaVersion
	if !s.ServerTime.IsZero() {
		v = SchemaVersionServerTime
	}
	b := append(dst, `{"v":`...)
	b = strconv.AppendInt(b, int64(v), 10)
	b = appendField(b, "site", s.Site)
	b = appendField(b, "line", s.Line)
	b = appendField(b, "eq", s.Equipment)
	b = appendField(b, "sig", s.Name)
	switch s.Value.Kind {
	case KindBool:
		b = append(b, `,"b":`...)
		b = strconv.AppendBool(b, s.Value.Bool)
	case KindNumber:
		b = append(b, `,"n":`...)
		b = appendFloat(b, s.Value.Num)
	case KindString:
		b = appendField(b, "s", s.Value.Str)
	}
	var err error
	b = append(b, `,"ts":`...)
	if b, err = appendTime(b, s.Time); err != nil {
		return dst, err
	}
	if !s.ServerTime.IsZero() {
		b = append(b, `,"sts":`...)
		if b, err = appendTime(b, s.ServerTime); err != nil {
			return dst, err
		}
	}
	if s.Received {
		b = append(b, `,"rx":true`...)
	}
	if s.Quality != Good {
		b = appendField(b, "q", s.Quality.String())
	}
	if s.Status != 0 {
		b = append(b, `,"sc":`...)
		b = strconv.AppendUint(b, uint64(s.Status), 10)
	}
	if s.Agent != "" {
		b = appendField(b, "agent", s.Agent)
	}
	if s.Seq != 0 {
		b = append(b, `,"seq":`...)
		b = strconv.AppendUint(b, s.Seq, 10)
	}
	if g := s.Gap; g != nil {
		b = append(b, `,"gap":{"from":`...)
		if b, err = appendTime(b, g.From); err != nil {
			return dst, err
		}
		b = append(b, `,"to":`...)
		if b, err = appendTime(b, g.To); err != nil {
			return dst, err
		}
		b = append(b, `,"dropped":`...)
		b = strconv.AppendUint(b, g.Dropped, 10)
		if g.Reason != "" {
			b = appendField(b, "reason", g.Reason)
		}
		b = append(b, '}')
	}
	return append(b, '}'), nil
}

// appendField appends ,"key":"value".
func appendField(b []byte, key, value string) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	return appendString(b, value)
}

// appendString appends s as a JSON string, escaped as encoding/json does;
// strings with anything but plain printable ASCII go through encoding/json.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			js, _ := json.Marshal(s) // a string always encodes
			return append(b, js...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendFloat formats f as encoding/json does (its floatEncoder, 64 bits).
func appendFloat(b []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// appendTime appends t in UTC as time.Time.MarshalJSON does (RFC 3339 with
// nanoseconds, quoted), failing like it for years it cannot write.
func appendTime(b []byte, t time.Time) ([]byte, error) {
	t = t.UTC()
	if y := t.Year(); y < 0 || y > 9999 {
		return b, fmt.Errorf("%w: time %v: year outside of range [0,9999]", ErrInvalid, t)
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), nil
}

// AppendID appends s.ID() to dst without allocating (for short names).
func AppendID(dst []byte, s Signal) []byte {
	var buf [256]byte
	h := buf[:0]
	for _, f := range [...]string{s.Site, s.Line, s.Equipment, s.Name} {
		h = append(h, f...)
		h = append(h, 0)
	}
	h = binary.BigEndian.AppendUint64(h, uint64(s.Time.UnixNano()))
	h = append(h, byte(s.Value.Kind))
	switch s.Value.Kind {
	case KindBool:
		if s.Value.Bool {
			h = append(h, 1)
		} else {
			h = append(h, 0)
		}
	case KindNumber:
		h = binary.BigEndian.AppendUint64(h, math.Float64bits(s.Value.Num))
	case KindString:
		h = append(h, s.Value.Str...)
	}
	if s.Gap != nil {
		h = binary.BigEndian.AppendUint64(h, uint64(s.Gap.From.UnixNano()))
		h = binary.BigEndian.AppendUint64(h, uint64(s.Gap.To.UnixNano()))
	}
	sum := sha256.Sum256(h)
	return hex.AppendEncode(dst, sum[:16])
}
