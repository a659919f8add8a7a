package mqtt

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/floorpulse/floorpulse/agent/internal/buffer"
	"github.com/floorpulse/floorpulse/agent/internal/config"
	"github.com/floorpulse/floorpulse/agent/internal/metrics"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// StatusNoCommunication is the status code (OPC UA Bad_NoCommunication) of
// the bad-quality signals emitted when an edge node or device dies: its
// metrics have no current value until it is born again.
const StatusNoCommunication uint32 = 0x80310000

// Sparkplug problems are counted as decode errors; the message's other
// metrics are still used. An unusable metric is counted under the reason
// of the error errBadMetric wraps (bad_payload when none).
var (
	errSeqGap       = aside(metrics.SeqGap, "sparkplug sequence number gap")
	errUnknownAlias = aside(metrics.BeforeBirth, "sparkplug metric alias unknown (no birth seen)")
	errNoBirth      = aside(metrics.BeforeBirth, "sparkplug data before the birth")
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
	problems []error      // each counted as a decode error; at most one per kind and reason
	rebirth  string       // NCMD topic to send a rebirth request to; "" for none
	unmapped int          // metrics no mapping matched (skipped)
	example  string       // the name of one unmapped metric, for the log
	puts     []buffer.Put // state records to commit with the signals
}

// problem records err unless a problem of its kind and reason is already
// recorded.
func (o *spOutcome) problem(err error) {
	for _, p := range o.problems {
		for _, kind := range []error{errSeqGap, errUnknownAlias, errNoBirth, errBadMetric} {
			if errors.Is(p, kind) && errors.Is(err, kind) && reasonOf(p) == reasonOf(err) {
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
	grown  bool                // known grew since the scope was last saved
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
	birthAt     int64 // time of the NBIRTH, unix ns
	last        int64 // time of the node's last birth or data, unix ns: a death is stamped no later
	lastRx      bool  // last is a receive time
	lastRebirth time.Time

	// Watermarks (watermark.go): the agent's time when last was last
	// moved, whether the node is current (its last message was live, not
	// historical, and nothing went missing since its birth), and the last
	// watermark given.
	lastAt  time.Time
	current bool
	gapped  bool // a message went missing since the birth
	marked  int64
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
	prefix string // of the keys of the state records (stateKey)

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
	t, skip, err := parseTopic(topic)
	if err != nil || skip {
		return spOutcome{}, err
	}
	n := min(d.tmpl.Len(), len(t.levels))
	fields, err := d.tmpl.Prefix(n).Match(strings.Join(t.levels[:n], "/"))
	if err != nil {
		return spOutcome{}, aside(metrics.UnmappedTopic, "%v", err)
	}
	p, err := parseSparkplug(payload)
	if err != nil {
		return spOutcome{}, err
	}

	d.mu.Lock()
	defer d.mu.Unlock()
	node, err := d.node(t)
	if err != nil {
		return spOutcome{}, err
	}
	m := &spMessage{d: d, topic: t, fields: fields, p: &p, rx: rx, node: node, save: saver{d: d, node: t.nodeKey()}}
	err = m.apply()
	m.out.puts = m.save.puts
	return m.out, err
}

// spTopic is a Sparkplug topic: namespace/group/type/edge_node[/device].
type spTopic struct {
	levels                   []string
	typ, group, edge, device string
}

// nodeKey names the edge node (group/edge_node).
func (t spTopic) nodeKey() string { return t.group + "/" + t.edge }

// parseTopic splits a Sparkplug topic and checks its levels. skip is true
// for messages that carry no metrics of an edge node (host state, commands).
func parseTopic(topic string) (t spTopic, skip bool, err error) {
	parts := strings.Split(topic, "/")
	if len(parts) < 3 || parts[0] != config.SparkplugNamespace {
		return t, false, aside(metrics.UnmappedTopic, "%q is not a sparkplug topic", topic)
	}
	if parts[1] == "STATE" {
		return t, true, nil // host application state (Sparkplug 3.0), not a payload
	}
	typ := parts[2]
	switch typ {
	case "NCMD", "DCMD":
		return t, true, nil // commands to edge nodes, our own rebirth requests among them
	case "NBIRTH", "NDATA", "NDEATH":
		if len(parts) != 4 {
			return t, false, aside(metrics.UnmappedTopic, "%s topic %q must have 4 levels", typ, topic)
		}
	case "DBIRTH", "DDATA", "DDEATH":
		if len(parts) != 5 {
			return t, false, aside(metrics.UnmappedTopic, "%s topic %q must have 5 levels", typ, topic)
		}
	default:
		return t, false, aside(metrics.UnmappedTopic, "unknown sparkplug message type %q", typ)
	}
	if !utf8.ValidString(topic) {
		return t, false, aside(metrics.UnmappedTopic, "topic is not UTF-8")
	}
	t = spTopic{levels: parts, typ: typ, group: parts[1], edge: parts[3]}
	if len(parts) == 5 {
		t.device = parts[4]
	}
	return t, false, nil
}

// node returns the state of the topic's edge node, new if it is the first
// message of it; d.mu is held.
func (d *Sparkplug) node(t spTopic) (*spNode, error) {
	node := d.nodes[t.nodeKey()]
	if node == nil {
		if len(d.nodes) >= maxNodes {
			return nil, aside(metrics.TooLarge, "more than %d sparkplug edge nodes", maxNodes)
		}
		node = &spNode{self: newScope(), devices: map[string]*spScope{}}
		d.nodes[t.nodeKey()] = node
	}
	return node, nil
}

// spMessage is one message being applied to its edge node's state.
type spMessage struct {
	d      *Sparkplug
	topic  spTopic
	fields map[string]string // from the topic
	p      *spPayload
	rx     time.Time
	node   *spNode
	out    spOutcome
	save   saver
}

// apply updates the edge node's state by the message's type and gathers
// what it gives in m.out, and in m.save every change of the state kept
// across restarts.
func (m *spMessage) apply() error {
	switch m.topic.typ {
	case "NBIRTH":
		m.nodeBirth()
		return nil
	case "NDEATH":
		m.nodeDeath()
		return nil
	}
	m.checkSeq()
	switch m.topic.typ {
	case "DBIRTH":
		dev, err := m.device()
		if err != nil {
			return err
		}
		*dev = *newScope()
		dev.born = true
		m.emit(dev, true)
		m.save.put(recDevice, m.topic.device, encodeDevice(dev))
		dev.grown = false
	case "NDATA":
		m.emit(m.node.self, false)
		m.saveGrown(m.node.self, recNode, "")
	case "DDATA":
		dev, err := m.device()
		if err != nil {
			return err
		}
		if !dev.born && m.node.self.born {
			m.out.problem(fmt.Errorf("%w: DDATA of device %q", errNoBirth, m.topic.device))
			m.askRebirth()
		}
		m.emit(dev, false)
		if dev.born {
			m.saveGrown(dev, recDevice, m.topic.device)
		}
	case "DDEATH":
		m.deviceDeath()
	}
	if m.node.self.born {
		if m.topic.typ != "DDEATH" {
			m.seen()
		}
		m.save.put(recPosition, "", encodePosition(m.node))
	}
	return nil
}

// saveGrown saves a scope whose known signals grew.
func (m *spMessage) saveGrown(sc *spScope, kind byte, device string) {
	if !sc.grown {
		return
	}
	if kind == recNode {
		m.save.put(recNode, "", encodeNode(m.node))
	} else {
		m.save.put(recDevice, device, encodeDevice(sc))
	}
	sc.grown = false
}

// seen moves the node's last data time to the message's: its latest
// source time (the payload's or a metric's), or the receive time when it has
// none. Deaths are not seen: a death is not a sign of life.
func (m *spMessage) seen() {
	at, rx := int64(0), true
	if m.p.hasTimestamp {
		if t := msTime(m.p.timestamp); plausibleAt(t, m.rx) {
			at, rx = nanos(t), false
		}
	}
	for _, s := range m.out.signals {
		if !s.Received && nanos(s.Time) > at {
			at, rx = nanos(s.Time), false
		}
	}
	if rx {
		at = nanos(m.rx)
	}
	node := m.node
	if at > node.last {
		node.last, node.lastRx, node.lastAt = at, rx, m.rx
	}
	if m.p.historical() {
		node.current = false
	} else if !node.gapped {
		node.current = true
	}
}

// deathTime is the time of the signals a death gives: the node's last data
// time, or the death's own timestamp when it is earlier and not before the
// birth (an NDEATH is the will the node registered when it connected, and
// its timestamp, if any, that of the connect). Never the receive time: a
// death that arrives late, replayed by the broker after an agent restart or
// sent by the broker long after the node went silent, must not stretch
// what is known of the machine up to its arrival.
func (m *spMessage) deathTime() (time.Time, bool) {
	node := m.node
	if node.last == 0 {
		return m.rx, true // no data time known (cannot happen after a birth)
	}
	at, flagged := fromNanos(node.last), node.lastRx
	if m.p.hasTimestamp {
		if t := msTime(m.p.timestamp); plausibleAt(t, m.rx) && t.Before(at) && nanos(t) >= node.birthAt {
			at, flagged = t, false
		}
	}
	return at, flagged
}

// nodeBirth starts the edge node over: every device births again after it.
func (m *spMessage) nodeBirth() {
	node := m.node
	for name := range node.devices {
		m.save.del(recDevice, name)
	}
	node.self, node.devices = newScope(), map[string]*spScope{}
	node.self.born = true
	node.seq = m.p.seq % 256
	node.bdSeq, node.hasBdSeq = bdSeqOf(m.p)
	node.birthAt, node.lastRx = nanos(m.rx), true
	if m.p.hasTimestamp {
		if t := msTime(m.p.timestamp); plausibleAt(t, m.rx) {
			node.birthAt, node.lastRx = nanos(t), false
		}
	}
	node.last, node.lastAt, node.gapped, node.current = node.birthAt, m.rx, false, !m.p.historical()
	m.emit(node.self, true)
	m.seen()
	node.self.grown = false
	m.save.put(recNode, "", encodeNode(node))
	m.save.put(recPosition, "", encodePosition(node))
}

// nodeDeath marks bad what the edge node and its devices had, at
// deathTime, and forgets their births (and their records): data that
// follows before the next NBIRTH is stale, as Sparkplug 3.0 has it, and
// is set aside with a rebirth request. A death whose bdSeq is not the
// current birth's belongs to an earlier session and is ignored.
func (m *spMessage) nodeDeath() {
	node := m.node
	if !node.self.born {
		return
	}
	if bd, ok := bdSeqOf(m.p); ok && node.hasBdSeq && bd != node.bdSeq {
		return
	}
	at, flagged := m.deathTime()
	for name, dev := range node.devices {
		m.d.die(&m.out, dev, at, flagged)
		m.save.del(recDevice, name)
	}
	m.d.die(&m.out, node.self, at, flagged)
	node.devices = map[string]*spScope{}
	node.last, node.lastRx, node.birthAt, node.current = 0, false, 0, false
	m.save.del(recNode, "")
	m.save.del(recPosition, "")
}

// deviceDeath marks bad what a born device had, at deathTime, and forgets
// its birth.
func (m *spMessage) deviceDeath() {
	dev := m.node.devices[m.topic.device]
	if dev == nil || !dev.born {
		return
	}
	at, flagged := m.deathTime()
	m.d.die(&m.out, dev, at, flagged)
	m.save.del(recDevice, m.topic.device)
}

// device returns the state of the topic's device, new if it is unknown.
func (m *spMessage) device() (*spScope, error) {
	dev := m.node.devices[m.topic.device]
	if dev == nil {
		if len(m.node.devices) >= maxNodes {
			return nil, aside(metrics.TooLarge, "more than %d devices on edge node %s", maxNodes, m.topic.nodeKey())
		}
		dev = newScope()
		m.node.devices[m.topic.device] = dev
	}
	return dev, nil
}

// checkSeq checks that the message follows the node's birth and the
// previous message; a gap asks for a rebirth.
func (m *spMessage) checkSeq() {
	node, p := m.node, m.p
	switch {
	case !node.self.born:
		m.out.problem(errNoBirth)
		m.askRebirth()
	case !p.hasSeq || p.seq > 255:
		m.out.problem(fmt.Errorf("%w: %s without a valid seq", errSeqGap, m.topic.typ))
		m.askRebirth()
	case p.seq != (node.seq+1)%256:
		m.out.problem(fmt.Errorf("%w: %s seq %d after %d", errSeqGap, m.topic.typ, p.seq, node.seq))
		m.askRebirth()
		node.gapped, node.current = true, false // no watermark until the rebirth
	}
	if p.hasSeq {
		node.seq = p.seq % 256
	}
}

// askRebirth asks the edge node to publish its births again, at most every
// rebirthEvery.
func (m *spMessage) askRebirth() {
	node := m.node
	if node.lastRebirth.IsZero() || m.rx.Sub(node.lastRebirth) >= rebirthEvery || m.rx.Before(node.lastRebirth) {
		node.lastRebirth = m.rx
		m.out.rebirth = config.SparkplugNamespace + "/" + m.topic.group + "/NCMD/" + m.topic.edge
	}
}

// emit converts the metrics into sc's signals, asking for a rebirth when an
// alias is unknown.
func (m *spMessage) emit(sc *spScope, birth bool) {
	if m.d.emit(&m.out, sc, m.fields, m.p, m.rx, birth) {
		m.askRebirth()
	}
}
