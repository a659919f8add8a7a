package signal

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// MaxEncodedSize is the largest encoded signal the hub accepts.
const MaxEncodedSize = 64 << 10

// wire is the JSON form of schema version 1:
//
//	{"v":1,"site":"s1","line":"L1","eq":"M01","sig":"run","b":true,
//	 "ts":"2026-10-01T06:00:00Z","rx":false,"q":"good","sc":0,"agent":"a1","seq":42}
//
// Exactly one of "b" (bool), "n" (number) or "s" (string) carries the value.
// A gap marker has "sig":"_gap" and "gap":{"from":..,"to":..,"dropped":n,"reason":".."}.
type wire struct {
	V     int        `json:"v"`
	Site  string     `json:"site"`
	Line  string     `json:"line"`
	Eq    string     `json:"eq"`
	Sig   string     `json:"sig"`
	B     *bool      `json:"b,omitempty"`
	N     *float64   `json:"n,omitempty"`
	S     *string    `json:"s,omitempty"`
	TS    time.Time  `json:"ts"`
	STS   *time.Time `json:"sts,omitempty"` // v2: the OPC UA ServerTimestamp, when there is also a source time
	RX    bool       `json:"rx,omitempty"`
	Q     string     `json:"q,omitempty"`
	SC    uint32     `json:"sc,omitempty"`
	Agent string     `json:"agent,omitempty"`
	Seq   uint64     `json:"seq,omitempty"`
	Gap   *wireGap   `json:"gap,omitempty"`
}

type wireGap struct {
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
	Dropped uint64    `json:"dropped"`
	Reason  string    `json:"reason,omitempty"`
}

// Marshal encodes a valid signal as schema version 1 JSON (version 2 when
// it has a server time): the wire struct's encoding, written by AppendMarshal.
func Marshal(s Signal) ([]byte, error) {
	return AppendMarshal(make([]byte, 0, 192), s)
}

// Unmarshal decodes and validates one encoded signal. Unknown fields are
// errors, so a schema mismatch is noticed rather than half-read.
func Unmarshal(data []byte) (Signal, error) {
	var d *Decoder // keeps no strings
	return d.Unmarshal(data)
}

// unmarshalJSON is Unmarshal by encoding/json: the definition of what
// decodes, and the path taken by everything the scanner (decode.go) leaves.
func unmarshalJSON(data []byte) (Signal, error) {
	var w wire
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return Signal{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if dec.More() {
		return Signal{}, fmt.Errorf("%w: trailing data", ErrInvalid)
	}
	return w.signal()
}

// signal checks a decoded wire form and turns it into a signal.
func (w *wire) signal() (Signal, error) {
	if w.V != SchemaVersion && w.V != SchemaVersionServerTime {
		return Signal{}, fmt.Errorf("%w: schema version %d, want %d or %d", ErrInvalid, w.V, SchemaVersion, SchemaVersionServerTime)
	}
	if w.STS != nil && w.V < SchemaVersionServerTime {
		return Signal{}, fmt.Errorf("%w: sts needs schema version %d", ErrInvalid, SchemaVersionServerTime)
	}
	s := Signal{
		Site: w.Site, Line: w.Line, Equipment: w.Eq, Name: w.Sig,
		Time: w.TS, Received: w.RX, Status: w.SC, Agent: w.Agent, Seq: w.Seq,
	}
	if w.STS != nil {
		s.ServerTime = *w.STS
	}
	q, err := ParseQuality(w.Q)
	if err != nil {
		return Signal{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	s.Quality = q
	n := 0
	if w.B != nil {
		s.Value = Bool(*w.B)
		n++
	}
	if w.N != nil {
		s.Value = Number(*w.N)
		n++
	}
	if w.S != nil {
		s.Value = String(*w.S)
		n++
	}
	if n > 1 {
		return Signal{}, fmt.Errorf("%w: more than one value field", ErrInvalid)
	}
	if w.Gap != nil {
		s.Gap = &Gap{From: w.Gap.From, To: w.Gap.To, Dropped: w.Gap.Dropped, Reason: w.Gap.Reason}
		if n == 0 {
			s.Value = Number(float64(w.Gap.Dropped))
		}
	}
	if err := s.Validate(); err != nil {
		return Signal{}, err
	}
	return s, nil
}
