// Package mqttout serves the simulated machines over MQTT: a built-in broker
// (mochi-mqtt) and a paho publisher that publishes to it, or to an external
// broker, so every message takes a real MQTT path.
//
// What always holds: the built-in broker allows every client and keeps queued
// messages for persistent sessions without expiry; the publisher keeps at
// most a bounded window of unacknowledged publishes, and with the built-in
// broker it pauses while any subscriber has a large backlog, so a slow QoS 1
// (or 2) subscriber gets every message instead of mochi dropping some.
// Subscribers at QoS 0 get no such guarantee.
package mqttout

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// Per-client limits of the built-in broker. mochi drops a message for a
// subscriber whose stored QoS>0 messages reach MaximumInflight, or whose
// write queue is full; the publisher keeps subscribers well below both.
const (
	maxInflight      = 65535
	maxWritesPending = 1 << 17
)

// Broker is the built-in MQTT broker.
type Broker struct {
	srv    *mqtt.Server
	addr   string
	log    *slog.Logger
	subbed chan struct{}
	once   sync.Once
	topics []string
}

// NewBroker builds the broker and binds its listener on listen. Subscribed
// is closed once a client subscribes to a filter matching one of topics.
func NewBroker(listen string, topics []string, log *slog.Logger) (*Broker, error) {
	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumInflight = maxInflight
	caps.MaximumClientWritesPending = maxWritesPending
	caps.MaximumMessageExpiryInterval = 0 // keep queued messages until delivered
	srv := mqtt.New(&mqtt.Options{Capabilities: caps, InlineClient: false, Logger: log.With("part", "mochi")})
	b := &Broker{srv: srv, log: log, subbed: make(chan struct{}), topics: topics}
	if err := srv.AddHook(new(auth.AllowHook), nil); err != nil {
		return nil, fmt.Errorf("adding allow hook: %w", err)
	}
	if err := srv.AddHook(&subHook{b: b}, nil); err != nil {
		return nil, fmt.Errorf("adding subscription hook: %w", err)
	}
	l := listeners.NewTCP(listeners.Config{ID: "tcp", Address: listen})
	if err := srv.AddListener(l); err != nil {
		return nil, fmt.Errorf("listening on %s: %w", listen, err)
	}
	b.addr = l.Address()
	return b, nil
}

// Addr is the address the broker listens on.
func (b *Broker) Addr() string { return b.addr }

// URL is the broker's URL for clients.
func (b *Broker) URL() string { return "tcp://" + b.addr }

// Subscribed is closed once some client subscribed to the simulator's topics.
func (b *Broker) Subscribed() <-chan struct{} { return b.subbed }

// Dropped is the number of messages the broker dropped for slow subscribers.
func (b *Broker) Dropped() int64 {
	i := b.srv.Info.Clone()
	return i.MessagesDropped + i.InflightDropped
}

// Backlog returns the largest number of messages stored for one client and
// not yet acknowledged by it.
func (b *Broker) Backlog() int {
	n := 0
	for _, cl := range b.srv.Clients.GetAll() {
		n = max(n, cl.State.Inflight.Len())
	}
	return n
}

// Run serves until ctx is done, then closes the broker and its clients.
func (b *Broker) Run(ctx context.Context) error {
	if err := b.srv.Serve(); err != nil {
		return fmt.Errorf("serving mqtt: %w", err)
	}
	<-ctx.Done()
	return b.srv.Close()
}

// subHook notices the first subscription matching the simulator's topics.
type subHook struct {
	mqtt.HookBase
	b *Broker
}

func (h *subHook) ID() string { return "floorpulse-subscribed" }

func (h *subHook) Provides(b byte) bool { return b == mqtt.OnSubscribed }

func (h *subHook) OnSubscribed(cl *mqtt.Client, pk packets.Packet, codes []byte) {
	for i, f := range pk.Filters {
		if i < len(codes) && codes[i] >= 0x80 {
			continue
		}
		for _, t := range h.b.topics {
			if Matches(f.Filter, t) {
				h.b.log.Info("subscriber present", "client", cl.ID, "filter", f.Filter)
				h.b.once.Do(func() { close(h.b.subbed) })
				return
			}
		}
	}
}
