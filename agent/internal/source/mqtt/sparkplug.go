package mqtt

import (
	"errors"
	"fmt"
	"math"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/floorpulse/floorpulse/agent/internal/metrics"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// This file reads the Sparkplug B Payload protobuf (sparkplug_b.proto, proto2)
// by hand. Only the fields the agent uses are kept; every other field is
// skipped by its wire type, so payloads from newer Tahu versions still decode.
//
//	message Payload { optional uint64 timestamp = 1; repeated Metric metrics = 2; optional uint64 seq = 3; ... }
//	message Metric  { optional string name = 1; optional uint64 alias = 2; optional uint64 timestamp = 3;
//	                  optional uint32 datatype = 4; optional bool is_null = 7;
//	                  oneof value { uint32 int_value = 10; uint64 long_value = 11; float float_value = 12;
//	                                double double_value = 13; bool boolean_value = 14; string string_value = 15; ... } }

// Limits that keep a hostile or broken payload from taking the agent's memory.
const (
	maxSparkplugPayload = 4 << 20 // bytes; births of large edge nodes reach a few hundred KiB
	maxSparkplugMetrics = 50000   // metrics in one payload
)

// Sparkplug B data types (the subset whose values become signals, and the
// integer widths needed to read int_value).
const (
	spInt8     = 1
	spInt16    = 2
	spInt32    = 3
	spInt64    = 4
	spUInt8    = 5
	spUInt16   = 6
	spUInt32   = 7
	spUInt64   = 8
	spFloat    = 9
	spDouble   = 10
	spBoolean  = 11
	spString   = 12
	spDateTime = 13
	spText     = 14
	spUUID     = 15
)

// Field numbers of the oneof value.
const (
	fieldIntValue    = 10
	fieldLongValue   = 11
	fieldFloatValue  = 12
	fieldDoubleValue = 13
	fieldBoolValue   = 14
	fieldStringValue = 15
)

// spPayload is a decoded Sparkplug B payload.
type spPayload struct {
	timestamp    uint64 // ms since the epoch
	hasTimestamp bool
	seq          uint64
	hasSeq       bool
	metrics      []spMetric
}

// historical reports whether any metric of the payload is flagged
// is_historical (sent late, from the edge node's store).
func (p *spPayload) historical() bool {
	for i := range p.metrics {
		if p.metrics[i].historical {
			return true
		}
	}
	return false
}

// spMetric is one decoded metric. valueField is the field number of the
// value oneof that was set (0: none).
type spMetric struct {
	name                  string
	hasName               bool
	alias                 uint64
	hasAlias              bool
	timestamp             uint64
	hasTimestamp          bool
	datatype              uint32
	hasDatatype           bool
	isNull                bool
	historical            bool // is_historical: sent late, from the edge node's store
	valueField            protowire.Number
	u64                   uint64 // int_value, long_value, boolean_value
	f64                   float64
	str                   string
	unsupportedValueField bool // dataset, template, extension, bytes
}

// parseSparkplug decodes a Sparkplug B Payload.
func parseSparkplug(b []byte) (spPayload, error) {
	var p spPayload
	if len(b) > maxSparkplugPayload {
		return p, aside(metrics.TooLarge, "sparkplug payload of %d bytes exceeds %d", len(b), maxSparkplugPayload)
	}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return p, aside(metrics.BadPayload, "sparkplug payload: %v", protowire.ParseError(n))
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.VarintType:
			p.timestamp, n = protowire.ConsumeVarint(b)
			p.hasTimestamp = true
		case num == 3 && typ == protowire.VarintType:
			p.seq, n = protowire.ConsumeVarint(b)
			p.hasSeq = true
		case num == 2 && typ == protowire.BytesType:
			var mb []byte
			mb, n = protowire.ConsumeBytes(b)
			if n < 0 {
				break
			}
			if len(p.metrics) >= maxSparkplugMetrics {
				return p, aside(metrics.TooLarge, "sparkplug payload has more than %d metrics", maxSparkplugMetrics)
			}
			m, err := parseMetric(mb)
			if err != nil {
				return p, aside(metrics.BadPayload, "sparkplug metric %d: %v", len(p.metrics), err)
			}
			p.metrics = append(p.metrics, m)
		case num == 1 || num == 2 || num == 3:
			return p, aside(metrics.BadPayload, "sparkplug payload field %d has wire type %d", num, typ)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return p, aside(metrics.BadPayload, "sparkplug payload field %d: %v", num, protowire.ParseError(n))
		}
		b = b[n:]
	}
	return p, nil
}

func parseMetric(b []byte) (spMetric, error) {
	var m spMetric
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return m, protowire.ParseError(n)
		}
		b = b[n:]
		known := num >= 1 && num <= 19
		if want := metricWireType(num); known && typ != want {
			return m, fmt.Errorf("field %d has wire type %d, want %d", num, typ, want)
		}
		var v uint64
		switch {
		case !known || num == 6 || num == 8 || num == 9:
			// unknown, is_transient, metadata, properties
			n = protowire.ConsumeFieldValue(num, typ, b)
		case num == 1 || num == 15:
			var s string
			s, n = protowire.ConsumeString(b)
			if n >= 0 && !utf8.ValidString(s) {
				return m, fmt.Errorf("field %d is not UTF-8", num)
			}
			if num == 1 {
				m.name, m.hasName = s, true
			} else {
				m.str, m.valueField = s, num
			}
		case num >= 16:
			n = protowire.ConsumeFieldValue(num, typ, b)
			m.valueField, m.unsupportedValueField = num, true
		case num == 12:
			var x uint32
			x, n = protowire.ConsumeFixed32(b)
			m.f64, m.valueField = float64(math.Float32frombits(x)), num
		case num == 13:
			v, n = protowire.ConsumeFixed64(b)
			m.f64, m.valueField = math.Float64frombits(v), num
		default: // varints
			v, n = protowire.ConsumeVarint(b)
			m.setVarint(num, v)
		}
		if n < 0 {
			return m, fmt.Errorf("field %d: %v", num, protowire.ParseError(n))
		}
		b = b[n:]
	}
	return m, nil
}

// metricWireType is the wire type of a known Metric field.
func metricWireType(num protowire.Number) protowire.Type {
	switch num {
	case 1, 15, 16, 17, 18, 19, 8, 9:
		return protowire.BytesType
	case 12:
		return protowire.Fixed32Type
	case 13:
		return protowire.Fixed64Type
	}
	return protowire.VarintType
}

// setVarint keeps the value of a varint field of a Metric.
func (m *spMetric) setVarint(num protowire.Number, v uint64) {
	switch num {
	case 2:
		m.alias, m.hasAlias = v, true
	case 3:
		m.timestamp, m.hasTimestamp = v, true
	case 4:
		m.datatype, m.hasDatatype = uint32(v), true
	case 5:
		m.historical = v != 0
	case 7:
		m.isNull = v != 0
	case fieldIntValue:
		m.u64, m.valueField = uint64(uint32(v)), num
	case fieldLongValue:
		m.u64, m.valueField = v, num
	case fieldBoolValue:
		m.u64, m.valueField = v, num
	}
}

// errUnsupported marks a metric whose data type has no signal value (bytes,
// data sets, templates, files, arrays, property sets): skipped, not an error.
var errUnsupported = errors.New("unsupported sparkplug data type")

// value converts a metric's value; dtype is its data type (from the metric
// or its birth; 0 when unknown, then the value field decides). A null metric
// gives the empty string (its quality says it means nothing).
func (m *spMetric) value(dtype uint32) (signal.Value, error) {
	if m.isNull {
		return signal.String(""), nil
	}
	if m.unsupportedValueField || dtype > spUUID {
		return signal.Value{}, errUnsupported
	}
	if m.valueField == 0 {
		return signal.Value{}, aside(metrics.BadValue, "metric %q has no value", m.name)
	}
	isInt := m.valueField == fieldIntValue || m.valueField == fieldLongValue
	mismatch := func() (signal.Value, error) {
		return signal.Value{}, aside(metrics.BadValue, "metric %q of data type %d carries value field %d", m.name, dtype, m.valueField)
	}
	switch dtype {
	case 0: // unknown: the value field decides
		switch m.valueField {
		case fieldIntValue, fieldLongValue:
			return signal.Number(float64(m.u64)), nil
		case fieldFloatValue, fieldDoubleValue:
			return finite(m.f64, m.name)
		case fieldBoolValue:
			return signal.Bool(m.u64 != 0), nil
		case fieldStringValue:
			return signal.String(m.str), nil
		}
	case spInt8, spInt16, spInt32, spInt64:
		// Int8..Int32 travel in the uint32 int_value, some writers as a
		// 32-bit two's complement, others adding 2^width to negatives;
		// truncating to the width and sign-extending reads both. Some
		// writers put any integer in long_value.
		if !isInt {
			return mismatch()
		}
		switch dtype {
		case spInt8:
			return signal.Number(float64(int8(m.u64))), nil
		case spInt16:
			return signal.Number(float64(int16(m.u64))), nil
		case spInt32:
			return signal.Number(float64(int32(m.u64))), nil
		}
		return signal.Number(float64(int64(m.u64))), nil
	case spUInt8, spUInt16, spUInt32, spUInt64, spDateTime:
		if !isInt {
			return mismatch()
		}
		return signal.Number(float64(m.u64)), nil // DateTime: ms since the epoch
	case spFloat, spDouble:
		if m.valueField != fieldFloatValue && m.valueField != fieldDoubleValue {
			return mismatch()
		}
		return finite(m.f64, m.name)
	case spBoolean:
		if m.valueField != fieldBoolValue {
			return mismatch()
		}
		return signal.Bool(m.u64 != 0), nil
	case spString, spText, spUUID:
		if m.valueField != fieldStringValue {
			return mismatch()
		}
		return signal.String(m.str), nil
	default:
		return signal.Value{}, errUnsupported
	}
	return mismatch()
}

func finite(f float64, name string) (signal.Value, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return signal.Value{}, aside(metrics.BadValue, "metric %q is not a finite number", name)
	}
	return signal.Number(f), nil
}

// msTime converts a Sparkplug timestamp (ms since the epoch).
func msTime(ms uint64) time.Time {
	if ms > math.MaxInt64/uint64(time.Millisecond) {
		return time.Time{} // out of any plausible range; rejected by the caller
	}
	return time.UnixMilli(int64(ms)).UTC()
}

// rebirthRequest encodes the NCMD payload that asks an edge node to publish
// its births again: one metric "Node Control/Rebirth" = true.
func rebirthRequest(now time.Time) []byte {
	ms := uint64(now.UnixMilli())
	var m []byte
	m = protowire.AppendTag(m, 1, protowire.BytesType)
	m = protowire.AppendString(m, "Node Control/Rebirth")
	m = protowire.AppendTag(m, 3, protowire.VarintType)
	m = protowire.AppendVarint(m, ms)
	m = protowire.AppendTag(m, 4, protowire.VarintType)
	m = protowire.AppendVarint(m, spBoolean)
	m = protowire.AppendTag(m, fieldBoolValue, protowire.VarintType)
	m = protowire.AppendVarint(m, 1)
	var p []byte
	p = protowire.AppendTag(p, 1, protowire.VarintType)
	p = protowire.AppendVarint(p, ms)
	p = protowire.AppendTag(p, 2, protowire.BytesType)
	p = protowire.AppendBytes(p, m)
	return p
}
