package mqtt

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/floorpulse/floorpulse/agent/internal/buffer"
)

// The birth state of every edge node is kept in the queue file (buffer.Put
// records), committed with the signals of the message that changed it, so
// that whatever the broker was told is committed can still be read after a
// crash: the alias maps, data types and signals of a birth, the bdSeq, the
// sequence number and the node's last data time. Keys, under the prefix of
// one subscription (stateKey):
//
//	<group>/<edge_node> \x00 n           the node's birth: bdSeq, birth time, its own metrics
//	<group>/<edge_node> \x00 p           position: seq, last data time
//	<group>/<edge_node> \x00 d <device>  a device's birth
//
// MQTT topics cannot hold U+0000, so the separator is unambiguous. A death
// deletes the records: a dead node or device is one whose birth is unknown.

const (
	recNode     = 'n'
	recPosition = 'p'
	recDevice   = 'd'

	recVersion = 1
)

// errRecord marks a stored record that cannot be read; it is skipped (the
// edge node is then asked to rebirth, as if it had never been seen).
var errRecord = errors.New("unreadable sparkplug state record")

// stateKey is the key prefix of the state of one subscription of a broker.
func stateKey(broker, filter string) string {
	return "sparkplug\x00" + broker + "\x00" + filter + "\x00"
}

func (d *Sparkplug) recKey(node string, kind byte, device string) []byte {
	k := make([]byte, 0, len(d.prefix)+len(node)+2+len(device))
	k = append(k, d.prefix...)
	k = append(k, node...)
	k = append(k, 0, kind)
	return append(k, device...)
}

// Node flags.
const (
	flagBorn  = 1 << iota // the birth is current
	flagBdSeq             // the birth carried a bdSeq
	flagRx                // the last data time is a receive time
)

func appendScope(b []byte, sc *spScope) []byte {
	b = protowire.AppendVarint(b, uint64(len(sc.alias)))
	for a, name := range sc.alias {
		b = protowire.AppendVarint(b, a)
		b = protowire.AppendString(b, name)
	}
	b = protowire.AppendVarint(b, uint64(len(sc.dtype)))
	for name, t := range sc.dtype {
		b = protowire.AppendString(b, name)
		b = protowire.AppendVarint(b, uint64(t))
	}
	b = protowire.AppendVarint(b, uint64(len(sc.known)))
	for k := range sc.known {
		for _, s := range [...]string{k.site, k.line, k.equipment, k.name} {
			b = protowire.AppendString(b, s)
		}
	}
	return b
}

// encodeNode is the node record: its birth and its own metrics.
func encodeNode(n *spNode) []byte {
	var flags uint64
	if n.self.born {
		flags |= flagBorn
	}
	if n.hasBdSeq {
		flags |= flagBdSeq
	}
	b := []byte{recVersion}
	b = protowire.AppendVarint(b, flags)
	b = protowire.AppendVarint(b, n.bdSeq)
	b = protowire.AppendVarint(b, protowire.EncodeZigZag(n.birthAt))
	return appendScope(b, n.self)
}

// encodeDevice is a device record: its birth.
func encodeDevice(sc *spScope) []byte {
	var flags uint64
	if sc.born {
		flags |= flagBorn
	}
	b := []byte{recVersion}
	b = protowire.AppendVarint(b, flags)
	return appendScope(b, sc)
}

// encodePosition is the position record: sequence number and last data time.
func encodePosition(n *spNode) []byte {
	var flags uint64
	if n.lastRx {
		flags |= flagRx
	}
	b := []byte{recVersion}
	b = protowire.AppendVarint(b, n.seq)
	b = protowire.AppendVarint(b, protowire.EncodeZigZag(n.last))
	return protowire.AppendVarint(b, flags)
}

// reader consumes a record; the first failure sticks.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", errRecord, what)
	}
}

func (r *reader) varint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := protowire.ConsumeVarint(r.b)
	if n < 0 {
		r.fail("truncated number")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) str() string {
	if r.err != nil {
		return ""
	}
	s, n := protowire.ConsumeString(r.b)
	if n < 0 || !utf8.ValidString(s) {
		r.fail("bad string")
		return ""
	}
	r.b = r.b[n:]
	return s
}

// count reads a number of entries, at most limit and at most one per byte
// left, so that a damaged record cannot make the agent allocate much.
func (r *reader) count(limit int) int {
	n := r.varint()
	if n > uint64(limit) || n > uint64(len(r.b)) {
		r.fail("too many entries")
		return 0
	}
	return int(n)
}

func (r *reader) version() {
	if len(r.b) == 0 || r.b[0] != recVersion {
		r.fail("unknown version")
		return
	}
	r.b = r.b[1:]
}

func (r *reader) scope() *spScope {
	sc := newScope()
	for i, n := 0, r.count(maxSparkplugMetrics); i < n; i++ {
		a := r.varint()
		sc.alias[a] = r.str()
	}
	for i, n := 0, r.count(maxKnown); i < n; i++ {
		name := r.str()
		sc.dtype[name] = uint32(r.varint())
	}
	for i, n := 0, r.count(maxKnown); i < n; i++ {
		sc.known[sigKey{r.str(), r.str(), r.str(), r.str()}] = struct{}{}
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail("trailing bytes")
	}
	return sc
}

// Restore loads one stored record (key without the subscription's prefix).
func (d *Sparkplug) Restore(key, value []byte) error {
	node, rest, ok := strings.Cut(string(key), "\x00")
	if !ok || rest == "" {
		return fmt.Errorf("%w: key %q", errRecord, key)
	}
	kind, device := rest[0], rest[1:]
	d.mu.Lock()
	defer d.mu.Unlock()
	n := d.nodes[node]
	if n == nil {
		if len(d.nodes) >= maxNodes {
			return fmt.Errorf("%w: more than %d sparkplug edge nodes", errRecord, maxNodes)
		}
		n = &spNode{self: newScope(), devices: map[string]*spScope{}}
		d.nodes[node] = n
	}
	r := &reader{b: value}
	r.version()
	switch kind {
	case recNode:
		flags := r.varint()
		bd := r.varint()
		at := protowire.DecodeZigZag(r.varint())
		sc := r.scope()
		if r.err != nil {
			return r.err
		}
		sc.born = flags&flagBorn != 0
		n.self, n.bdSeq, n.hasBdSeq, n.birthAt = sc, bd, flags&flagBdSeq != 0, at
	case recDevice:
		if _, ok := n.devices[device]; !ok && len(n.devices) >= maxNodes {
			return fmt.Errorf("%w: more than %d devices on edge node %s", errRecord, maxNodes, node)
		}
		flags := r.varint()
		sc := r.scope()
		if r.err != nil {
			return r.err
		}
		sc.born = flags&flagBorn != 0
		n.devices[device] = sc
	case recPosition:
		seq := r.varint()
		last := protowire.DecodeZigZag(r.varint())
		flags := r.varint()
		if r.err == nil && (seq > 255 || len(r.b) != 0) {
			r.fail("bad position")
		}
		if r.err != nil {
			return r.err
		}
		n.seq, n.last, n.lastRx = seq, last, flags&flagRx != 0
	default:
		return fmt.Errorf("%w: key %q", errRecord, key)
	}
	return nil
}

// Prefix is the key prefix of the subscription's records.
func (d *Sparkplug) Prefix() string { return d.prefix }

// saver gathers the record writes a message causes.
type saver struct {
	d    *Sparkplug
	node string
	puts []buffer.Put
}

func (s *saver) put(kind byte, device string, v []byte) {
	s.puts = append(s.puts, buffer.Put{Key: s.d.recKey(s.node, kind, device), Value: v})
}

func (s *saver) del(kind byte, device string) {
	s.puts = append(s.puts, buffer.Put{Key: s.d.recKey(s.node, kind, device)})
}

// nanos and fromNanos convert the times kept in records.
func nanos(t time.Time) int64 { return t.UnixNano() }

func fromNanos(ns int64) time.Time { return time.Unix(0, ns).UTC() }
