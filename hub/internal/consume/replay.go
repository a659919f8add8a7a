package consume

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/floorpulse/floorpulse/pkg/signal"
)

// Replay reads the stream's messages that match cfg.Filter, from stream
// sequence from up to and including to, with an ordered consumer (no acks,
// no durable state on the server), and hands the signals that decode (and
// that cfg.Accept takes) to handle in batches of at most cfg.Batch. It
// returns how many signals it handed over and the last stream sequence it
// read (0 if none). Messages the stream no longer holds (aged out) are
// skipped: replay ends when the stream has nothing more up to to.
func Replay(ctx context.Context, js jetstream.JetStream, cfg Config, from, to uint64, handle Handler) (n int, last uint64, err error) {
	if to < from || to == 0 {
		return 0, 0, nil
	}
	oc := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy}
	if from > 1 {
		oc.DeliverPolicy, oc.OptStartSeq = jetstream.DeliverByStartSequencePolicy, from
	}
	if cfg.Filter != "" {
		oc.FilterSubjects = []string{cfg.Filter}
	}
	cons, err := js.OrderedConsumer(ctx, cfg.Stream, oc)
	if err != nil {
		return 0, 0, fmt.Errorf("replaying %s from %d: %w", cfg.Stream, from, err)
	}
	var dec signal.Decoder
	for {
		batch, err := cons.Fetch(cfg.Batch, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			return n, last, fmt.Errorf("replaying %s: %w", cfg.Stream, err)
		}
		var sigs []signal.Signal
		got, done := 0, false
		for msg := range batch.Messages() {
			got++
			md, err := msg.Metadata()
			if err != nil {
				continue
			}
			if md.Sequence.Stream > to {
				done = true
				continue
			}
			last = md.Sequence.Stream
			if last == to {
				done = true
			}
			s, err := dec.Unmarshal(msg.Data())
			if err != nil || !cfg.subjectMatches(msg.Subject(), s) || (cfg.Accept != nil && !cfg.Accept(s)) {
				continue // counted when first consumed
			}
			sigs = append(sigs, s)
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, context.DeadlineExceeded) {
			return n, last, fmt.Errorf("replaying %s: %w", cfg.Stream, err)
		}
		if len(sigs) > 0 {
			if err := handle(ctx, sigs); err != nil {
				return n, last, err
			}
			n += len(sigs)
		}
		if done || got == 0 || ctx.Err() != nil {
			return n, last, ctx.Err()
		}
	}
}
