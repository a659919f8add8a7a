package mqtt

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/floorpulse/floorpulse/agent/internal/config"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// StatusNoCommunication is the status code (OPC UA Bad_NoCommunication) of
// the bad-quality signals emitted when an edge node or device dies: its
// metrics have no current value until it is born again.
const StatusNoCommunication uint32 = 0x80310000

// Sparkplug problems are counted as decode errors; the message's other
// metrics are still used.
var (
	errSeqGap       = errors.New("sparkplug sequence number gap")
	errUnknownAlias = errors.New("sparkplug metric alias unknown (no birth seen)")
	errNoBirth      = errors.New("sparkplug data before the birth")
	errBadMetric    = errors.New("sparkplug metric unusable")
)

// rebirthEvery bounds how often one edge node is asked to rebirth.
const rebirthEvery = 10 * time.Second

// maxKnown bounds the signals remembered per node or device (for deaths) and
// the edge nodes tracked per subscription.
const (
	maxKnown = 100000
	maxNodes = 10000
)

// spOutcome is what one Sparkplug message gives.
type spOutcome struct {
	signals  []signal.Signal
	problems []error // each counted as a decode error; at most one per kind
	rebirth  string  // NCMD topic to send a rebirth request to; "" for none
	unmapped int     // metrics no mapping matched (skipped)
	example  string  // the name of one unmapped metric, for the log
}

// problem records err unless a problem of its kind is already recorded.
func (o *spOutcome) problem(err error) {
	for _, p := range o.problems {
		for _, kind := range []error{errSeqGap, errUnknownAlias, errNoBirth, errBadMetric} {
			if errors.Is(p, kind) && errors.Is(err, kind) {
				return
			}
		}
	}
	o.problems = append(o.problems, err)
}

// sigKey names a signal (without its value and time).
type sigKey struct{ site, line, equipment, name string }

// spMapping is a metric name's place in the signal space.
type spMapping struct {
	key sigKey
	ok  bool
}

// spScope is what is known of an edge node's own metrics or of one device's.
type spScope struct {
	born   bool
	alias  map[uint64]string
	dtype  map[string]uint32
	mapped map[string]spMapping
	known  map[sigKey]struct{} // emitted since the birth: marked bad on death
}

func newScope() *spScope {
	return &spScope{alias: map[uint64]string{}, dtype: map[string]uint32{}, mapped: map[string]spMapping{}, known: map[sigKey]struct{}{}}
}

// spNode is the state of one edge node (group/edge_node).
type spNode struct {
	self        *spScope
	devices     map[string]*spScope
	seq         uint64 // last sequence number; valid when self.born
	bdSeq       uint64
	hasBdSeq    bool
	lastRebirth time.Time
}

// Sparkplug decodes the messages of one sparkplug_b subscription. It keeps,
// per edge node, the alias -> name map and data types from the births, the
// sequence number and birth/death sequence, and the signals emitted since the
// birth, so that a death marks them bad.
type Sparkplug struct {
	tmpl   config.Template
	metric config.Template
	rename map[string]string
	fixed  map[string]string
	agent  string

	mu    sync.Mutex
	nodes map[string]*spNode
}

// NewSparkplug builds the decoder of a validated sparkplug_b subscription.
func NewSparkplug(sub config.Subscription, defaultSite, agent string) *Sparkplug {
	site := sub.Site
	if site == "" {
		site = defaultSite
	}
	return &Sparkplug{
		tmpl: sub.Compiled(), metric: sub.CompiledMetric(), rename: sub.Rename, agent: agent,
		fixed: map[string]string{config.FieldSite: site, config.FieldLine: sub.Line, config.FieldEquipment: sub.Equipment, config.FieldSignal: sub.Signal},
		nodes: map[string]*spNode{},
	}
}

// Decode turns one message into signals, updating the edge node's state. A
// non-nil error means the whole message is unusable (counted once); problems
// with parts of it are in the outcome.
func (d *Sparkplug) Decode(topic string, payload []byte, rx time.Time) (spOutcome, error) {
	var out spOutcome
	parts := strings.Split(topic, "/")
	if len(parts) < 3 || parts[0] != config.SparkplugNamespace {
		return out, fmt.Errorf("%w: %q is not a sparkplug topic", errDecode, topic)
	}
	if parts[1] == "STATE" {
		return out, nil // host application state (Sparkplug 3.0), not a payload
	}
	typ := parts[2]
	switch typ {
	case "NCMD", "DCMD":
		return out, nil // commands to edge nodes, our own rebirth requests among them
	case "NBIRTH", "NDATA", "NDEATH":
		if len(parts) != 4 {
			return out, fmt.Errorf("%w: %s topic %q must have 4 levels", errDecode, typ, topic)
		}
	case "DBIRTH", "DDATA", "DDEATH":
		if len(parts) != 5 {
			return out, fmt.Errorf("%w: %s topic %q must have 5 levels", errDecode, typ, topic)
		}
	default:
		return out, fmt.Errorf("%w: unknown sparkplug message type %q", errDecode, typ)
	}
	if !utf8.ValidString(topic) {
		return out, fmt.Errorf("%w: topic is not UTF-8", errDecode)
	}
	n := min(d.tmpl.Len(), len(parts))
	fields, err := d.tmpl.Prefix(n).Match(strings.Join(parts[:n], "/"))
	if err != nil {
		return out, fmt.Errorf("%w: %v", errDecode, err)
	}
	p, err := parseSparkplug(payload)
	if err != nil {
		return out, err
	}

	d.mu.Lock()
	defer d.mu.Unlock()
	nodeKey := parts[1] + "/" + parts[3]
	node := d.nodes[nodeKey]
	if node == nil {
		if len(d.nodes) >= maxNodes {
			return out, fmt.Errorf("%w: more than %d sparkplug edge nodes", errDecode, maxNodes)
		}
		node = &spNode{self: newScope(), devices: map[string]*spScope{}}
		d.nodes[nodeKey] = node
	}
	ncmd := config.SparkplugNamespace + "/" + parts[1] + "/NCMD/" + parts[3]
	askRebirth := func() {
		if node.lastRebirth.IsZero() || rx.Sub(node.lastRebirth) >= rebirthEvery || rx.Before(node.lastRebirth) {
			node.lastRebirth = rx
			out.rebirth = ncmd
		}
	}
	checkSeq := func() {
		switch {
		case !node.self.born:
			out.problem(errNoBirth)
			askRebirth()
		case !p.hasSeq || p.seq > 255:
			out.problem(fmt.Errorf("%w: %s without a valid seq", errSeqGap, typ))
			askRebirth()
		case p.seq != (node.seq+1)%256:
			out.problem(fmt.Errorf("%w: %s seq %d after %d", errSeqGap, typ, p.seq, node.seq))
			askRebirth()
		}
		if p.hasSeq {
			node.seq = p.seq % 256
		}
	}
	device := func() *spScope {
		dev := node.devices[parts[4]]
		if dev == nil {
			if len(node.devices) >= maxNodes {
				return nil
			}
			dev = newScope()
			node.devices[parts[4]] = dev
		}
		return dev
	}

	switch typ {
	case "NBIRTH":
		// A node birth starts over: every device births again after it.
		node.self, node.devices = newScope(), map[string]*spScope{}
		node.self.born = true
		node.seq = p.seq % 256
		node.bdSeq, node.hasBdSeq = bdSeqOf(&p)
		if d.emit(&out, node.self, fields, &p, rx, true) {
			askRebirth()
		}
	case "DBIRTH":
		checkSeq()
		dev := device()
		if dev == nil {
			return out, fmt.Errorf("%w: more than %d devices on edge node %s", errDecode, maxNodes, nodeKey)
		}
		*dev = *newScope()
		dev.born = true
		if d.emit(&out, dev, fields, &p, rx, true) {
			askRebirth()
		}
	case "NDATA":
		checkSeq()
		if d.emit(&out, node.self, fields, &p, rx, false) {
			askRebirth()
		}
	case "DDATA":
		checkSeq()
		dev := device()
		if dev == nil {
			return out, fmt.Errorf("%w: more than %d devices on edge node %s", errDecode, maxNodes, nodeKey)
		}
		if !dev.born && node.self.born {
			out.problem(fmt.Errorf("%w: DDATA of device %q", errNoBirth, parts[4]))
			askRebirth()
		}
		if d.emit(&out, dev, fields, &p, rx, false) {
			askRebirth()
		}
	case "NDEATH":
		// The death is the node's MQTT will, written when it connected: its
		// timestamp is stale, so the death time is the receive time. A death
		// whose bdSeq is not the current birth's belongs to an earlier
		// session and is ignored.
		if !node.self.born {
			return out, nil
		}
		if bd, ok := bdSeqOf(&p); ok && node.hasBdSeq && bd != node.bdSeq {
			return out, nil
		}
		for _, dev := range node.devices {
			d.die(&out, dev, rx, true)
		}
		d.die(&out, node.self, rx, true)
		node.devices = map[string]*spScope{}
	case "DDEATH":
		checkSeq()
		dev := node.devices[parts[4]]
		if dev == nil || !dev.born {
			return out, nil
		}
		at, flagged := rx, true
		if p.hasTimestamp {
			if t := msTime(p.timestamp); plausibleAt(t, rx) {
				at, flagged = t, false
			}
		}
		d.die(&out, dev, at, flagged)
	}
	return out, nil
}

// bdSeqOf returns the value of the payload's bdSeq metric.
func bdSeqOf(p *spPayload) (uint64, bool) {
	for i := range p.metrics {
		if m := &p.metrics[i]; m.name == "bdSeq" && (m.valueField == fieldLongValue || m.valueField == fieldIntValue) {
			return m.u64, true
		}
	}
	return 0, false
}

// emit converts the metrics of a birth or data message; a birth (re)defines
// aliases and data types. It reports whether a metric's alias was unknown
// (the edge node should be asked to rebirth).
func (d *Sparkplug) emit(out *spOutcome, sc *spScope, fields map[string]string, p *spPayload, rx time.Time, birth bool) (unknownAlias bool) {
	for i := range p.metrics {
		m := &p.metrics[i]
		name := m.name
		if birth {
			if m.hasAlias && m.hasName {
				sc.alias[m.alias] = m.name
			}
			if m.hasName && m.hasDatatype && len(sc.dtype) < maxKnown {
				sc.dtype[m.name] = m.datatype
			}
		}
		if !m.hasName {
			if !m.hasAlias {
				out.problem(fmt.Errorf("%w: metric with neither name nor alias", errBadMetric))
				continue
			}
			var ok bool
			if name, ok = sc.alias[m.alias]; !ok {
				out.problem(fmt.Errorf("%w: alias %d", errUnknownAlias, m.alias))
				unknownAlias = true
				continue
			}
		}
		if control(name) {
			continue
		}
		mp := d.mapping(sc, name, fields)
		if !mp.ok {
			out.unmapped++
			out.example = name
			continue
		}
		dtype := m.datatype
		if !m.hasDatatype {
			dtype = sc.dtype[name]
		}
		v, err := m.value(dtype)
		if errors.Is(err, errUnsupported) {
			continue
		}
		if err != nil {
			out.problem(fmt.Errorf("%w: %v", errBadMetric, err))
			continue
		}
		s := signal.Signal{Site: mp.key.site, Line: mp.key.line, Equipment: mp.key.equipment, Name: mp.key.name, Value: v, Agent: d.agent}
		if m.isNull {
			s.Quality = signal.Bad
		}
		switch {
		case m.hasTimestamp:
			s.Time = msTime(m.timestamp)
		case p.hasTimestamp:
			s.Time = msTime(p.timestamp)
		default:
			s.Time, s.Received = rx, true
		}
		if !plausibleAt(s.Time, rx) {
			out.problem(fmt.Errorf("%w: metric %q: %v", errBadMetric, name, errImplausibleTime(s.Time)))
			continue
		}
		if err := checkSignal(s); err != nil {
			out.problem(fmt.Errorf("%w: metric %q: %v", errBadMetric, name, err))
			continue
		}
		if len(sc.known) < maxKnown {
			sc.known[mp.key] = struct{}{}
		}
		out.signals = append(out.signals, s)
	}
	return unknownAlias
}

// die emits every signal known in scope with quality bad and no value, and
// forgets the scope's birth.
func (d *Sparkplug) die(out *spOutcome, sc *spScope, at time.Time, flagged bool) {
	for k := range sc.known {
		out.signals = append(out.signals, signal.Signal{
			Site: k.site, Line: k.line, Equipment: k.equipment, Name: k.name, Value: signal.String(""),
			Time: at, Received: flagged, Quality: signal.Bad, Status: StatusNoCommunication, Agent: d.agent,
		})
	}
	*sc = *newScope()
}

// mapping places a metric name: Rename first, then the metric template; the
// fields the metric template lacks come from the topic, then the fixed ones.
func (d *Sparkplug) mapping(sc *spScope, name string, topicFields map[string]string) spMapping {
	if mp, ok := sc.mapped[name]; ok {
		return mp
	}
	var mp spMapping
	n := name
	if r, ok := d.rename[name]; ok {
		n = r
	}
	if mf, err := d.metric.Match(n); err == nil {
		get := func(f string) string {
			if v, ok := mf[f]; ok {
				return v
			}
			if v, ok := topicFields[f]; ok {
				return v
			}
			return d.fixed[f]
		}
		mp.key = sigKey{get(config.FieldSite), get(config.FieldLine), get(config.FieldEquipment), get(config.FieldSignal)}
		mp.ok = signal.ValidToken(mp.key.site) && signal.ValidToken(mp.key.line) && signal.ValidToken(mp.key.equipment) &&
			signal.ValidToken(mp.key.name) && mp.key.name != signal.GapName
	}
	if len(sc.mapped) < maxKnown {
		sc.mapped[name] = mp
	}
	return mp
}

// control reports whether a metric is Sparkplug bookkeeping rather than data.
func control(name string) bool {
	return name == "bdSeq" || strings.HasPrefix(name, "Node Control/") || strings.HasPrefix(name, "Device Control/")
}
