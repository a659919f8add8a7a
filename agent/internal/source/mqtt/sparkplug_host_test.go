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
