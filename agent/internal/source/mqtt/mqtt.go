// Package mqtt is the MQTT source: it subscribes to topics on one broker and
// turns each message into signals (topic levels -> site, line, equipment,
// signal through a template; JSON, plain or Sparkplug B payloads).
//
// What always holds: a QoS 1/2 message is acknowledged to the broker only
// after its signals (or, for an undecodable message, its place in the order)
// are committed to the on-disk queue. The session is persistent by default
// (fixed client id, clean_session false), so the broker keeps and redelivers
// what was not acknowledged while the agent was down; a redelivered message
// yields signals with the same IDs, which JetStream deduplicates. A message
// that cannot be used (bad payload, implausible timestamp, too large) is
// counted in the source's decode errors by reason, logged at a limited rate
// and acknowledged: it never blocks the messages after it.
//
// Sparkplug B (sparkplug_b subscriptions): per edge node the source keeps
// the alias -> name map and data types of the births, the sequence number,
// the bdSeq and the last data time, in memory and, with WithState, in the
// queue file, committed in the transaction of the signals of the message
// that changed them (so before its acknowledgement) and loaded at start: a
// message the broker redelivers after a crash is read with the birth that
// preceded it. A gap, an unknown alias or data without a birth is counted
// as a decode error and answered with a rebirth request (NCMD
// "Node Control/Rebirth", at most every 10 s per edge node); a death emits
// every signal known since the birth once more with quality bad, stamped
// no later than the node's last data.
//
// Connections are made by Run itself, so a failing connect (a refused TLS
// certificate, say) is logged with its cause, retried with back-off up to
// max_reconnect_interval, and the subscriptions are renewed after every
// connect.
package mqtt

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/floorpulse/floorpulse/agent/internal/backoff"
	"github.com/floorpulse/floorpulse/agent/internal/buffer"
	"github.com/floorpulse/floorpulse/agent/internal/config"
	"github.com/floorpulse/floorpulse/agent/internal/lograte"
	"github.com/floorpulse/floorpulse/agent/internal/metrics"
	"github.com/floorpulse/floorpulse/pkg/redact"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// Committer takes decoded messages for a group commit; *buffer.Batcher implements it.
type Committer interface {
	Add(ctx context.Context, e buffer.Entry) error
}

var _ Committer = (*buffer.Batcher)(nil)

// StateStore reads back the state records committed with the signals
// (buffer.Entry.Puts); *buffer.Queue implements it.
type StateStore interface {
	State(prefix []byte, fn func(key, value []byte) error) error
}

var _ StateStore = (*buffer.Queue)(nil)

// Option configures a Source.
type Option func(*Source)

// WithState makes the Sparkplug birth state durable: the source loads it
// from st when Run starts and commits every change with the signals of its
// message. Without it the births live in memory only.
func WithState(st StateStore) Option { return func(s *Source) { s.state = st } }

// Client is what the source needs of an MQTT client (paho's by default, see
// dialPaho). Messages arrive at hooks.message, in order, each acknowledged
// to the broker by its Ack; a lost connection is reported to hooks.lost.
type Client interface {
	// Connect connects. When ctx ends first it lets the attempt finish (so
	// that Disconnect closes what it opened) and returns ctx.Err().
	Connect(ctx context.Context) error
	// Subscribe subscribes to filter and waits for the broker's answer: a
	// refusal is errRefused, a connection that is not open errClosed.
	Subscribe(filter string, qos byte) error
	// Publish sends a QoS 0 message without waiting.
	Publish(topic string, payload []byte)
	// SubscribeFunc subscribes to filter as Subscribe does, its messages
	// going to fn instead of hooks.message.
	SubscribeFunc(filter string, qos byte, fn func(Message)) error
	// PublishRetained sends a retained QoS 1 message, when wait is set
	// waiting for the broker's acknowledgement; errClosed when the
	// connection is not open.
	PublishRetained(topic string, payload []byte, wait bool) error
	// Disconnect closes an open connection once hooks.settled holds and the
	// acknowledgements given are written, waiting at most ackWait.
	Disconnect()
}

// Message is a received message; paho.Message implements it.
type Message interface {
	Topic() string
	Payload() []byte
	Qos() byte
	Ack()
}

// hooks are what a client calls back.
type hooks struct {
	message func(Message) // every message received
	lost    func(error)   // the connection was lost
	settled func() bool   // no commit in progress
	acks    *atomic.Int64 // acknowledgements of QoS 1 and 2 messages given since the connect
	// will, when set, gives the will of each connect (it is called once
	// per connect, before it).
	will func() (topic string, payload []byte)
}

// dialer makes the client of a broker configuration; it connects only when
// asked to.
type dialer func(cfg config.MQTT, tls *tls.Config, h hooks) Client

var (
	errRefused = errors.New("broker refused subscription")
	errClosed  = errors.New("connection not open")
)

// Source is one broker connection.
type Source struct {
	cfg    config.MQTT
	subs   []subscription
	commit Committer
	stat   *metrics.Source
	log    *slog.Logger
	warn   *lograte.Logger
	now    func() time.Time
	dial   dialer
	state  StateStore // nil: Sparkplug births in memory only
	host   *host      // nil: not a Sparkplug primary host

	// unacked counts messages handed to the committer whose commit has not
	// yet ended (acknowledged, or failed): a stop waits for them, so that
	// what was committed is acknowledged before the connection closes and
	// the broker does not send it again.
	unacked atomic.Int64
	// acks counts the PUBACKs and PUBRECs handed to the client, which
	// waits on a stop until they are written.
	acks atomic.Int64
}

// ackWait bounds how long a stop waits for commits in progress to be
// acknowledged before it disconnects.
const ackWait = 2 * time.Second

type subscription struct {
	filter string
	dec    *Decoder   // json and plain
	sp     *Sparkplug // sparkplug_b
}

// New returns the source of a validated broker configuration.
func New(cfg config.MQTT, agentID, defaultSite string, commit Committer, stat *metrics.Source, log *slog.Logger, opts ...Option) *Source {
	s := &Source{cfg: cfg, commit: commit, stat: stat, log: log, warn: lograte.New(log, 10*time.Second), now: time.Now, dial: dialPaho}
	for _, o := range opts {
		o(s)
	}
	if cfg.Sparkplug != nil && cfg.Sparkplug.PrimaryHostID != "" {
		s.host = newHost(cfg.Sparkplug.PrimaryHostID, func() time.Time { return s.now() }, log)
	}
	for _, sub := range cfg.Subscriptions {
		ss := subscription{filter: sub.Topic}
		if sub.Format == config.FormatSparkplug {
			ss.sp = NewSparkplug(sub, defaultSite, agentID)
			ss.sp.prefix = stateKey(cfg.Broker, sub.Topic)
		} else {
			ss.dec = NewDecoder(sub, defaultSite, agentID)
		}
		s.subs = append(s.subs, ss)
	}
	return s
}

// Run connects (retrying with back-off), subscribes after every connect, and
// hands messages to the committer until ctx ends; then it disconnects
// without acknowledging anything uncommitted. It fails only when the TLS
// files or the stored Sparkplug state cannot be read.
func (s *Source) Run(ctx context.Context) error {
	tlsCfg, err := s.cfg.TLS.Config()
	if err != nil {
		return fmt.Errorf("mqtt %s: %w", redact.URL(s.cfg.Broker), redact.Error(err))
	}
	if err := s.restore(); err != nil {
		return fmt.Errorf("mqtt %s: %w", s.cfg.Broker, err)
	}
	marking := make(chan struct{})
	mctx, stopMarking := context.WithCancel(ctx)
	go func() { defer close(marking); s.markSparkplug(mctx) }()
	defer func() { stopMarking(); <-marking }()
	lost := make(chan error, 1)
	var client Client
	client = s.dial(s.cfg, tlsCfg, s.hooks(ctx, &client, lost))
	defer func() {
		if s.host != nil {
			s.host.leave(client)
		}
		client.Disconnect()
		s.stat.Connected.Store(false)
		s.stat.Subscribed.Store(false)
	}()

	first := min(500*time.Millisecond, s.cfg.MaxReconnectInterval)
	wait := first
	for {
		select { // a loss reported by an earlier connection is stale now
		case <-lost:
		default:
		}
		if err := client.Connect(ctx); err != nil {
			if errors.Is(err, ctx.Err()) {
				return nil
			}
			s.stat.Connected.Store(false)
			d := backoff.Jitter(wait)
			s.log.Error("connecting to mqtt broker failed, retrying", "err", err, "retry_in", d.Round(time.Millisecond))
			if !sleep(ctx, d) {
				return nil
			}
			wait = min(2*wait, s.cfg.MaxReconnectInterval)
			continue
		}
		wait = first
		s.acks.Store(0) // what an earlier connection did not write is lost with it
		s.stat.Connected.Store(true)
		s.stat.Connects.Add(1)
		s.log.Info("connected to mqtt broker")
		s.subscribe(ctx, client)
		if s.host != nil {
			s.host.announce(ctx, client, s.acked)
		}
		select {
		case <-ctx.Done():
			return nil
		case err := <-lost:
			s.stat.Connected.Store(false)
			s.stat.Subscribed.Store(false)
			s.log.Warn("lost mqtt connection, reconnecting", "err", err)
		}
	}
}

// hooks hands the client's messages to handle and its losses to lost;
// client is set before the client connects.
func (s *Source) hooks(ctx context.Context, client *Client, lost chan<- error) hooks {
	var will func() (string, []byte)
	if s.host != nil {
		will = s.host.will
	}
	return hooks{
		will:    will,
		message: func(m Message) { s.handle(ctx, *client, m) },
		lost: func(err error) {
			s.stat.Connected.Store(false)
			s.stat.Subscribed.Store(false)
			select {
			case lost <- err:
			default:
			}
		},
		settled: func() bool { return s.unacked.Load() == 0 },
		acks:    &s.acks,
	}
}

// acked acknowledges a message handled outside the committer (the host's
// own STATE), counted as handle counts its acknowledgements.
func (s *Source) acked(m Message) {
	m.Ack()
	if m.Qos() > 0 {
		s.acks.Add(1)
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// subscribe subscribes to every topic, retrying with back-off while the
// connection is open. Messages reach hooks.message.
func (s *Source) subscribe(ctx context.Context, c Client) {
	wait := 500 * time.Millisecond
	for ctx.Err() == nil {
		var failed error
		for _, sub := range s.subs {
			err := c.Subscribe(sub.filter, byte(*s.cfg.QoS))
			if err == nil {
				continue
			}
			failed = err
			if !errors.Is(err, errRefused) { // a refused filter does not stop the others
				break
			}
		}
		if failed == nil {
			s.stat.Subscribed.Store(true)
			s.log.Info("subscribed", "topics", len(s.subs))
			return
		}
		if errors.Is(failed, errClosed) { // Run hears of the loss and connects again
			return
		}
		d := backoff.Jitter(wait)
		s.log.Error("subscribing failed, retrying", "err", failed, "retry_in", d.Round(time.Millisecond))
		if !sleep(ctx, d) {
			return
		}
		wait = min(2*wait, 30*time.Second)
	}
}

// handle decodes a message and hands it to the committer; the message is
// acknowledged when the commit is done. It returns without acknowledging
// when the agent is stopping (the broker will redeliver).
func (s *Source) handle(ctx context.Context, c Client, m Message) {
	sigs, puts, rebirth := s.decode(m.Topic(), m.Payload())
	if rebirth != "" {
		c.Publish(rebirth, rebirthRequest(s.now()))
		s.warn.Log(slog.LevelInfo, "requested a sparkplug rebirth", "topic", rebirth)
	}
	s.unacked.Add(1)
	err := s.commit.Add(ctx, buffer.Entry{Signals: sigs, Puts: puts, Done: func(err error) {
		defer s.unacked.Add(-1)
		if err != nil {
			return
		}
		s.stat.SignalsIn.Add(uint64(len(sigs)))
		m.Ack()
		if m.Qos() > 0 {
			s.acks.Add(1)
		}
	}})
	if err != nil { // not taken (the source is stopping): the broker sends it again
		s.unacked.Add(-1)
	}
}

// decode turns a message into signals and Sparkplug state records (when the
// source keeps them), counting and logging what cannot be used. rebirth is
// the topic of a Sparkplug rebirth request to send, or "".
func (s *Source) decode(topic string, payload []byte) (sigs []signal.Signal, puts []buffer.Put, rebirth string) {
	rx := s.now()
	var firstErr error
	for _, sub := range s.subs {
		if !topicMatches(sub.filter, topic) {
			continue
		}
		if sub.sp != nil {
			out, err := sub.sp.Decode(topic, payload, rx)
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				continue
			}
			for _, p := range out.problems {
				s.setAside("sparkplug message partly unusable", topic, reasonOf(p), p)
			}
			if out.unmapped > 0 {
				s.warn.Log(slog.LevelInfo, "sparkplug metrics match no mapping, skipped", "topic", topic, "metrics", out.unmapped, "example", out.example)
			}
			if s.state != nil {
				puts = out.puts
			}
			return out.signals, puts, out.rebirth
		}
		sig, err := sub.dec.Decode(topic, payload, rx)
		if err == nil {
			return []signal.Signal{sig}, nil, ""
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	if firstErr == nil {
		firstErr = aside(metrics.UnmappedTopic, "no subscription matches topic %q", topic)
	}
	msg := "dropping an undecodable mqtt message"
	if reasonOf(firstErr) == metrics.UnmappedTopic {
		msg = "dropping an mqtt message whose topic the template cannot map"
	}
	s.setAside(msg, topic, reasonOf(firstErr), firstErr, "bytes", len(payload))
	return nil, nil, ""
}

// setAside counts a message or value set aside for reason and logs it,
// at most every 10 s per message and reason.
func (s *Source) setAside(msg, topic string, reason metrics.DecodeReason, err error, args ...any) {
	s.stat.DecodeErrors.Count(reason)
	s.warn.LogFor(msg+"\x00"+reason.String(), slog.LevelWarn, msg, append([]any{"reason", reason.String(), "topic", topic, "err", err}, args...)...)
}

// restore loads the Sparkplug state committed before the last stop. A
// record that cannot be read is logged and skipped: its edge node is asked
// to rebirth when it is next heard from.
func (s *Source) restore() error {
	if s.state == nil {
		return nil
	}
	for _, sub := range s.subs {
		if sub.sp == nil {
			continue
		}
		prefix := sub.sp.Prefix()
		nodes, skipped := map[string]bool{}, 0
		err := s.state.State([]byte(prefix), func(k, v []byte) error {
			key := k[len(prefix):]
			if err := sub.sp.Restore(key, v); err != nil {
				skipped++
				s.log.Warn("skipping a stored sparkplug record", "key", string(key), "err", err)
				return nil
			}
			node, _, _ := strings.Cut(string(key), "\x00")
			nodes[node] = true
			return nil
		})
		if err != nil {
			return fmt.Errorf("loading the sparkplug state of %s: %w", sub.filter, err)
		}
		if len(nodes) > 0 || skipped > 0 {
			s.log.Info("loaded sparkplug birth state", "topic", sub.filter, "edge_nodes", len(nodes), "skipped", skipped)
		}
	}
	return nil
}

// topicMatches reports whether an MQTT topic filter (with + and #) matches
// topic. It runs for every message, so it walks both without splitting them.
func topicMatches(filter, topic string) bool {
	for {
		f, frest, fmore := strings.Cut(filter, "/")
		if f == "#" {
			return true
		}
		t, trest, tmore := strings.Cut(topic, "/")
		if f != "+" && f != t {
			return false
		}
		if !fmore || !tmore {
			// Both must end here; "a/#" also matches "a".
			next, _, _ := strings.Cut(frest, "/")
			return fmore == tmore || (fmore && next == "#")
		}
		filter, topic = frest, trest
	}
}
