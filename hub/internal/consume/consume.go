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
	Failures   atomic.Uint64 // handler failures (the batch is retried)
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
	Resume(ctx, js, cons, cfg, handle, log)
	return Loop(ctx, cons, cfg, handle, stats, log)
}

// Resume hands over, in stream order, the messages cons delivered but that
// were not acknowledged: those a consumer that died (a hub killed while it
// handled a batch, or with the next one fetched) still held. Left to the
// server they would come back only after the ack wait, behind the signals
// that follow them. They are read again with an ordered consumer (Replay);
// when the server redelivers them after the ack wait, they are applied a
// second time, which changes nothing. A replay that fails leaves them to that
// redelivery, as before.
func Resume(ctx context.Context, js jetstream.JetStream, cons jetstream.Consumer, cfg Config, handle Handler, log *slog.Logger) {
	ci, err := cons.Info(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		log.Warn("reading the consumer's state failed; signals it held unacknowledged come back after the ack wait", "err", err)
		return
	}
	from, to := ci.AckFloor.Stream+1, ci.Delivered.Stream
	if ci.NumAckPending == 0 || to < from {
		return
	}
	n, last, err := Replay(ctx, js, cfg, from, to, handle)
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		log.Warn("resuming the signals held unacknowledged failed; they come back after the ack wait", "from", from, "to", to, "err", err)
		return
	}
	log.Info("resumed the signals held unacknowledged", "from", from, "to", to, "replayed", n, "replayed_to", last)
}

// Loop fetches batches from cons, hands them to handle and acknowledges
// them, until ctx ends. The next batch is fetched and decoded while handle
// works on the current one (handle is what waits on the disk), so at most
// three batches are out at a time. When handle fails, the batch stays here
// with those fetched after it: the server is told they are in progress, and
// they are handed to handle again, in stream order, after a growing delay,
// until stored; only then does fetching go on. So handle sees the signals in
// stream order whatever fails. Batches held when ctx ends are negatively
// acknowledged, to come back at once; a consumer that dies holding batches
// leaves them to Resume at the next start.
func Loop(ctx context.Context, cons jetstream.Consumer, cfg Config, handle Handler, stats *Stats, log *slog.Logger) error {
	log.Info("consuming", "stream", cfg.Stream, "consumer", cfg.Consumer)
	f := &fetcher{cons: cons, cfg: cfg, stats: stats, log: log, badLog: newLimiter(time.Second), mismatchLog: newLimiter(time.Second)}
	var held []batch // fetched, not stored, in stream order
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		for len(held) > 0 && ctx.Err() == nil {
			if err := f.store(ctx, handle, held[0]); err != nil {
				f.failed(ctx, err, held, &backoff)
				continue
			}
			backoff = 100 * time.Millisecond
			held = held[1:]
		}
		if ctx.Err() == nil {
			held = f.pipeline(ctx, handle, &backoff)
		}
	}
	for _, b := range held {
		b.nak()
	}
	return nil
}

// batch is a fetched batch's messages and their signals.
type batch struct {
	msgs []jetstream.Msg
	sigs []signal.Signal
}

// nak negatively acknowledges the batch's messages, to be delivered again
// at once.
func (b batch) nak() {
	for _, m := range b.msgs {
		_ = m.Nak()
	}
}

// fetcher fetches and decodes batches.
type fetcher struct {
	cons                jetstream.Consumer
	cfg                 Config
	stats               *Stats
	log                 *slog.Logger
	badLog, mismatchLog *limiter
	dec                 signal.Decoder
	// left is a batch the fetching goroutine fetched but could not send
	// before it stopped.
	left *batch
}

// store hands b to handle and acknowledges it once handled.
func (f *fetcher) store(ctx context.Context, handle Handler, b batch) error {
	if err := handle(ctx, b.sigs); err != nil {
		return err
	}
	for _, m := range b.msgs {
		_ = m.Ack()
	}
	f.stats.Consumed.Add(uint64(len(b.msgs)))
	f.stats.Batches.Add(1)
	f.stats.LastBatch.Store(time.Now().UnixNano())
	return nil
}

// failed counts and logs a failure to store held[0], tells the server that
// every held message is in progress (so that none comes back after the ack
// wait while held), and waits *backoff, which it then doubles (at most 30 s).
func (f *fetcher) failed(ctx context.Context, err error, held []batch, backoff *time.Duration) {
	f.stats.Failures.Add(1)
	n := 0
	for _, b := range held {
		n += len(b.sigs)
		for _, m := range b.msgs {
			_ = m.InProgress()
		}
	}
	f.log.Warn("batch not stored; retrying", "signals", len(held[0].sigs), "held", n, "err", err, "retry_in", *backoff)
	sleep(ctx, *backoff)
	*backoff = min(*backoff*2, 30*time.Second)
}

// pipeline hands batches, fetched ahead by a goroutine, to handle and
// acknowledges them, until ctx ends (nil: the batch fetched ahead is
// negatively acknowledged) or handle fails: then it returns the batches
// fetched and not stored, the failed one first, in stream order.
func (f *fetcher) pipeline(ctx context.Context, handle Handler, backoff *time.Duration) []batch {
	fctx, stop := context.WithCancel(ctx)
	batches := make(chan batch, 1)
	fetched := make(chan struct{})
	f.left = nil
	go func() {
		defer close(fetched)
		f.fetch(fctx, batches)
	}()
	// stopFetching stops the goroutine and returns what it fetched and did
	// not hand over, in order.
	stopFetching := func() []batch {
		stop()
		<-fetched
		var out []batch
		select {
		case b := <-batches:
			out = append(out, b)
		default:
		}
		if f.left != nil {
			out = append(out, *f.left)
		}
		return out
	}
	for {
		var b batch
		select {
		case <-ctx.Done():
			for _, b := range stopFetching() {
				b.nak()
			}
			return nil
		case b = <-batches:
		}
		if err := f.store(ctx, handle, b); err != nil {
			held := append([]batch{b}, stopFetching()...)
			f.failed(ctx, err, held, backoff)
			return held
		}
		*backoff = 100 * time.Millisecond
	}
}

// fetch fetches and decodes batches and sends those with signals to out,
// until ctx ends; a batch it could not send then is left in f.left. Messages that do not decode, or do not belong to the
// consumer, are counted, logged at a limited rate and terminated here.
func (f *fetcher) fetch(ctx context.Context, out chan<- batch) {
	cfg, stats, log := f.cfg, f.stats, f.log
	for ctx.Err() == nil {
		fb, err := f.cons.Fetch(cfg.Batch, jetstream.FetchMaxWait(250*time.Millisecond))
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			log.Warn("fetch failed", "err", err)
			sleep(ctx, time.Second)
			continue
		}
		var b batch
		for msg := range fb.Messages() {
			s, err := f.dec.Unmarshal(msg.Data())
			if err == nil && !cfg.subjectMatches(msg.Subject(), s) {
				stats.Mismatched.Add(1)
				if f.mismatchLog.allow() {
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
				if f.badLog.allow() {
					log.Warn("bad signal message set aside", "subject", msg.Subject(), "err", err, "bad_total", stats.Bad.Load())
				}
				_ = msg.Term()
				continue
			}
			b.msgs = append(b.msgs, msg)
			b.sigs = append(b.sigs, s)
		}
		if err := fb.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			log.Debug("fetch ended", "err", err)
		}
		if len(b.msgs) == 0 {
			continue
		}
		select {
		case out <- b:
		case <-ctx.Done():
			f.left = &b
			return
		}
	}
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
