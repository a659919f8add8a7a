// Package sparkplug holds the Sparkplug B wire contract shared by the agent
// and the plant simulator: the Payload and Metric protobuf messages of
// sparkplug_b.proto (the fields floorpulse uses; others are skipped when
// read), the Sparkplug 3.0 host application STATE message, and the topics.
//
// What always holds: Marshal writes what Unmarshal reads back; Unmarshal
// skips unknown fields by their wire type, so payloads of newer Tahu
// versions still decode, and bounds what a payload may make it allocate.
package sparkplug

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
)

// Namespace is the first topic level of every Sparkplug B message.
const Namespace = "spBv1.0"

// Data types of Sparkplug B metrics (the scalar ones).
const (
	Int8     uint32 = 1
	Int16    uint32 = 2
	Int32    uint32 = 3
	Int64    uint32 = 4
	UInt8    uint32 = 5
	UInt16   uint32 = 6
	UInt32   uint32 = 7
	UInt64   uint32 = 8
	Float    uint32 = 9
	Double   uint32 = 10
	Boolean  uint32 = 11
	String   uint32 = 12
	DateTime uint32 = 13
	Text     uint32 = 14
)

// Limits of Unmarshal.
const (
	MaxPayload = 4 << 20 // bytes
	MaxMetrics = 50000   // metrics in one payload
)

// ErrMalformed is wrapped by every error of Unmarshal.
var ErrMalformed = errors.New("malformed sparkplug payload")

// Payload is a Sparkplug B payload. A zero Timestamp and a negative Seq
// are left out (NDEATH has no seq).
type Payload struct {
	Timestamp uint64 // ms since the epoch
	Seq       int    // 0..255; -1 for none
	Metrics   []Metric
}

// Metric is one metric. Value is nil (with IsNull), bool, uint64 (integer
// types, in long_value), float64 (Float and Double: double_value) or string.
type Metric struct {
	Name         string
	Alias        uint64
	HasAlias     bool
	Timestamp    uint64 // ms since the epoch; 0 for none
	DataType     uint32 // 0 for none (data messages may leave it out)
	IsHistorical bool
	IsNull       bool
	Value        any
}

// Marshal encodes the payload.
func (p Payload) Marshal() []byte {
	var b []byte
	if p.Timestamp != 0 {
		b = protowire.AppendTag(b, 1, protowire.VarintType)
		b = protowire.AppendVarint(b, p.Timestamp)
	}
	for i := range p.Metrics {
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendBytes(b, p.Metrics[i].marshal())
	}
	if p.Seq >= 0 {
		b = protowire.AppendTag(b, 3, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(p.Seq))
	}
	return b
}

func (m *Metric) marshal() []byte {
	var b []byte
	if m.Name != "" {
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendString(b, m.Name)
	}
	if m.HasAlias {
		b = protowire.AppendTag(b, 2, protowire.VarintType)
		b = protowire.AppendVarint(b, m.Alias)
	}
	if m.Timestamp != 0 {
		b = protowire.AppendTag(b, 3, protowire.VarintType)
		b = protowire.AppendVarint(b, m.Timestamp)
	}
	if m.DataType != 0 {
		b = protowire.AppendTag(b, 4, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(m.DataType))
	}
	if m.IsHistorical {
		b = protowire.AppendTag(b, 5, protowire.VarintType)
		b = protowire.AppendVarint(b, 1)
	}
	if m.IsNull {
		b = protowire.AppendTag(b, 7, protowire.VarintType)
		return protowire.AppendVarint(b, 1)
	}
	switch v := m.Value.(type) {
	case bool:
		b = protowire.AppendTag(b, 14, protowire.VarintType)
		b = protowire.AppendVarint(b, protowire.EncodeBool(v))
	case uint64:
		b = protowire.AppendTag(b, 11, protowire.VarintType)
		b = protowire.AppendVarint(b, v)
	case float64:
		b = protowire.AppendTag(b, 13, protowire.Fixed64Type)
		b = protowire.AppendFixed64(b, math.Float64bits(v))
	case string:
		b = protowire.AppendTag(b, 15, protowire.BytesType)
		b = protowire.AppendString(b, v)
	}
	return b
}

// Unmarshal decodes a payload. Values of types Marshal does not write
// (float_value, int_value, bytes, data sets, templates) are read as far as
// they are scalars: int_value as uint64, float_value as float64; others are
// left nil.
func Unmarshal(b []byte) (Payload, error) {
	p := Payload{Seq: -1}
	if len(b) > MaxPayload {
		return p, fmt.Errorf("%w: %d bytes exceed %d", ErrMalformed, len(b), MaxPayload)
	}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return p, fmt.Errorf("%w: %v", ErrMalformed, protowire.ParseError(n))
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.VarintType:
			p.Timestamp, n = protowire.ConsumeVarint(b)
		case num == 3 && typ == protowire.VarintType:
			var s uint64
			s, n = protowire.ConsumeVarint(b)
			p.Seq = int(min(s, 1<<16))
		case num == 2 && typ == protowire.BytesType:
			var mb []byte
			mb, n = protowire.ConsumeBytes(b)
			if n < 0 {
				break
			}
			if len(p.Metrics) >= MaxMetrics {
				return p, fmt.Errorf("%w: more than %d metrics", ErrMalformed, MaxMetrics)
			}
			m, err := unmarshalMetric(mb)
			if err != nil {
				return p, fmt.Errorf("%w: metric %d: %v", ErrMalformed, len(p.Metrics), err)
			}
			p.Metrics = append(p.Metrics, m)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return p, fmt.Errorf("%w: field %d: %v", ErrMalformed, num, protowire.ParseError(n))
		}
		b = b[n:]
	}
	return p, nil
}

func unmarshalMetric(b []byte) (Metric, error) {
	var m Metric
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return m, protowire.ParseError(n)
		}
		b = b[n:]
		var v uint64
		switch {
		case (num == 1 || num == 15) && typ == protowire.BytesType:
			var s string
			s, n = protowire.ConsumeString(b)
			if n >= 0 && !utf8.ValidString(s) {
				return m, fmt.Errorf("field %d is not UTF-8", num)
			}
			if num == 1 {
				m.Name = s
			} else {
				m.Value = s
			}
		case num == 12 && typ == protowire.Fixed32Type:
			var x uint32
			x, n = protowire.ConsumeFixed32(b)
			m.Value = float64(math.Float32frombits(x))
		case num == 13 && typ == protowire.Fixed64Type:
			v, n = protowire.ConsumeFixed64(b)
			m.Value = math.Float64frombits(v)
		case typ == protowire.VarintType && (num <= 7 || num == 10 || num == 11 || num == 14):
			v, n = protowire.ConsumeVarint(b)
			m.setVarint(num, v)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return m, fmt.Errorf("field %d: %v", num, protowire.ParseError(n))
		}
		b = b[n:]
	}
	return m, nil
}

func (m *Metric) setVarint(num protowire.Number, v uint64) {
	switch num {
	case 2:
		m.Alias, m.HasAlias = v, true
	case 3:
		m.Timestamp = v
	case 4:
		m.DataType = uint32(v)
	case 5:
		m.IsHistorical = v != 0
	case 7:
		m.IsNull = v != 0
	case 10:
		m.Value = uint64(uint32(v))
	case 11:
		m.Value = v
	case 14:
		m.Value = v != 0
	}
}

// Rebirth is the name of the NCMD metric that asks an edge node to publish
// its births again.
const Rebirth = "Node Control/Rebirth"

// State is the payload of a Sparkplug 3.0 host application STATE message,
// published retained at QoS 1 on StateTopic: {"online":true,"timestamp":ms}.
type State struct {
	Online    bool  `json:"online"`
	Timestamp int64 `json:"timestamp"` // ms since the epoch
}

// Marshal encodes the state as JSON.
func (s State) Marshal() []byte {
	b, _ := json.Marshal(s) // cannot fail
	return b
}

// ParseState decodes a STATE payload; both keys are required.
func ParseState(b []byte) (State, error) {
	var raw struct {
		Online    *bool  `json:"online"`
		Timestamp *int64 `json:"timestamp"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return State{}, fmt.Errorf("%w: STATE: %v", ErrMalformed, err)
	}
	if raw.Online == nil || raw.Timestamp == nil {
		return State{}, fmt.Errorf("%w: STATE needs online and timestamp", ErrMalformed)
	}
	return State{Online: *raw.Online, Timestamp: *raw.Timestamp}, nil
}

// StateTopic is the STATE topic of a host application: spBv1.0/STATE/<id>.
func StateTopic(hostID string) string { return Namespace + "/STATE/" + hostID }

// ValidHostID reports whether id can be a host application id: a non-empty
// UTF-8 topic level without wildcards.
func ValidHostID(id string) bool {
	return id != "" && utf8.ValidString(id) && !strings.ContainsAny(id, "/+#\x00")
}

// Topic is the topic of an edge node's message (NBIRTH, NDATA, NDEATH,
// NCMD) or, with a device, of a device's (DBIRTH, DDATA, DDEATH, DCMD).
func Topic(group, typ, node, device string) string {
	t := Namespace + "/" + group + "/" + typ + "/" + node
	if device != "" {
		t += "/" + device
	}
	return t
}
