package buffer

import (
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// A stored record is framed: a format byte (frameV1), the length and bytes
// of the signal's subject tail (site.line.equipment), its 32-character id,
// then the signal's JSON encoding. The forwarder publishes from the frame
// without decoding the JSON. Records written before framing existed are
// bare JSON (they start with '{') and are still read.
const frameV1 = 0x01

// frame prefixes a signal's encoding with its subject tail and id.
func frame(s signal.Signal, js []byte) []byte {
	tail := s.Site + "." + s.Line + "." + s.Equipment
	id := s.ID()
	if len(tail) > 255 || len(id) != 32 {
		return js // cannot happen for valid signals; bare JSON is still readable
	}
	out := make([]byte, 0, 2+len(tail)+len(id)+len(js))
	out = append(out, frameV1, byte(len(tail)))
	out = append(out, tail...)
	out = append(out, id...)
	return append(out, js...)
}

// unframe splits a stored record; tail and id are empty for a bare JSON record.
func unframe(v []byte) (tail, id string, js []byte) {
	if len(v) < 2 || v[0] != frameV1 {
		return "", "", v
	}
	n := int(v[1])
	if len(v) < 2+n+32 {
		return "", "", v
	}
	return string(v[2 : 2+n]), string(v[2+n : 2+n+32]), v[2+n+32:]
}
