package mqttout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/floorpulse/floorpulse/pkg/signal"
)

// Backlogger reports the largest per-subscriber backlog of a broker.
type Backlogger interface {
	Backlog() int
}

// Options configure a Publisher.
type Options struct {
	URL      string
	ClientID string
	QoS      byte
	// Window is the most publishes awaiting the broker's acknowledgement (default 256).
	Window int
	// Backlog, when set, is polled; publishing pauses while it exceeds Limit
	// (default 16384) until it is back under half of it.
	Backlog Backlogger
	Limit   int
	Log     *slog.Logger
}

// Publisher publishes signal values through a paho client.
type Publisher struct {
	c      paho.Client
	o      Options
	window []paho.Token
	n      atomic.Int64
	stalls atomic.Int64
}

// Dial connects to the broker, retrying until ctx is done.
func Dial(ctx context.Context, o Options) (*Publisher, error) {
	if o.Window <= 0 {
		o.Window = 256
	}
	if o.Limit <= 0 {
		o.Limit = 16384
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	opts := paho.NewClientOptions().AddBroker(o.URL).SetClientID(o.ClientID).
		SetCleanSession(false).SetAutoReconnect(true).SetConnectRetry(true).
		SetConnectRetryInterval(time.Second).SetKeepAlive(30 * time.Second).
		SetMaxResumePubInFlight(o.Window).SetOrderMatters(false)
	c := paho.NewClient(opts)
	tok := c.Connect()
	select {
	case <-tok.Done():
	case <-ctx.Done():
		c.Disconnect(0)
		return nil, ctx.Err()
	}
	if err := tok.Error(); err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", o.URL, err)
	}
	return &Publisher{c: c, o: o}, nil
}

// Payload is the JSON payload of one value: {"ts":"...","value":...}.
func Payload(t time.Time, v signal.Value) ([]byte, error) {
	var val any
	switch v.Kind {
	case signal.KindBool:
		val = v.Bool
	case signal.KindNumber:
		val = v.Num
	case signal.KindString:
		val = v.Str
	default:
		return nil, fmt.Errorf("value kind %v", v.Kind)
	}
	return json.Marshal(struct {
		TS    string `json:"ts"`
		Value any    `json:"value"`
	}{t.UTC().Format("2006-01-02T15:04:05.000Z07:00"), val})
}

// Publish publishes one message, waiting while the window is full or a
// subscriber is too far behind.
func (p *Publisher) Publish(ctx context.Context, topic string, payload []byte) error {
	if len(p.window) >= p.o.Window {
		if err := p.wait(ctx, p.window[0]); err != nil {
			return err
		}
		p.window = p.window[1:]
	}
	if n := p.n.Add(1); p.o.Backlog != nil && n%64 == 0 && p.o.Backlog.Backlog() > p.o.Limit {
		if err := p.drain(ctx); err != nil {
			return err
		}
	}
	p.window = append(p.window, p.c.Publish(topic, p.o.QoS, false, payload))
	return nil
}

// drain waits until the subscribers' backlog is under half the limit.
func (p *Publisher) drain(ctx context.Context) error {
	p.stalls.Add(1)
	p.o.Log.Info("waiting for a slow subscriber", "backlog", p.o.Backlog.Backlog())
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for p.o.Backlog.Backlog() > p.o.Limit/2 {
		select {
		case <-tick.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (p *Publisher) wait(ctx context.Context, tok paho.Token) error {
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return fmt.Errorf("publishing: %w", err)
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Flush waits until the broker acknowledged every publish.
func (p *Publisher) Flush(ctx context.Context) error {
	var errs []error
	for _, tok := range p.window {
		if err := p.wait(ctx, tok); err != nil {
			errs = append(errs, err)
			if ctx.Err() != nil {
				break
			}
		}
	}
	p.window = p.window[:0]
	return errors.Join(errs...)
}

// Published is the number of messages published so far.
func (p *Publisher) Published() int64 { return p.n.Load() }

// Stalls is how often publishing paused for a slow subscriber.
func (p *Publisher) Stalls() int64 { return p.stalls.Load() }

// Close disconnects.
func (p *Publisher) Close() { p.c.Disconnect(250) }
