package mqttout

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/floorpulse/floorpulse/pkg/signal"
	"github.com/floorpulse/floorpulse/pkg/testenv"
)

// collector is a QoS 1 subscriber with a persistent session that can be held up.
type collector struct {
	mu   sync.Mutex
	got  map[string]int
	n    int
	gate chan struct{}
	c    paho.Client
}

func subscribe(t *testing.T, url, filter string, gate chan struct{}) *collector {
	t.Helper()
	col := &collector{got: map[string]int{}, gate: gate}
	opts := paho.NewClientOptions().AddBroker(url).SetClientID("slow-subscriber").
		SetCleanSession(false).SetOrderMatters(true).SetAutoReconnect(true)
	opts.SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) {})
	col.c = paho.NewClient(opts)
	if tok := col.c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscriber connect: %v", tok.Error())
	}
	t.Cleanup(func() { col.c.Disconnect(100) })
	tok := col.c.Subscribe(filter, 1, func(_ paho.Client, m paho.Message) {
		if col.gate != nil {
			<-col.gate
		}
		col.mu.Lock()
		col.got[string(m.Payload())]++
		col.n++
		col.mu.Unlock()
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	return col
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func payload(t *testing.T, i int) []byte {
	t.Helper()
	b, err := Payload(time.Date(2026, 10, 1, 6, 0, 0, 0, time.UTC).Add(time.Duration(i)*time.Millisecond), signal.Number(float64(i)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A subscriber that stops reading for a while still gets every message: the
// publisher pauses instead of the broker dropping.
func TestBuiltinBrokerSlowSubscriberGetsEverything(t *testing.T) {
	const n = 20000
	topic := Topic("floorpulse", "plant1", "L1", "M01", "count")
	b, err := NewBroker("127.0.0.1:0", []string{topic}, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	gate := make(chan struct{})
	col := subscribe(t, b.URL(), "floorpulse/plant1/+/+/+", gate)
	select {
	case <-b.Subscribed():
	case <-time.After(10 * time.Second):
		t.Fatal("broker did not notice the subscription")
	}
	p, err := Dial(ctx, Options{URL: b.URL(), ClientID: "pub", QoS: 1, Backlog: b, Limit: 2000})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	pubErr := make(chan error, 1)
	go func() {
		for i := 0; i < n; i++ {
			if err := p.Publish(ctx, topic, payload(t, i)); err != nil {
				pubErr <- err
				return
			}
		}
		pubErr <- p.Flush(ctx)
	}()
	waitFor(t, "the publisher to pause for the stalled subscriber", 30*time.Second, func() bool { return p.Stalls() > 0 })
	if got := p.Published(); got >= n {
		t.Fatalf("publisher finished (%d) while the subscriber was stalled", got)
	}
	close(gate)
	if err := <-pubErr; err != nil {
		t.Fatal(err)
	}
	waitFor(t, fmt.Sprintf("%d messages", n), 60*time.Second, func() bool { return col.count() >= n })
	col.mu.Lock()
	defer col.mu.Unlock()
	for i := 0; i < n; i++ {
		if col.got[string(payload(t, i))] == 0 {
			t.Fatalf("message %d lost", i)
		}
	}
	if d := b.Dropped(); d != 0 {
		t.Fatalf("broker dropped %d messages", d)
	}
}

func TestPublishToMosquitto(t *testing.T) {
	if testing.Short() {
		t.Skip("needs mosquitto")
	}
	const n = 3000
	m := testenv.StartMosquitto(t)
	col := subscribe(t, m.URL, "floorpulse/#", nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := Dial(ctx, Options{URL: m.URL, ClientID: "pub", QoS: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	topic := Topic("floorpulse", "plant1", "L2", "M03", "power")
	for i := 0; i < n; i++ {
		if err := p.Publish(ctx, topic, payload(t, i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, fmt.Sprintf("%d messages", n), 30*time.Second, func() bool { return col.count() >= n })
}

func TestMatches(t *testing.T) {
	for _, c := range []struct {
		f    string
		want bool
	}{
		{"floorpulse/#", true}, {"#", true}, {"floorpulse/plant1/+/+/run", true}, {"$share/g/floorpulse/+/L1/#", true},
		{"floorpulse/plant1/L1/M01/run", true}, {"floorpulse/plant2/#", false}, {"floorpulse/+/+/+", false}, {"other/#", false},
	} {
		if got := Matches(c.f, "floorpulse/plant1/L1/M01/run"); got != c.want {
			t.Errorf("Matches(%q) = %v, want %v", c.f, got, c.want)
		}
	}
}

func TestPayload(t *testing.T) {
	b, _ := Payload(time.Date(2026, 10, 1, 6, 0, 0, 123456789, time.UTC), signal.Bool(true))
	if string(b) != `{"ts":"2026-10-01T06:00:00.123Z","value":true}` {
		t.Errorf("payload %s", b)
	}
}
