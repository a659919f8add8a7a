package buffer

import (
	"unsafe"

	"github.com/floorpulse/floorpulse/pkg/signal"
)

// A stored record is framed: a format byte (frameV1), the length and bytes
// of the signal's subject tail (site.line.equipment), its 32-character id,
// then the signal's JSON encoding. The forwarder publishes from the frame
// without decoding the JSON. Records written before framing existed are
// bare JSON (they start with '{') and are still read.
const frameV1 = 0x01

// appendFrame appends the stored form of s to dst: the frame header, the
// subject tail and id, then the signal's JSON encoding.
func appendFrame(dst []byte, s signal.Signal) ([]byte, error) {
	n := len(s.Site) + len(s.Line) + len(s.Equipment) + 2
	if n > 255 {
		return signal.AppendMarshal(dst, s) // cannot happen for valid names; bare JSON is still readable
	}
	b := append(dst, frameV1, byte(n))
	b = append(b, s.Site...)
	b = append(b, '.')
	b = append(b, s.Line...)
	b = append(b, '.')
	b = append(b, s.Equipment...)
	b = signal.AppendID(b, s)
	b, err := signal.AppendMarshal(b, s)
	if err != nil {
		return dst, err
	}
	return b, nil
}

// frameParts splits a stored record into its subject tail, id and JSON,
// without copying; tail and id are nil for a bare JSON record.
func frameParts(v []byte) (tail, id, js []byte) {
	if len(v) < 2 || v[0] != frameV1 || len(v) < 2+int(v[1])+32 {
		return nil, nil, v
	}
	n := int(v[1])
	return v[2 : 2+n], v[2+n : 2+n+32], v[2+n+32:]
}

// unframe splits a stored record; tail and id are empty for a bare JSON record.
func unframe(v []byte) (tail, id string, js []byte) {
	t, i, js := frameParts(v)
	return string(t), string(i), js
}

// peeked makes the Record of a stored value v that was copied out of the
// file and is not written again: Tail and ID are strings over v's bytes,
// not copies of them (Data, which the caller may change, does not overlap
// them).
func peeked(seq uint64, v []byte) Record {
	tail, id, js := frameParts(v)
	return Record{Seq: seq, Data: js, Tail: unsafe.String(unsafe.SliceData(tail), len(tail)), ID: unsafe.String(unsafe.SliceData(id), len(id))}
}
