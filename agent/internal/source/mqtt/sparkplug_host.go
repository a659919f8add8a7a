package mqtt

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/floorpulse/floorpulse/agent/internal/backoff"
	"github.com/floorpulse/floorpulse/pkg/sparkplug"
)

// host is the Sparkplug 3.0 primary host application side of a broker
// connection (mqtt[].sparkplug.primary_host_id). Every connect registers
// the death certificate {"online":false,"timestamp":T} on
// spBv1.0/STATE/<id> as the will (QoS 1, retained), T being the connect
// time; once the Sparkplug subscriptions and the subscription to its own
// STATE topic are in place, the birth {"online":true,"timestamp":T} is
// published there, retained at QoS 1. Edge nodes configured with the id
// publish their births only while it says online and hold their data
// (store and forward) while it says offline. An offline STATE of its own
// delivered after the birth (an old will, or another client's) is answered
// by publishing the birth again; a polite stop publishes online=false
// before the MQTT DISCONNECT, which discards the will.
type host struct {
	topic string
	now   func() time.Time
	log   *slog.Logger

	mu     sync.Mutex
	at     int64 // T of the current connection, ms since the epoch
	online bool  // the birth of the current connection is published
}

func newHost(id string, now func() time.Time, log *slog.Logger) *host {
	return &host{topic: sparkplug.StateTopic(id), now: now, log: log}
}

// will returns the will of a new connection, whose connect time it keeps.
func (h *host) will() (topic string, payload []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.at, h.online = h.now().UnixMilli(), false
	return h.topic, sparkplug.State{Online: false, Timestamp: h.at}.Marshal()
}

// birth is the online STATE of the current connection.
func (h *host) birth() []byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	return sparkplug.State{Online: true, Timestamp: h.at}.Marshal()
}

// announce subscribes to the host's own STATE topic and publishes its
// birth, retrying with back-off while the connection is open; acks counts
// the acknowledgements of the STATE messages received.
func (h *host) announce(ctx context.Context, c Client, acks func(Message)) {
	wait := 500 * time.Millisecond
	for ctx.Err() == nil {
		err := c.SubscribeFunc(h.topic, 1, func(m Message) { h.received(c, m); acks(m) })
		if err == nil {
			err = c.PublishRetained(h.topic, h.birth(), true)
		}
		if err == nil {
			h.mu.Lock()
			h.online = true
			h.mu.Unlock()
			h.log.Info("sparkplug primary host online", "topic", h.topic)
			return
		}
		if errors.Is(err, errClosed) {
			return
		}
		d := backoff.Jitter(wait)
		h.log.Error("publishing the sparkplug host state failed, retrying", "err", err, "retry_in", d.Round(time.Millisecond))
		if !sleep(ctx, d) {
			return
		}
		wait = min(2*wait, 30*time.Second)
	}
}

// received handles a message on the host's own STATE topic: an offline
// STATE after the birth is answered with the birth again, without waiting
// (the client's handlers must not block).
func (h *host) received(c Client, m Message) {
	st, err := sparkplug.ParseState(m.Payload())
	h.mu.Lock()
	again := err == nil && !st.Online && h.online
	h.mu.Unlock()
	if again {
		h.log.Info("sparkplug host state said offline; publishing online again", "topic", h.topic, "timestamp", st.Timestamp)
		if err := c.PublishRetained(h.topic, h.birth(), false); err != nil {
			h.log.Warn("publishing the sparkplug host state failed", "err", err)
		}
	}
}

// leave publishes online=false before a polite disconnect, stamped now
// (later than T, so edge nodes take it as current).
func (h *host) leave(c Client) {
	h.mu.Lock()
	online := h.online
	h.online = false
	h.mu.Unlock()
	if !online {
		return
	}
	if err := c.PublishRetained(h.topic, sparkplug.State{Online: false, Timestamp: h.now().UnixMilli()}.Marshal(), true); err != nil {
		h.log.Warn("publishing the sparkplug host state offline failed", "err", err)
	}
}
