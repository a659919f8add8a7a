// Package mqtt is the MQTT source: it subscribes to topics on one broker and
// turns each message into a signal (topic levels -> site, line, equipment,
// signal through a template; JSON or plain payloads).
//
// What always holds: a QoS 1/2 message is acknowledged to the broker only
// after its signal (or, for an undecodable message, its place in the order)
// is committed to the on-disk queue. The session is persistent (fixed client
// id, clean_session false), so the broker keeps and redelivers what was not
// acknowledged while the agent was down; a redelivered message yields a signal
// with the same ID, which JetStream deduplicates.
package mqtt

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/floorpulse/floorpulse/agent/internal/buffer"
	"github.com/floorpulse/floorpulse/agent/internal/config"
	"github.com/floorpulse/floorpulse/agent/internal/lograte"
	"github.com/floorpulse/floorpulse/agent/internal/metrics"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// Committer takes decoded messages for a group commit; *buffer.Batcher implements it.
type Committer interface {
	Add(ctx context.Context, e buffer.Entry) error
}

var _ Committer = (*buffer.Batcher)(nil)

// Source is one broker connection.
type Source struct {
	cfg    config.MQTT
	subs   []subscription
	commit Committer
	stat   *metrics.Source
	log    *slog.Logger
	warn   *lograte.Logger
	now    func() time.Time
}

type subscription struct {
	filter string
	dec    *Decoder
}

// New returns the source of a validated broker configuration.
func New(cfg config.MQTT, agentID, defaultSite string, commit Committer, stat *metrics.Source, log *slog.Logger) *Source {
	s := &Source{cfg: cfg, commit: commit, stat: stat, log: log, warn: lograte.New(log, 10*time.Second), now: time.Now}
	for _, sub := range cfg.Subscriptions {
		s.subs = append(s.subs, subscription{filter: sub.Topic, dec: NewDecoder(sub, defaultSite, agentID)})
	}
	return s
}

// Run connects (retrying with back-off), subscribes on every connect, and
// hands messages to the committer until ctx ends; then it disconnects
// without acknowledging anything uncommitted.
func (s *Source) Run(ctx context.Context) error {
	opts := paho.NewClientOptions().
		AddBroker(s.cfg.Broker).
		SetClientID(s.cfg.ClientID).
		SetCleanSession(s.cfg.CleanSession).
		SetUsername(s.cfg.Username).
		SetPassword(s.cfg.Password).
		SetKeepAlive(s.cfg.KeepAlive).
		SetPingTimeout(10 * time.Second).
		SetConnectTimeout(10 * time.Second).
		SetAutoReconnect(true).
		SetConnectRetry(true).
		SetConnectRetryInterval(min(time.Second, s.cfg.MaxReconnectInterval)).
		SetMaxReconnectInterval(s.cfg.MaxReconnectInterval).
		SetOrderMatters(true).
		SetAutoAckDisabled(true).
		SetResumeSubs(false)
	handler := func(_ paho.Client, m paho.Message) { s.handle(ctx, m) }
	// Messages of a persistent session can arrive before the subscriptions are
	// renewed; the default handler takes them so none goes unacknowledged.
	opts.SetDefaultPublishHandler(handler)
	opts.SetOnConnectHandler(func(c paho.Client) {
		s.stat.Connected.Store(true)
		s.log.Info("connected to mqtt broker")
		go s.subscribe(ctx, c, handler)
	})
	opts.SetConnectionLostHandler(func(_ paho.Client, err error) {
		s.stat.Connected.Store(false)
		s.stat.Subscribed.Store(false)
		s.log.Warn("lost mqtt connection, reconnecting", "err", err)
	})
	opts.SetReconnectingHandler(func(paho.Client, *paho.ClientOptions) {
		s.log.Debug("reconnecting to mqtt broker")
	})
	client := paho.NewClient(opts)
	client.Connect() // with ConnectRetry the token completes once connected; nothing to wait for
	<-ctx.Done()
	client.Disconnect(250)
	s.stat.Connected.Store(false)
	s.stat.Subscribed.Store(false)
	return nil
}

func (s *Source) subscribe(ctx context.Context, c paho.Client, handler paho.MessageHandler) {
	wait := 500 * time.Millisecond
	for ctx.Err() == nil && c.IsConnectionOpen() {
		var failed error
		for _, sub := range s.subs {
			tok := c.Subscribe(sub.filter, byte(*s.cfg.QoS), handler)
			if !tok.WaitTimeout(10 * time.Second) {
				failed = fmt.Errorf("subscribing to %q: timed out", sub.filter)
				break
			}
			if err := tok.Error(); err != nil {
				failed = fmt.Errorf("subscribing to %q: %w", sub.filter, err)
				break
			}
			if st, ok := tok.(*paho.SubscribeToken); ok {
				for topic, code := range st.Result() {
					if code == 0x80 {
						failed = fmt.Errorf("broker refused subscription to %q", topic)
					}
				}
			}
		}
		if failed == nil {
			s.stat.Subscribed.Store(true)
			s.log.Info("subscribed", "topics", len(s.subs))
			return
		}
		s.log.Error("subscribing failed, retrying", "err", failed, "retry_in", wait)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, 30*time.Second)
	}
}

// handle decodes a message and hands it to the committer; the message is
// acknowledged when the commit is done. It returns without acknowledging
// when the agent is stopping (the broker will redeliver).
func (s *Source) handle(ctx context.Context, m paho.Message) {
	var sigs []signal.Signal
	sig, err := s.decode(m.Topic(), m.Payload())
	if err != nil {
		s.stat.DecodeErrors.Add(1)
		s.warn.Warn("dropping an undecodable mqtt message", "topic", m.Topic(), "err", err)
	} else {
		sigs = []signal.Signal{sig}
	}
	_ = s.commit.Add(ctx, buffer.Entry{Signals: sigs, Done: func(err error) {
		if err != nil {
			return
		}
		s.stat.SignalsIn.Add(uint64(len(sigs)))
		m.Ack()
	}})
}

func (s *Source) decode(topic string, payload []byte) (signal.Signal, error) {
	var firstErr error
	for _, sub := range s.subs {
		if !topicMatches(sub.filter, topic) {
			continue
		}
		sig, err := sub.dec.Decode(topic, payload, s.now())
		if err == nil {
			return sig, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	if firstErr == nil {
		firstErr = fmt.Errorf("%w: no subscription matches topic %q", errDecode, topic)
	}
	return signal.Signal{}, firstErr
}

// topicMatches reports whether an MQTT topic filter (with + and #) matches topic.
func topicMatches(filter, topic string) bool {
	f, t := strings.Split(filter, "/"), strings.Split(topic, "/")
	for i, level := range f {
		if level == "#" {
			return true
		}
		if i >= len(t) {
			return false
		}
		if level != "+" && level != t[i] {
			return false
		}
	}
	return len(f) == len(t)
}
