package mqttout

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/floorpulse/floorpulse/pkg/signal"
	"github.com/floorpulse/floorpulse/pkg/sparkplug"
)

// EdgeNode publishes one line's machines as a Sparkplug B edge node, as
// Eclipse Tahu and Ignition Edge do: each machine is a device; NBIRTH (with
// bdSeq) and a DBIRTH per device define every metric with an alias and a
// data type; NDATA/DDATA then carry changed metrics by alias, QoS 0, with
// seq 0..255 over all the node's messages; the MQTT will is the NDEATH of
// the connect's bdSeq; an NCMD "Node Control/Rebirth" makes it publish its
// births again.
//
// With a primary host id it publishes its births only while the host's
// STATE says online; when the STATE says offline (with a timestamp not
// older than the last online one) it publishes its NDEATH, disconnects and
// holds what the plant does (store and forward); when the host is online
// again it births anew and sends what it held as DDATA with is_historical
// metrics at their own times. Replay > 0 also sends, first, the complete
// state of every device at the times of its last Replay messages before it
// stopped (historical too): what was in flight when the host died is sent
// again, and the host, which stamps the node's death at its last data, finds
// every metric's value at that instant. Real edge nodes do not do this.
type EdgeNode struct {
	cfg     SparkplugNode
	url     string
	devices []string
	log     *slog.Logger

	ctl chan string // "online", "offline", "rebirth", "lost"

	mu        sync.Mutex
	c         paho.Client
	bdSeq     uint64
	seq       int
	connected bool
	wanted    bool // births may be published (host online, or no host)
	born      bool
	ended     bool  // End was called: the node stays dead
	hostTs    int64 // timestamp of the last online STATE
	cur       map[string]map[string]value
	at        time.Time // plant time of the last event handed over
	held      []heldEvent
	ring      []snapshot // last published states, for Replay
	published int64
}

type value struct {
	v signal.Value
	t time.Time
}

type heldEvent struct {
	device, name string
	v            value
}

type snapshot struct {
	t   time.Time
	cur map[string]map[string]value
}

// metricNames are the metrics of the devices, in alias order (alias i+1);
// every device has all but the optional ones (scrap, and the energy meter,
// which only some machines have).
var metricNames = []string{signal.State, signal.Run, signal.Count, "power", signal.Operator, signal.Alarm, signal.Scrap, signal.Energy}

var optionalMetric = map[string]bool{signal.Scrap: true, signal.Energy: true}

// NewEdgeNode returns the edge node of cfg for the devices (machines) of
// its line; Run connects it.
func NewEdgeNode(url string, cfg SparkplugNode, devices []string, log *slog.Logger) *EdgeNode {
	return &EdgeNode{cfg: cfg, url: url, devices: devices, log: log.With("edge_node", cfg.Group+"/"+cfg.Node),
		ctl: make(chan string, 16), cur: map[string]map[string]value{}}
}

// Published is the number of messages the node published.
func (n *EdgeNode) Published() int64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.published
}

// Run connects, reconnecting after a loss or an offline STATE, until ctx is
// done; then it publishes its NDEATH and disconnects.
func (n *EdgeNode) Run(ctx context.Context) error {
	for ctx.Err() == nil && !n.isEnded() {
		if err := n.connect(ctx); err != nil {
			n.log.Warn("edge node connect failed, retrying", "err", err)
			if !sleepCtx(ctx, time.Second) {
				break
			}
			continue
		}
		n.session(ctx)
	}
	n.mu.Lock()
	c := n.c
	n.mu.Unlock()
	if c != nil && c.IsConnectionOpen() {
		n.death()
		c.Disconnect(250)
	}
	return nil
}

// connect opens a new MQTT session with the NDEATH of the next bdSeq as
// its will and subscribes to the node's commands and the host's STATE.
func (n *EdgeNode) connect(ctx context.Context) error {
	n.mu.Lock()
	n.bdSeq = (n.bdSeq + 1) % 256
	will := n.deathPayload()
	n.mu.Unlock()
	opts := paho.NewClientOptions().AddBroker(n.url).SetClientID("sparkplug-"+n.cfg.Group+"-"+n.cfg.Node).
		SetCleanSession(true).SetAutoReconnect(false).SetKeepAlive(10*time.Second).
		SetBinaryWill(sparkplug.Topic(n.cfg.Group, "NDEATH", n.cfg.Node, ""), will, 1, false).
		SetConnectionLostHandler(func(paho.Client, error) { n.signal("lost") })
	c := paho.NewClient(opts)
	if err := wait(ctx, c.Connect()); err != nil {
		return err
	}
	if err := wait(ctx, c.Subscribe(sparkplug.Topic(n.cfg.Group, "NCMD", n.cfg.Node, ""), 1, n.command)); err != nil {
		c.Disconnect(0)
		return err
	}
	n.mu.Lock()
	n.c, n.connected, n.wanted = c, true, n.cfg.PrimaryHostID == ""
	n.mu.Unlock()
	if n.cfg.PrimaryHostID != "" {
		if err := wait(ctx, c.Subscribe(sparkplug.StateTopic(n.cfg.PrimaryHostID), 1, n.state)); err != nil {
			c.Disconnect(0)
			return err
		}
	} else {
		n.signal("online")
	}
	return nil
}

// session serves one connection until it ends.
func (n *EdgeNode) session(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case what := <-n.ctl:
			switch what {
			case "online", "rebirth":
				n.mu.Lock()
				n.wanted = true
				if what == "rebirth" || !n.born {
					n.birth()
				}
				n.mu.Unlock()
			case "offline":
				n.log.Info("primary host offline: NDEATH, disconnecting, holding data")
				n.death()
				n.end()
				n.c.Disconnect(250)
				return
			case "lost":
				n.end()
				return
			}
		}
	}
}

// End ends the node for good, as a plant's edge node that is switched
// off: it publishes its NDEATH (no timestamp: the host stamps the death at
// the node's last data), disconnects and does not come back.
func (n *EdgeNode) End() {
	n.mu.Lock()
	n.ended = true
	c, connected := n.c, n.connected
	n.mu.Unlock()
	if c != nil && connected && c.IsConnectionOpen() {
		n.death()
		c.Disconnect(250)
	}
	n.end()
	n.signal("lost")
}

func (n *EdgeNode) isEnded() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.ended
}

func (n *EdgeNode) end() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.connected, n.wanted, n.born = false, false, false
}

func (n *EdgeNode) signal(what string) {
	select {
	case n.ctl <- what:
	default:
	}
}

// state reads the primary host's STATE (retained, QoS 1).
func (n *EdgeNode) state(_ paho.Client, m paho.Message) {
	st, err := sparkplug.ParseState(m.Payload())
	if err != nil {
		n.log.Warn("unreadable STATE", "err", err)
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	switch {
	case st.Online && st.Timestamp >= n.hostTs:
		n.hostTs = st.Timestamp
		n.signal("online")
	case !st.Online && st.Timestamp >= n.hostTs && n.born:
		n.signal("offline")
	case !st.Online:
		n.wanted = false // not born yet: wait for the host
	}
}

// command answers a rebirth request.
func (n *EdgeNode) command(_ paho.Client, m paho.Message) {
	p, err := sparkplug.Unmarshal(m.Payload())
	if err != nil {
		return
	}
	for _, mt := range p.Metrics {
		if mt.Name == sparkplug.Rebirth && mt.Value == true {
			n.signal("rebirth")
			return
		}
	}
}

// Send hands the node one event of its line: published at once while the
// node is born, held otherwise. The births wait until every device has a
// value for every metric.
func (n *EdgeNode) Send(device, name string, t time.Time, v signal.Value) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cur[device] == nil {
		n.cur[device] = map[string]value{}
	}
	if t.After(n.at) && n.born && !n.at.IsZero() {
		// Instant n.at is complete: its state may be replayed. (A state
		// kept mid-instant would carry, at that instant, a value the
		// instant's later events change.)
		n.keep(n.at)
	}
	val := value{v, t}
	n.cur[device][name] = val
	if t.After(n.at) {
		n.at = t
	}
	if !n.born {
		n.held = append(n.held, heldEvent{device, name, val})
		if n.connected && n.wanted {
			n.birth()
		}
		return
	}
	n.data(device, []sparkplug.Metric{n.metric(name, val, false)}, uint64(t.UnixMilli()))
}

// ready reports whether every device has every metric; n.mu is held.
func (n *EdgeNode) ready() bool {
	for _, d := range n.devices {
		for _, name := range metricNames {
			if _, ok := n.cur[d][name]; !ok && !optionalMetric[name] {
				return false
			}
		}
	}
	return true
}

// birth publishes NBIRTH and the DBIRTHs with the current values, then
// what was held, historical; n.mu is held.
func (n *EdgeNode) birth() {
	if !n.connected || !n.ready() {
		return
	}
	n.seq = -1
	now := uint64(n.at.UnixMilli())
	n.publish(sparkplug.Topic(n.cfg.Group, "NBIRTH", n.cfg.Node, ""), sparkplug.Payload{Timestamp: now, Metrics: []sparkplug.Metric{
		{Name: "bdSeq", DataType: sparkplug.Int64, Value: n.bdSeq},
		{Name: sparkplug.Rebirth, DataType: sparkplug.Boolean, Value: false},
	}})
	for _, d := range n.devices {
		var ms []sparkplug.Metric
		for i, name := range metricNames {
			v, ok := n.cur[d][name]
			if !ok {
				continue // an optional metric the device does not have
			}
			ms = append(ms, sparkplug.Metric{Name: name, Alias: uint64(i + 1), HasAlias: true, Timestamp: uint64(v.t.UnixMilli()), DataType: dataType(v.v), Value: goValue(v.v)})
		}
		n.publish(sparkplug.Topic(n.cfg.Group, "DBIRTH", n.cfg.Node, d), sparkplug.Payload{Timestamp: now, Metrics: ms})
	}
	if len(n.held) > 0 || len(n.ring) > 0 {
		n.log.Info("born again: sending held data, historical", "held", len(n.held), "replayed_states", len(n.ring))
	}
	// The states of the last instants before the host went away, and of
	// the instant being published (complete unless the plant hands more
	// events of it after the birth).
	for _, s := range append(n.ring, snapshot{n.at, n.cur}) {
		if n.cfg.Replay <= 0 {
			break
		}
		for _, d := range n.devices {
			var ms []sparkplug.Metric
			for _, name := range metricNames {
				if v, ok := s.cur[d][name]; ok {
					ms = append(ms, n.metric(name, value{v.v, s.t}, true))
				}
			}
			n.data(d, ms, now)
		}
	}
	for _, h := range n.held {
		n.data(h.device, []sparkplug.Metric{n.metric(h.name, h.v, true)}, now)
	}
	n.held, n.ring, n.born = nil, nil, true
}

// keep remembers the state at t for Replay; n.mu is held.
func (n *EdgeNode) keep(t time.Time) {
	if n.cfg.Replay <= 0 {
		return
	}
	cp := make(map[string]map[string]value, len(n.cur))
	for d, m := range n.cur {
		cp[d] = maps(m)
	}
	n.ring = append(n.ring, snapshot{t, cp})
	if len(n.ring) > n.cfg.Replay {
		n.ring = slices.Delete(n.ring, 0, len(n.ring)-n.cfg.Replay)
	}
}

func maps(m map[string]value) map[string]value {
	out := make(map[string]value, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// metric is a data metric by alias.
func (n *EdgeNode) metric(name string, v value, historical bool) sparkplug.Metric {
	return sparkplug.Metric{Alias: uint64(slices.Index(metricNames, name) + 1), HasAlias: true, Timestamp: uint64(v.t.UnixMilli()), IsHistorical: historical, Value: goValue(v.v)}
}

// data publishes a DDATA; n.mu is held.
func (n *EdgeNode) data(device string, ms []sparkplug.Metric, ts uint64) {
	n.publish(sparkplug.Topic(n.cfg.Group, "DDATA", n.cfg.Node, device), sparkplug.Payload{Timestamp: ts, Metrics: ms})
}

// publish sends at QoS 0 with the next seq; n.mu is held.
func (n *EdgeNode) publish(topic string, p sparkplug.Payload) {
	n.seq = (n.seq + 1) % 256
	p.Seq = n.seq
	n.c.Publish(topic, 0, false, p.Marshal())
	n.published++
}

// death publishes the NDEATH of the current session (QoS 1) and waits for it.
func (n *EdgeNode) death() {
	n.mu.Lock()
	c, payload := n.c, n.deathPayload()
	n.mu.Unlock()
	tok := c.Publish(sparkplug.Topic(n.cfg.Group, "NDEATH", n.cfg.Node, ""), 1, false, payload)
	tok.WaitTimeout(5 * time.Second)
}

// deathPayload is the NDEATH: the bdSeq of the session, no timestamp (the
// will is registered at the connect, long before the node's last data).
func (n *EdgeNode) deathPayload() []byte {
	return sparkplug.Payload{Seq: -1, Metrics: []sparkplug.Metric{{Name: "bdSeq", DataType: sparkplug.Int64, Value: n.bdSeq}}}.Marshal()
}

func dataType(v signal.Value) uint32 {
	switch v.Kind {
	case signal.KindBool:
		return sparkplug.Boolean
	case signal.KindNumber:
		return sparkplug.Double
	}
	return sparkplug.String
}

func goValue(v signal.Value) any {
	switch v.Kind {
	case signal.KindBool:
		return v.Bool
	case signal.KindNumber:
		return v.Num
	}
	return v.Str
}

func wait(ctx context.Context, tok paho.Token) error {
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return ctx.Err()
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// String names the node for logs.
func (n *EdgeNode) String() string { return fmt.Sprintf("%s/%s", n.cfg.Group, n.cfg.Node) }
