package mqtt

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/agent/internal/config"
	"github.com/floorpulse/floorpulse/agent/internal/metrics"
	"github.com/floorpulse/floorpulse/pkg/signal"
	"github.com/floorpulse/floorpulse/pkg/sparkplug"
)

// sparkplugHost is what the fake client records of a Sparkplug host.
type sparkplugHost struct {
	wills    []string                 // "topic payload" of each connect
	retained []string                 // "topic payload" of each retained publish
	funcs    map[string]func(Message) // filter -> handler of SubscribeFunc
}

func (c *fakeClient) SubscribeFunc(filter string, _ byte, fn func(Message)) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.subscribed = append(c.subscribed, filter)
	if c.funcs == nil {
		c.funcs = map[string]func(Message){}
	}
	c.funcs[filter] = fn
	return nil
}

func (c *fakeClient) PublishRetained(topic string, payload []byte, _ bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.retained = append(c.retained, topic+" "+string(payload))
	return nil
}

func (c *fakeClient) retainedCopy() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.retained)
}

func spHostBroker(id string) config.MQTT {
	qos := 1
	return config.MQTT{
		Broker: "tcp://broker:1883", ClientID: "agent", QoS: &qos, MaxReconnectInterval: 200 * time.Millisecond,
		Subscriptions: []config.Subscription{{Topic: "spBv1.0/plant1/#", Format: config.FormatSparkplug, Template: "spBv1.0/{site}/+/{line}/{equipment}"}},
		Sparkplug:     &config.SparkplugHost{PrimaryHostID: id},
	}
}

// The host's will is its offline STATE stamped with the connect time; after
// the subscriptions (its own STATE topic last) it publishes the online
// STATE with the same timestamp; an offline STATE delivered afterwards is
// answered with the online one again; a stop publishes offline first.
func TestSparkplugPrimaryHostState(t *testing.T) {
	client, commit := &fakeClient{}, &holdCommitter{auto: true}
	stat := &metrics.Source{Kind: "mqtt", Name: "tcp://broker:1883"}
	s := New(validMQTT(t, spHostBroker("scada")), "a1", "plant1", commit, stat, slog.New(slog.NewTextHandler(io.Discard, nil)))
	clock := rx
	s.now = func() time.Time { return clock }
	s.dial = func(_ config.MQTT, _ *tls.Config, h hooks) Client {
		client.h = h
		return client
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()

	T := rx.UnixMilli()
	online := fmt.Sprintf(`spBv1.0/STATE/scada {"online":true,"timestamp":%d}`, T)
	waitFor(t, "the online STATE", 5*time.Second, func() bool { return len(client.retainedCopy()) == 1 })
	client.mu.Lock()
	wills, subs, fn := slices.Clone(client.wills), slices.Clone(client.subscribed), client.funcs["spBv1.0/STATE/scada"]
	client.mu.Unlock()
	if want := fmt.Sprintf(`spBv1.0/STATE/scada {"online":false,"timestamp":%d}`, T); !slices.Equal(wills, []string{want}) {
		t.Fatalf("wills %q, want %q", wills, want)
	}
	if !slices.Equal(subs, []string{"spBv1.0/plant1/#", "spBv1.0/STATE/scada"}) || fn == nil {
		t.Fatalf("subscriptions %q (own STATE handled: %v)", subs, fn != nil)
	}
	if got := client.retainedCopy(); got[0] != online {
		t.Fatalf("retained %q, want %q", got, online)
	}

	// An old will (or anyone's offline) on its own topic: online again, same T.
	old := &fakeMessage{topic: "spBv1.0/STATE/scada", payload: sparkplug.State{Online: false, Timestamp: T - 5000}.Marshal(), qos: 1}
	fn(old)
	fn(&fakeMessage{topic: "spBv1.0/STATE/scada", payload: []byte(online[len("spBv1.0/STATE/scada "):]), qos: 1})
	if got := client.retainedCopy(); !slices.Equal(got, []string{online, online}) || old.acks.Load() != 1 || s.acks.Load() != 2 {
		t.Fatalf("after an offline STATE: retained %q, acks %d (%d counted)", got, old.acks.Load(), s.acks.Load())
	}
	if len(commit.signals()) != 0 {
		t.Fatal("STATE messages gave signals")
	}

	clock = rx.Add(time.Minute)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`spBv1.0/STATE/scada {"online":false,"timestamp":%d}`, clock.UnixMilli())
	if got := client.retainedCopy(); len(got) != 3 || got[2] != want || client.disconnects != 1 {
		t.Fatalf("at the stop: retained %q, want %q last; %d disconnects", got, want, client.disconnects)
	}
}

// Store and forward: after a new session's births, an edge node sends what
// it held as DDATA with is_historical metrics, older than the birth, in the
// session's own seq order (Sparkplug 3.0 exempts no message from seq). Each
// becomes a signal at its own timestamp, with no problem.
func TestSparkplugHistoricalAfterRebirth(t *testing.T) {
	d := testSparkplug(t, config.Subscription{Topic: "spBv1.0/plant1/#", Template: "spBv1.0/{site}/+/{line}/{equipment}", Equipment: "gateway"})
	rx := t0.Add(time.Hour)
	birthMs := uint64(t0.Add(time.Hour).UnixMilli())
	msgs := []struct {
		topic string
		p     sparkplug.Payload
	}{
		{gtop + "NBIRTH/L1", sparkplug.Payload{Timestamp: birthMs, Seq: 0, Metrics: []sparkplug.Metric{{Name: "bdSeq", DataType: sparkplug.Int64, Value: uint64(2)}}}},
		{gtop + "DBIRTH/L1/M01", sparkplug.Payload{Timestamp: birthMs, Seq: 1, Metrics: []sparkplug.Metric{
			{Name: "run", Alias: 1, HasAlias: true, Timestamp: birthMs, DataType: sparkplug.Boolean, Value: true}}}},
		{gtop + "DDATA/L1/M01", sparkplug.Payload{Timestamp: birthMs, Seq: 2, Metrics: []sparkplug.Metric{
			{Alias: 1, HasAlias: true, Timestamp: t0ms + 1000, IsHistorical: true, Value: false},
			{Alias: 1, HasAlias: true, Timestamp: t0ms + 2000, IsHistorical: true, Value: true}}}},
	}
	var got []signal.Signal
	for _, m := range msgs {
		out, err := d.Decode(m.topic, m.p.Marshal(), rx)
		if err != nil || len(out.problems) > 0 || out.rebirth != "" {
			t.Fatalf("%s: %v, problems %v, rebirth %q", m.topic, err, out.problems, out.rebirth)
		}
		got = append(got, out.signals...)
	}
	if len(got) != 3 || got[1].Time != t0.Add(time.Second) || got[1].Value != signal.Bool(false) || got[1].Received ||
		got[2].Time != t0.Add(2*time.Second) || got[2].Value != signal.Bool(true) || got[2].Name != "run" || got[2].Equipment != "M01" {
		t.Fatalf("signals %+v", got)
	}
}
