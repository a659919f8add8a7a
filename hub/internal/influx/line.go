package influx

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// fieldSink receives a point's fields: the figures are described once
// (equipmentFields, rollupFields, ...) and either collected into a
// *write.Point (EquipmentPoint, ...) or encoded straight into line protocol
// (lineEncoder), which is what Write sends.
type fieldSink interface {
	float(key string, v float64)
	int(key string, v int64)
	bool(key string, v bool)
	str(key string, v string)
}

// mapSink collects fields for influxdb2.NewPoint.
type mapSink map[string]any

func (m mapSink) float(k string, v float64) { m[k] = v }
func (m mapSink) int(k string, v int64)     { m[k] = v }
func (m mapSink) bool(k string, v bool)     { m[k] = v }
func (m mapSink) str(k string, v string)    { m[k] = v }

// lineEncoder appends points in line protocol, nanosecond precision, byte
// for byte as the client's encoder writes them (influxdata/line-protocol:
// tags in key order, empty tags left out, floats in their shortest exact
// form, NaN and Inf fields left out, integers with an i) except that fields
// come in the order they are given rather than sorted, which InfluxDB does
// not mind. It does not allocate per point.
type lineEncoder struct {
	buf    []byte
	fields int // fields of the current line
	start  int // where the current line starts in buf
	points int
}

// tag is a tag key and value.
type tag struct{ k, v string }

// begin starts a point; tags must be sorted by key.
func (e *lineEncoder) begin(measurement string, tags ...tag) {
	e.start = len(e.buf)
	e.fields = 0
	e.buf = appendEscaped(e.buf, measurement, nameEscapes)
	for _, t := range tags {
		if t.k == "" || t.v == "" {
			continue
		}
		e.buf = append(e.buf, ',')
		e.buf = appendEscaped(e.buf, t.k, keyEscapes)
		e.buf = append(e.buf, '=')
		e.buf = appendEscaped(e.buf, t.v, keyEscapes)
	}
	e.buf = append(e.buf, ' ')
}

// end finishes the point with its timestamp; a point without a field is
// taken back.
func (e *lineEncoder) end(t time.Time) {
	if e.fields == 0 {
		e.buf = e.buf[:e.start]
		return
	}
	e.buf = append(e.buf, ' ')
	e.buf = strconv.AppendInt(e.buf, t.UnixNano(), 10)
	e.buf = append(e.buf, '\n')
	e.points++
}

func (e *lineEncoder) key(k string) {
	if e.fields > 0 {
		e.buf = append(e.buf, ',')
	}
	e.fields++
	e.buf = appendEscaped(e.buf, k, keyEscapes)
	e.buf = append(e.buf, '=')
}

func (e *lineEncoder) float(k string, v float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return
	}
	e.key(k)
	e.buf = strconv.AppendFloat(e.buf, v, 'f', -1, 64)
}

func (e *lineEncoder) int(k string, v int64) {
	e.key(k)
	e.buf = append(strconv.AppendInt(e.buf, v, 10), 'i')
}

func (e *lineEncoder) bool(k string, v bool) {
	e.key(k)
	e.buf = strconv.AppendBool(e.buf, v)
}

func (e *lineEncoder) str(k string, v string) {
	e.key(k)
	e.buf = append(e.buf, '"')
	e.buf = appendEscaped(e.buf, v, stringEscapes)
	e.buf = append(e.buf, '"')
}

const (
	keyEscapes    = "\t\n\f\r ,="
	nameEscapes   = "\t\n\f\r ,"
	stringEscapes = "\t\n\f\r\\\""
)

// appendEscaped appends s with the characters of set escaped as the
// line-protocol encoder escapes them.
func appendEscaped(b []byte, s, set string) []byte {
	plain := true
	for i := 0; i < len(s) && plain; i++ {
		plain = s[i] > ' ' && s[i] != ',' && s[i] != '=' && s[i] != '"' && s[i] != '\\'
	}
	if plain { // nothing any of the sets escapes
		return append(b, s...)
	}
	if !strings.ContainsAny(s, set) {
		return append(b, s...)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if strings.IndexByte(set, c) < 0 {
			b = append(b, c)
			continue
		}
		switch c {
		case '\t':
			b = append(b, `\t`...)
		case '\n':
			b = append(b, `\n`...)
		case '\f':
			b = append(b, `\f`...)
		case '\r':
			b = append(b, `\r`...)
		default:
			b = append(b, '\\', c)
		}
	}
	return b
}
