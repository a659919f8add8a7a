package metrics

import "sync/atomic"

// DecodeReason is why a source set a message or value aside: the reason
// label of floorpulse_agent_decode_errors_total.
type DecodeReason uint8

// The reasons. Every one is reported for every source, 0 until it happens.
const (
	// BadPayload: the payload does not decode (not JSON, not UTF-8 text, a
	// malformed protobuf, no value at the configured path), or an OPC UA
	// notification or history result that cannot be read.
	BadPayload DecodeReason = iota
	// BadValue: the value has no signal value (JSON null, an object or an
	// array, a number that is not finite, a Sparkplug metric without a value
	// or whose value does not fit its data type, an OPC UA variant of a type
	// without one, or an empty one with good quality).
	BadValue
	// BadTimestamp: the payload's timestamp cannot be read, or is before
	// 2000 or more than a day ahead of the receive time.
	BadTimestamp
	// TooLarge: the payload or the signal exceeds a bound (64 KiB for
	// JSON and plain payloads and for an encoded signal; Sparkplug 4 MiB,
	// 50,000 metrics, 10,000 edge nodes or devices).
	TooLarge
	// WrongType: a value of a type the hub cannot interpret for its
	// signal name (signal.Signal.CheckType), e.g. a string for run.
	WrongType
	// UnmappedTopic: a message on a subscribed topic that the
	// subscription's template cannot map (or that is not a Sparkplug topic).
	UnmappedTopic
	// BeforeBirth: Sparkplug data of an edge node or device whose birth the
	// agent has not seen, or naming a metric by an alias no birth defined.
	BeforeBirth
	// SeqGap: a Sparkplug sequence number that does not follow the
	// previous one (messages lost), or is missing.
	SeqGap
	// RejectedNode: an OPC UA node the server refuses (unknown node id,
	// browse path without a target, refused filter, unreadable).
	RejectedNode

	numDecodeReasons
)

var decodeReasonNames = [numDecodeReasons]string{
	"bad_payload", "bad_value", "bad_timestamp", "too_large", "wrong_type",
	"unmapped_topic", "before_birth", "seq_gap", "rejected_node",
}

// String is the label value of the reason.
func (r DecodeReason) String() string {
	if r < numDecodeReasons {
		return decodeReasonNames[r]
	}
	return "unknown"
}

// DecodeReasons returns every reason label value, in the order of the
// constants.
func DecodeReasons() []string { return append([]string(nil), decodeReasonNames[:]...) }

// DecodeErrors counts a source's messages or values that could not be
// turned into signals, by reason.
type DecodeErrors struct {
	n [numDecodeReasons]atomic.Uint64
}

// Count counts one message or value set aside for reason r.
func (d *DecodeErrors) Count(r DecodeReason) {
	if r < numDecodeReasons {
		d.n[r].Add(1)
	}
}

// Of returns the count of reason r.
func (d *DecodeErrors) Of(r DecodeReason) uint64 {
	if r < numDecodeReasons {
		return d.n[r].Load()
	}
	return 0
}

// Load returns the count of every reason together.
func (d *DecodeErrors) Load() uint64 {
	var sum uint64
	for i := range d.n {
		sum += d.n[i].Load()
	}
	return sum
}
