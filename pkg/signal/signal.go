// Package signal is the wire contract between floorpulse agents and the hub.
//
// A Signal is one observation of one named signal of one piece of equipment at
// one source time. It travels as JSON (schema version 1, see Marshal) on the
// NATS subject Subject(prefix) and carries a stable ID: the same observation
// read twice (an MQTT redelivery, an OPC UA resend after a reconnect) has the
// same ID, so JetStream's duplicate window and the hub drop the copy.
//
// What always holds for a decoded Signal: Site, Line, Equipment and Name are
// non-empty and valid subject tokens, Time is set, and Value.Kind is known.
package signal

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// SchemaVersion is the version of the JSON encoding written by Marshal.
// Version 2 is version 1 plus the optional server timestamp "sts"; Marshal
// writes it only for signals that carry one, and Unmarshal reads both.
const (
	SchemaVersion           = 1
	SchemaVersionServerTime = 2
)

// Names of the signals the hub interprets. Any other numeric signal is a gauge.
const (
	Run      = "run"      // bool: the equipment is executing / producing
	State    = "state"    // string: running | idle | setup | down | planned_stop
	Operator = "operator" // string: operator ids logged in, comma separated; empty: nobody
	Login    = "login"    // string: one operator id logging in
	Logout   = "logout"   // string: one operator id logging out
	Count    = "count"    // number: good-part counter, monotonic with resets
	Scrap    = "scrap"    // number: scrap (reject) counter, monotonic with resets
	Power    = "power"    // number: electrical power drawn now, kW (also a gauge)
	Energy   = "energy"   // number: energy meter reading, kWh, monotonic with resets
	Alarm    = "alarm"    // string or number: active alarm; empty or 0 means none
	GapName  = "_gap"     // gap marker: the agent dropped data for this equipment
	// SeenName is a watermark: the source that feeds the equipment was
	// observed up to Time, so everything it sent up to then has arrived and
	// what it last said still holds; its value (true) means nothing else.
	SeenName = "_seen"
)

// Reserved reports whether name is one the agent alone writes (a gap marker,
// a watermark): names starting with "_". Decoders of payloads refuse them.
func Reserved(name string) bool { return strings.HasPrefix(name, "_") }

// Seen is the watermark of equipment k at t, written by agent.
func Seen(k Key, agent string, t time.Time) Signal {
	return Signal{Site: k.Site, Line: k.Line, Equipment: k.Equipment, Name: SeenName, Value: Bool(true), Time: t, Agent: agent}
}

// Kind is the type of a Value.
type Kind uint8

const (
	KindBool Kind = iota + 1
	KindNumber
	KindString
)

func (k Kind) String() string {
	switch k {
	case KindBool:
		return "bool"
	case KindNumber:
		return "number"
	case KindString:
		return "string"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Value is a bool, a number or a string.
type Value struct {
	Kind Kind
	Bool bool
	Num  float64
	Str  string
}

// Bool, Number and String build Values.
func Bool(b bool) Value            { return Value{Kind: KindBool, Bool: b} }
func Number(f float64) Value       { return Value{Kind: KindNumber, Num: f} }
func String(s string) Value        { return Value{Kind: KindString, Str: s} }
func (v Value) Equal(o Value) bool { return v == o }

func (v Value) String() string {
	switch v.Kind {
	case KindBool:
		return fmt.Sprint(v.Bool)
	case KindNumber:
		return fmt.Sprint(v.Num)
	case KindString:
		return v.Str
	}
	return "<invalid>"
}

// Truthy reports whether the value means "on": true, a non-zero number, or a
// string other than "", "0", "false", "off".
func (v Value) Truthy() bool {
	switch v.Kind {
	case KindBool:
		return v.Bool
	case KindNumber:
		return v.Num != 0
	case KindString:
		switch strings.ToLower(strings.TrimSpace(v.Str)) {
		case "", "0", "false", "off", "no":
			return false
		}
		return true
	}
	return false
}

// Quality of a value, after OPC UA's status code severity.
type Quality uint8

const (
	Good Quality = iota
	Uncertain
	Bad
)

func (q Quality) String() string {
	switch q {
	case Good:
		return "good"
	case Uncertain:
		return "uncertain"
	case Bad:
		return "bad"
	}
	return fmt.Sprintf("quality(%d)", uint8(q))
}

// ParseQuality is the inverse of Quality.String.
func ParseQuality(s string) (Quality, error) {
	switch s {
	case "", "good":
		return Good, nil
	case "uncertain":
		return Uncertain, nil
	case "bad":
		return Bad, nil
	}
	return 0, fmt.Errorf("unknown quality %q", s)
}

// QualityOf maps an OPC UA status code to a Quality by its severity bits.
func QualityOf(status uint32) Quality {
	switch status >> 30 {
	case 0:
		return Good
	case 1:
		return Uncertain
	default:
		return Bad
	}
}

// Gap describes data an agent knows it lost (dropped by a full buffer, or a
// source outage). The hub treats the range as unknown.
type Gap struct {
	From    time.Time
	To      time.Time
	Dropped uint64
	Reason  string
}

// Signal is one observation.
type Signal struct {
	Site      string
	Line      string
	Equipment string
	Name      string
	Value     Value
	// Time is the source timestamp (OPC UA SourceTimestamp or the payload's own time).
	Time time.Time
	// Received is true when the source gave no timestamp and Time is the agent's receive time.
	Received bool
	// ServerTime is the OPC UA ServerTimestamp when Time is the SourceTimestamp
	// (zero otherwise). It is not part of the signal's identity.
	ServerTime time.Time
	Quality    Quality
	// Status is the raw status code (OPC UA), 0 when the source has none.
	Status uint32
	Agent  string
	// Seq is the agent's sequence number (its queue position), for tracing and ordering.
	Seq uint64
	// Gap is set on gap markers (Name == GapName).
	Gap *Gap
}

// ID is the stable dedupe key of the observation: the same equipment, signal,
// source time and value always give the same ID, whoever reads it and however
// often. It deliberately leaves out Agent, Seq and quality, which differ between
// reads of one observation.
func (s Signal) ID() string {
	var b [32]byte
	return string(AppendID(b[:0], s))
}

// Key identifies the equipment a signal belongs to.
type Key struct {
	Site, Line, Equipment string
}

func (k Key) String() string { return k.Site + "/" + k.Line + "/" + k.Equipment }

// Key returns the equipment key of the signal.
func (s Signal) Key() Key { return Key{s.Site, s.Line, s.Equipment} }

// SubjectPrefix is the default NATS subject prefix for signals.
const SubjectPrefix = "floorpulse.signals"

// Subject is the NATS subject of the signal: prefix.site.line.equipment.
func (s Signal) Subject(prefix string) string {
	return prefix + "." + s.Site + "." + s.Line + "." + s.Equipment
}

// ErrInvalid is wrapped by every validation error.
var ErrInvalid = errors.New("invalid signal")

// maxNameLen bounds identifiers so a subject stays well under NATS limits.
const maxNameLen = 128

// ValidToken reports whether s can be used as a site, line, equipment or
// signal name: non-empty, at most 128 bytes, and none of the characters NATS
// subjects reserve (". * > space") or control characters.
func ValidToken(s string) bool {
	if s == "" || len(s) > maxNameLen {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r == '.' || r == '*' || r == '>' || r == 0x7f {
			return false
		}
	}
	return true
}

// earliest and latest bound plausible source timestamps.
var (
	earliest = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	latest   = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// Validate checks the invariants of a Signal and names the offending field.
func (s Signal) Validate() error {
	var errs []error
	for _, f := range []struct{ name, v string }{{"site", s.Site}, {"line", s.Line}, {"equipment", s.Equipment}, {"name", s.Name}} {
		if !ValidToken(f.v) {
			errs = append(errs, fmt.Errorf("%w: %s %q is not a valid name", ErrInvalid, f.name, f.v))
		}
	}
	if s.Time.Before(earliest) || !s.Time.Before(latest) {
		errs = append(errs, fmt.Errorf("%w: time %s out of range", ErrInvalid, s.Time.Format(time.RFC3339Nano)))
	}
	switch s.Value.Kind {
	case KindBool, KindString:
	case KindNumber:
		if math.IsNaN(s.Value.Num) || math.IsInf(s.Value.Num, 0) {
			errs = append(errs, fmt.Errorf("%w: value %v is not a finite number", ErrInvalid, s.Value.Num))
		}
	default:
		errs = append(errs, fmt.Errorf("%w: value kind %d unknown", ErrInvalid, s.Value.Kind))
	}
	if s.Quality > Bad {
		errs = append(errs, fmt.Errorf("%w: quality %d unknown", ErrInvalid, s.Quality))
	}
	if (s.Name == GapName) != (s.Gap != nil) {
		errs = append(errs, fmt.Errorf("%w: gap marker must have name %q and a gap", ErrInvalid, GapName))
	}
	return errors.Join(errs...)
}
