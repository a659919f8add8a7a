// Package consume reads signals from the JetStream stream with a durable pull
// consumer and hands them to the hub in batches. A batch's messages are
// acknowledged only after the handler returned nil, i.e. after its effects are
// durable; when the handler fails, the batch is negatively acknowledged and
// comes back (docs/delivery.md). Messages that do not decode are counted, logged at a limited
// rate and terminated (never redelivered, never a crash). So are signals whose
// subject names another site, line or equipment than their body: the
// subject is what NATS permissions check, so a body that disagrees with it
// may come from an agent publishing for a site it is not allowed to.
package consume

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/floorpulse/floorpulse/hub/internal/partition"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// Handler makes a batch's effects durable.
type Handler func(ctx context.Context, sigs []signal.Signal) error

// Config says what to consume.
type Config struct {
	Stream          string
	SubjectPrefix   string
	Consumer        string
	DuplicateWindow time.Duration
	MaxAge          time.Duration
	// MaxBytes bounds the stream's size (0: no bound); when full, it
	// discards its oldest messages (DiscardOld).
	MaxBytes int64
	Batch    int
	// Partitions > 1 partitions the stream by site: its subject transform
	// stores prefix.<site>.<rest> as prefix.<partition>.<site>.<rest>.
	Partitions int
	// Filter limits the consumer to a subject filter (empty: the whole stream).
	Filter string
	// Accept, when set, rejects signals that do not belong to this consumer:
	// they are counted and terminated like messages that do not decode.
	Accept func(signal.Signal) bool
}

// ErrPartitions is returned when the stream exists with a different
// partitioning than configured.
var ErrPartitions = errors.New("stream partitioning differs from the configuration")

// Stats are the consumer's counters.
type Stats struct {
	Consumed atomic.Uint64 // signals handed to the handler and acked
	Bad      atomic.Uint64 // messages that did not decode
	// Mismatched are signals whose subject disagrees with their body.
	Mismatched atomic.Uint64
	Failures   atomic.Uint64 // handler failures (batch redelivered)
	Batches    atomic.Uint64
	LastBatch  atomic.Int64 // unix nanoseconds of the last handled batch
}

// EnsureStream creates or updates the signals stream. The partitioning of an
// existing stream is never changed: its stored subjects (and so every
// partition's history) depend on it, so a mismatch is ErrPartitions.
func EnsureStream(ctx context.Context, js jetstream.JetStream, cfg Config) (jetstream.Stream, error) {
	sc := jetstream.StreamConfig{
		Name:        cfg.Stream,
		Description: "floorpulse signals from edge agents",
		Subjects:    []string{cfg.SubjectPrefix + ".>"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      cfg.MaxAge,
		MaxBytes:    -1,
		Discard:     jetstream.DiscardOld,
		Duplicates:  cfg.DuplicateWindow,
	}
	if cfg.MaxBytes > 0 {
		sc.MaxBytes = cfg.MaxBytes
	}
	if cfg.Partitions > 1 {
		src, dest := partition.Transform(cfg.SubjectPrefix, cfg.Partitions)
		sc.SubjectTransform = &jetstream.SubjectTransformConfig{Source: src, Destination: dest}
	}
	if old, err := js.Stream(ctx, cfg.Stream); err == nil {
		info := old.CachedInfo()
		have := info.Config.SubjectTransform
		switch {
		case have == nil && sc.SubjectTransform == nil:
		case have != nil && sc.SubjectTransform != nil && *have == *sc.SubjectTransform:
		case have == nil && info.State.Msgs == 0:
			// An empty stream can still be partitioned.
		default:
			return nil, fmt.Errorf("stream %s (transform %v, %d messages) wants %d partitions: %w",
				cfg.Stream, have, info.State.Msgs, max(cfg.Partitions, 1), ErrPartitions)
		}
		sc.Replicas = info.Config.Replicas // an operator may have raised them
	} else if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("looking up stream %s: %w", cfg.Stream, err)
	}
	st, err := js.CreateOrUpdateStream(ctx, sc)
	if err != nil {
		return nil, fmt.Errorf("creating stream %s: %w", cfg.Stream, err)
	}
	return st, nil
}

// Durable creates or updates the durable pull consumer cfg.Consumer (with
// cfg.Filter) on the stream.
func Durable(ctx context.Context, st jetstream.Stream, cfg Config) (jetstream.Consumer, error) {
	cons, err := st.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:       cfg.Consumer,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       2 * time.Minute,
		MaxAckPending: max(20000, 4*cfg.Batch),
		DeliverPolicy: jetstream.DeliverAllPolicy,
		FilterSubject: cfg.Filter,
	})
	if err != nil {
		return nil, fmt.Errorf("creating consumer %s: %w", cfg.Consumer, err)
	}
	return cons, nil
}

// Run consumes until ctx ends.
func Run(ctx context.Context, js jetstream.JetStream, cfg Config, handle Handler, stats *Stats, log *slog.Logger) error {
	st, err := EnsureStream(ctx, js, cfg)
	if err != nil {
		return err
	}
	cons, err := Durable(ctx, st, cfg)
	if err != nil {
		return err
	}
	return Loop(ctx, cons, cfg, handle, stats, log)
}

// Loop fetches batches from cons, hands them to handle and acknowledges
// them, until ctx ends.
func Loop(ctx context.Context, cons jetstream.Consumer, cfg Config, handle Handler, stats *Stats, log *slog.Logger) error {
	log.Info("consuming", "stream", cfg.Stream, "consumer", cfg.Consumer)
	badLog, mismatchLog := newLimiter(time.Second), newLimiter(time.Second)
	var dec signal.Decoder
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		batch, err := cons.Fetch(cfg.Batch, jetstream.FetchMaxWait(250*time.Millisecond))
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			log.Warn("fetch failed", "err", err)
			sleep(ctx, time.Second)
			continue
		}
		var msgs []jetstream.Msg
		var sigs []signal.Signal
		for msg := range batch.Messages() {
			s, err := dec.Unmarshal(msg.Data())
			if err == nil && !cfg.subjectMatches(msg.Subject(), s) {
				stats.Mismatched.Add(1)
				if mismatchLog.allow() {
					log.Warn("signal whose subject disagrees with its body set aside", "subject", msg.Subject(),
						"site", s.Site, "line", s.Line, "equipment", s.Equipment, "mismatched_total", stats.Mismatched.Load())
				}
				_ = msg.Term()
				continue
			}
			if err == nil && cfg.Accept != nil && !cfg.Accept(s) {
				err = fmt.Errorf("signal of site %q does not belong to consumer %s", s.Site, cfg.Consumer)
			}
			if err != nil {
				stats.Bad.Add(1)
				if badLog.allow() {
					log.Warn("bad signal message set aside", "subject", msg.Subject(), "err", err, "bad_total", stats.Bad.Load())
				}
				_ = msg.Term()
				continue
			}
			msgs = append(msgs, msg)
			sigs = append(sigs, s)
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			log.Debug("fetch ended", "err", err)
		}
		if len(msgs) == 0 {
			continue
		}
		if err := handle(ctx, sigs); err != nil {
			stats.Failures.Add(1)
			log.Warn("batch not stored; will be redelivered", "signals", len(sigs), "err", err, "retry_in", backoff)
			for _, m := range msgs {
				_ = m.NakWithDelay(backoff)
			}
			sleep(ctx, backoff)
			backoff = min(backoff*2, 30*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		for _, m := range msgs {
			_ = m.Ack()
		}
		stats.Consumed.Add(uint64(len(msgs)))
		stats.Batches.Add(1)
		stats.LastBatch.Store(time.Now().UnixNano())
	}
	return nil
}

// subjectMatches tells whether a message's subject names the site, line and
// equipment of its signal: prefix.site.line.equipment, or with partitions
// prefix.<partition>.site.line.equipment as the stream stores it.
func (cfg Config) subjectMatches(subject string, s signal.Signal) bool {
	rest, ok := strings.CutPrefix(subject, cfg.SubjectPrefix+".")
	if !ok {
		return false
	}
	if cfg.Partitions > 1 {
		if _, rest, ok = strings.Cut(rest, "."); !ok {
			return false
		}
	}
	site, rest, _ := strings.Cut(rest, ".")
	line, eq, _ := strings.Cut(rest, ".")
	return site == s.Site && line == s.Line && eq == s.Equipment
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// limiter allows one event per interval (for logging on hot paths).
type limiter struct {
	every time.Duration
	next  atomic.Int64
}

func newLimiter(every time.Duration) *limiter { return &limiter{every: every} }

func (l *limiter) allow() bool {
	now := time.Now().UnixNano()
	n := l.next.Load()
	if now < n {
		return false
	}
	return l.next.CompareAndSwap(n, now+int64(l.every))
}
