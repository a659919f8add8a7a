package mqtt

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/agent/internal/buffer"
	"github.com/floorpulse/floorpulse/agent/internal/config"
	"github.com/floorpulse/floorpulse/agent/internal/metrics"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// Unit tests of the source's logic: a fake client instead of paho and a
// broker, a fake committer instead of the queue.

// fakeClient is a Client that connects at once (or fails as told), records
// what the source asks of it, and delivers messages when the test says so.
type fakeClient struct {
	mu          sync.Mutex
	h           hooks
	connectErrs []error        // returned by the next Connects, in turn
	refusals    map[string]int // filter -> subscriptions still to refuse
	connects    int
	subscribed  []string
	published   map[string][][]byte // topic -> payloads
	disconnects int
	sparkplugHost
}

var _ Client = (*fakeClient)(nil)

func (c *fakeClient) Connect(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.connects++
	if c.h.will != nil {
		topic, payload := c.h.will()
		c.wills = append(c.wills, topic+" "+string(payload))
	}
	if len(c.connectErrs) > 0 {
		err := c.connectErrs[0]
		c.connectErrs = c.connectErrs[1:]
		return err
	}
	return nil
}

func (c *fakeClient) Subscribe(filter string, _ byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.subscribed = append(c.subscribed, filter)
	if c.refusals[filter] > 0 {
		c.refusals[filter]--
		return errRefused
	}
	return nil
}

func (c *fakeClient) Publish(topic string, payload []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.published == nil {
		c.published = map[string][][]byte{}
	}
	c.published[topic] = append(c.published[topic], payload)
}

func (c *fakeClient) Disconnect() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.disconnects++
}

// deliver hands m to the source as the client's reading goroutine does.
func (c *fakeClient) deliver(m *fakeMessage) { c.h.message(m) }

// lose reports a lost connection.
func (c *fakeClient) lose(err error) { c.h.lost(err) }

func (c *fakeClient) count(n *int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return *n
}

type fakeMessage struct {
	topic   string
	payload []byte
	qos     byte
	acks    atomic.Int32
}

var _ Message = (*fakeMessage)(nil)

func (m *fakeMessage) Topic() string   { return m.topic }
func (m *fakeMessage) Payload() []byte { return m.payload }
func (m *fakeMessage) Qos() byte       { return m.qos }
func (m *fakeMessage) Ack()            { m.acks.Add(1) }

// holdCommitter keeps every entry until the test ends its commit; with auto
// set it commits each at once. With refuse set it takes nothing, as the
// batcher when the agent stops.
type holdCommitter struct {
	mu      sync.Mutex
	auto    bool
	refuse  bool
	entries []buffer.Entry
}

var _ Committer = (*holdCommitter)(nil)

func (c *holdCommitter) Add(_ context.Context, e buffer.Entry) error {
	c.mu.Lock()
	if c.refuse {
		c.mu.Unlock()
		return buffer.ErrClosed
	}
	c.entries = append(c.entries, e)
	auto := c.auto
	c.mu.Unlock()
	if auto {
		e.Done(nil)
	}
	return nil
}

func (c *holdCommitter) entry(t *testing.T, i int) buffer.Entry {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if i >= len(c.entries) {
		t.Fatalf("%d entries handed to the committer, want at least %d", len(c.entries), i+1)
	}
	return c.entries[i]
}

func (c *holdCommitter) signals() []signal.Signal {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []signal.Signal
	for _, e := range c.entries {
		out = append(out, e.Signals...)
	}
	return out
}

// runFake runs a source of m on client and commit until the test ends, and
// waits until it is connected and subscribed.
func runFake(t *testing.T, m config.MQTT, client *fakeClient, commit Committer) (*Source, *metrics.Source) {
	t.Helper()
	stat := &metrics.Source{Kind: "mqtt", Name: m.Broker}
	s := New(validMQTT(t, m), "a1", "plant1", commit, stat, slog.New(slog.NewTextHandler(io.Discard, nil)))
	s.now = func() time.Time { return rx }
	s.dial = func(_ config.MQTT, _ *tls.Config, h hooks) Client {
		client.h = h
		return client
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		if n := client.count(&client.disconnects); n != 1 {
			t.Errorf("%d disconnects at the end, want 1", n)
		}
	})
	waitFor(t, "source ready", 5*time.Second, ready(stat))
	return s, stat
}

// A message is acknowledged once its commit is done, not before, and not
// at all when the commit fails or the committer does not take it.
func TestAckOnlyAfterCommit(t *testing.T) {
	client, commit := &fakeClient{}, &holdCommitter{}
	s, stat := runFake(t, jsonBroker("tcp://broker:1883", "agent", 1), client, commit)

	m := &fakeMessage{topic: "fp/L1/M01/count", payload: jsonAt(0), qos: 1}
	client.deliver(m)
	e := commit.entry(t, 0)
	if m.acks.Load() != 0 || s.unacked.Load() != 1 || client.h.settled() {
		t.Fatalf("before the commit: %d acks, %d unacked, settled %v", m.acks.Load(), s.unacked.Load(), client.h.settled())
	}
	checkCounts(t, e.Signals, 1)
	e.Done(nil)
	if m.acks.Load() != 1 || s.acks.Load() != 1 || stat.SignalsIn.Load() != 1 || !client.h.settled() {
		t.Fatalf("after the commit: %d acks (%d counted), %d signals in, %d unacked", m.acks.Load(), s.acks.Load(), stat.SignalsIn.Load(), s.unacked.Load())
	}

	failed := &fakeMessage{topic: "fp/L1/M01/count", payload: jsonAt(1), qos: 1}
	client.deliver(failed)
	commit.entry(t, 1).Done(errors.New("disk full"))
	if failed.acks.Load() != 0 || stat.SignalsIn.Load() != 1 || s.unacked.Load() != 0 {
		t.Fatalf("failed commit: %d acks, %d signals in, %d unacked", failed.acks.Load(), stat.SignalsIn.Load(), s.unacked.Load())
	}

	commit.mu.Lock()
	commit.refuse = true
	commit.mu.Unlock()
	refused := &fakeMessage{topic: "fp/L1/M01/count", payload: jsonAt(2), qos: 1}
	client.deliver(refused)
	if refused.acks.Load() != 0 || s.unacked.Load() != 0 {
		t.Fatalf("refused entry: %d acks, %d unacked", refused.acks.Load(), s.unacked.Load())
	}

	// QoS 0: acknowledged to the client too (a no-op there), but no PUBACK to wait for.
	commit.mu.Lock()
	commit.refuse, commit.auto = false, true
	commit.mu.Unlock()
	q0 := &fakeMessage{topic: "fp/L1/M01/count", payload: jsonAt(3), qos: 0}
	client.deliver(q0)
	if q0.acks.Load() != 1 || s.acks.Load() != 1 {
		t.Fatalf("QoS 0: %d acks, %d counted", q0.acks.Load(), s.acks.Load())
	}
}

// A message that yields no signal (a bad payload, a topic no subscription
// matches) is counted, and committed without signals so that it is
// acknowledged in its place, after the commits before it.
func TestBadPayloadCountedAndSetAside(t *testing.T) {
	client, commit := &fakeClient{}, &holdCommitter{}
	_, stat := runFake(t, jsonBroker("tcp://broker:1883", "agent", 1), client, commit)

	bad := []*fakeMessage{
		{topic: "fp/L1/M01/count", payload: []byte("garbage"), qos: 1},
		{topic: "fp/L1/M01/count", payload: []byte(`{"value":1,"ts":"1970-01-01T00:00:00Z"}`), qos: 1},
		{topic: "elsewhere/L1/M01/count", payload: jsonAt(0), qos: 1},
	}
	for i, m := range bad {
		client.deliver(m)
		if n := stat.DecodeErrors.Load(); n != uint64(i+1) {
			t.Fatalf("message %d: %d decode errors", i, n)
		}
		e := commit.entry(t, i)
		if len(e.Signals) != 0 || m.acks.Load() != 0 {
			t.Fatalf("message %d: %d signals, %d acks before the commit", i, len(e.Signals), m.acks.Load())
		}
		e.Done(nil)
		if m.acks.Load() != 1 {
			t.Fatalf("message %d not acknowledged after its commit", i)
		}
	}
	good := &fakeMessage{topic: "fp/L1/M01/count", payload: jsonAt(0), qos: 1}
	client.deliver(good)
	commit.entry(t, len(bad)).Done(nil)
	checkCounts(t, commit.signals(), 1)
	if stat.SignalsIn.Load() != 1 || stat.DecodeErrors.Load() != uint64(len(bad)) {
		t.Fatalf("%d signals in, %d decode errors", stat.SignalsIn.Load(), stat.DecodeErrors.Load())
	}
}

// Failed connects are retried; after a lost connection the source connects
// and subscribes again.
func TestReconnectsAndSubscribesAgain(t *testing.T) {
	client := &fakeClient{connectErrs: []error{errors.New("refused"), errors.New("refused")}}
	m := jsonBroker("tcp://broker:1883", "agent", 1)
	m.MaxReconnectInterval = 100 * time.Millisecond
	_, stat := runFake(t, m, client, &holdCommitter{auto: true})
	if n := client.count(&client.connects); n != 3 || stat.Connects.Load() != 1 {
		t.Fatalf("%d connect attempts, %d connects; want 3 and 1", n, stat.Connects.Load())
	}
	client.lose(errors.New("connection reset"))
	waitFor(t, "the second connect", 5*time.Second, func() bool { return stat.Connects.Load() == 2 })
	waitFor(t, "source ready again", 5*time.Second, ready(stat))
	client.mu.Lock()
	subs := slices.Clone(client.subscribed)
	client.mu.Unlock()
	if want := []string{"fp/+/+/+", "fp/+/+/+"}; !slices.Equal(subs, want) {
		t.Fatalf("subscribed %q, want %q", subs, want)
	}
}

// A refused subscription does not stop the others; all are asked for
// again after a back-off.
func TestRefusedSubscriptionRetried(t *testing.T) {
	client := &fakeClient{refusals: map[string]int{"a/#": 1}}
	m := jsonBroker("tcp://broker:1883", "agent", 1)
	m.Subscriptions = []config.Subscription{
		{Topic: "a/#", Template: "a/{line}/{equipment}/{signal}"},
		{Topic: "b/#", Template: "b/{line}/{equipment}/{signal}"},
	}
	runFake(t, m, client, &holdCommitter{auto: true})
	client.mu.Lock()
	subs := slices.Clone(client.subscribed)
	client.mu.Unlock()
	if want := []string{"a/#", "b/#", "a/#", "b/#"}; !slices.Equal(subs, want) {
		t.Fatalf("subscribed %q, want %q", subs, want)
	}
}

// An edge node's life through the source: births, data by alias, an
// unknown alias (counted, answered with a rebirth request on the node's
// NCMD topic), and a death that marks every known metric bad.
func TestSparkplugSequence(t *testing.T) {
	client, commit := &fakeClient{}, &holdCommitter{auto: true}
	qos := 1
	_, stat := runFake(t, config.MQTT{
		Broker: "tcp://broker:1883", ClientID: "agent", QoS: &qos, MaxReconnectInterval: 200 * time.Millisecond,
		Subscriptions: []config.Subscription{{
			Topic: "spBv1.0/plant1/#", Format: config.FormatSparkplug,
			Template: "spBv1.0/{site}/+/{line}/{equipment}", Equipment: "gateway",
		}},
	}, client, commit)
	msgs := []*fakeMessage{
		{topic: gtop + "NBIRTH/L4", payload: encPayload(t0ms, 0,
			spm{name: "bdSeq", dtype: spUInt64, value: uint64(1)},
			spm{name: "uptime", alias: 1, dtype: spUInt32, value: uint32(10)},
		)},
		{topic: gtop + "DBIRTH/L4/M01", payload: encPayload(t0ms+1, 1,
			spm{name: "run", alias: 2, dtype: spBoolean, value: true},
			spm{name: "count", alias: 3, dtype: spInt64, value: uint64(100)},
		)},
		{topic: gtop + "DDATA/L4/M01", payload: encPayload(t0ms+2000, 2, spm{alias: 3, value: uint64(101)})},
		{topic: gtop + "DDATA/L4/M01", payload: encPayload(t0ms+3000, 3, spm{alias: 77, value: true})},
		{topic: gtop + "NDEATH/L4", payload: encPayload(0, -1, spm{name: "bdSeq", dtype: spUInt64, value: uint64(1)})},
	}
	for _, m := range msgs {
		m.qos = 1
		client.deliver(m)
		if m.acks.Load() != 1 {
			t.Fatalf("%s not acknowledged", m.topic)
		}
	}
	got := commit.signals()
	want := []string{"gateway/uptime=10", "M01/run=true", "M01/count=100", "M01/count=101"}
	for i, w := range want {
		if i >= len(got) || got[i].Equipment+"/"+got[i].Name+"="+got[i].Value.String() != w || got[i].Quality != signal.Good {
			t.Fatalf("signals %+v, want %q first", got, want)
		}
	}
	dead := map[string]bool{}
	for _, s := range got[len(want):] {
		if s.Quality != signal.Bad || s.Status != StatusNoCommunication {
			t.Errorf("death signal: %+v", s)
		}
		dead[s.Equipment+"/"+s.Name] = true
	}
	if len(dead) != 3 || !dead["gateway/uptime"] || !dead["M01/run"] || !dead["M01/count"] {
		t.Errorf("marked bad at death: %v", dead)
	}
	if n := stat.DecodeErrors.Load(); n != 1 {
		t.Errorf("%d decode errors, want 1 (the unknown alias)", n)
	}
	client.mu.Lock()
	reqs := client.published[gtop+"NCMD/L4"]
	client.mu.Unlock()
	if len(reqs) != 1 {
		t.Fatalf("%d rebirth requests, want 1 (%v)", len(reqs), client.published)
	}
	p, err := parseSparkplug(reqs[0])
	if err != nil || len(p.metrics) != 1 || p.metrics[0].name != "Node Control/Rebirth" || p.timestamp != uint64(rx.UnixMilli()) {
		t.Fatalf("rebirth request: %+v, %v", p, err)
	}
}
