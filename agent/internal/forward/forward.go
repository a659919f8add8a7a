// Package forward moves signals from the on-disk queue to NATS JetStream.
//
// What always holds: a record leaves the queue only after JetStream
// acknowledged it (or, for a record that no longer decodes, after the rest
// of its batch was acked; it is counted as dropped). Each signal is published to signal.Subject(prefix) with
// its stable ID as Nats-Msg-Id, so a batch retried after a failure (or
// resent after a crash between the ack and the delete) is dropped by the
// stream's duplicate window instead of being stored twice. Batches go out in
// queue order on one connection (up to pipeline of them awaiting acks), and
// the client keeps nothing while disconnected (a publish fails at once), so
// per equipment the stream's order is the queue's order.
//
// Connect never fails because the server is unreachable: the client keeps
// reconnecting in the background, the forwarder's publishes fail and are
// retried with back-off, and the queue holds the signals meanwhile.
package forward

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/floorpulse/floorpulse/agent/internal/buffer"
	"github.com/floorpulse/floorpulse/agent/internal/config"
	"github.com/floorpulse/floorpulse/agent/internal/lograte"
	"github.com/floorpulse/floorpulse/agent/internal/metrics"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// Queue is the part of buffer.Queue the forwarder uses.
type Queue interface {
	PeekAfter(after uint64, n int) ([]buffer.Record, error)
	Delete(upto uint64) error
}

// Publisher is the part of jetstream.JetStream the forwarder uses.
type Publisher interface {
	PublishAsync(subject string, data []byte, opts ...jetstream.PublishOpt) (jetstream.PubAckFuture, error)
}

var (
	_ Queue     = (*buffer.Queue)(nil)
	_ Publisher = jetstream.JetStream(nil)
)

// Forwarder publishes queued signals in batches.
type Forwarder struct {
	q          Queue
	js         Publisher
	prefix     string
	batch      int
	ackTimeout time.Duration
	idle       time.Duration // poll interval while the queue is empty
	log        *slog.Logger
	warn       *lograte.Logger
	m          *metrics.Registry
}

// New returns a Forwarder.
func New(q Queue, js Publisher, cfg config.NATS, m *metrics.Registry, log *slog.Logger) *Forwarder {
	return &Forwarder{
		q: q, js: js, prefix: cfg.SubjectPrefix, batch: cfg.Batch, ackTimeout: cfg.AckTimeout,
		idle: 10 * time.Millisecond, log: log, warn: lograte.New(log, 10*time.Second), m: m,
	}
}

// Connect connects to NATS, retrying in the background when the server is
// unreachable (the agent buffers meanwhile), and returns a JetStream handle.
func Connect(cfg config.NATS, name string, m *metrics.Registry, log *slog.Logger) (*nats.Conn, jetstream.JetStream, error) {
	opts := []nats.Option{
		nats.Name(name),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.ReconnectJitter(200*time.Millisecond, time.Second),
		// No client-side buffering while disconnected: a publish fails at
		// once and the forwarder retries the batch from the queue, which is
		// the buffer. Stale bytes are never replayed after a reconnect.
		nats.ReconnectBufSize(-1),
		nats.ConnectHandler(func(*nats.Conn) { m.NATSConnected.Store(true); log.Info("connected to nats") }),
		nats.ReconnectHandler(func(*nats.Conn) { m.NATSConnected.Store(true); log.Info("reconnected to nats") }),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			m.NATSConnected.Store(false)
			log.Warn("disconnected from nats", "err", err)
		}),
		nats.ClosedHandler(func(*nats.Conn) { m.NATSConnected.Store(false) }),
	}
	auth, err := authOptions(cfg)
	if err != nil {
		return nil, nil, err
	}
	opts = append(opts, auth...)
	nc, err := nats.Connect(cfg.URL, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("connecting to nats %s: %w", cfg.URL, err)
	}
	if nc.IsConnected() {
		m.NATSConnected.Store(true)
	}
	js, err := jetstream.New(nc,
		jetstream.WithPublishAsyncMaxPending((pipeline+1)*cfg.Batch),
		jetstream.WithPublishAsyncTimeout(cfg.AckTimeout),
	)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream: %w", err)
	}
	return nc, js, nil
}

// authOptions turns the credentials and TLS settings into client options.
// The files are read again here (a certificate may have been renewed since
// the configuration was checked).
func authOptions(cfg config.NATS) ([]nats.Option, error) {
	var opts []nats.Option
	switch {
	case cfg.Creds != "":
		opts = append(opts, nats.UserCredentials(cfg.Creds))
	case cfg.NKey != "":
		o, err := nats.NkeyOptionFromSeed(cfg.NKey)
		if err != nil {
			return nil, fmt.Errorf("nats.nkey: %w", err)
		}
		opts = append(opts, o)
	case cfg.Token != "":
		opts = append(opts, nats.Token(cfg.Token))
	case cfg.User != "":
		opts = append(opts, nats.UserInfo(cfg.User, cfg.Password))
	}
	if cfg.TLS != nil {
		tc, err := cfg.TLS.Config()
		if err != nil {
			return nil, fmt.Errorf("nats.%w", err)
		}
		opts = append(opts, nats.Secure(tc))
	}
	return opts, nil
}

// pipeline is how many batches may await JetStream's acks at once. While
// the acks of one batch come back, the next is already on the wire, so the
// server is never idle between batches.
const pipeline = 2

// flight is a published batch awaiting its acks.
type flight struct {
	recs        []buffer.Record
	futures     []jetstream.PubAckFuture
	undecodable uint64
}

// Run forwards until ctx ends. Up to pipeline batches are published before
// the oldest one's acks are awaited; batches leave the queue oldest first,
// each once all its messages were acked. When a batch fails, the batches
// after it are abandoned too and everything is published again from the
// oldest record: what the stream already holds is dropped as a duplicate.
func (f *Forwarder) Run(ctx context.Context) error {
	const minWait, maxWait = 100 * time.Millisecond, 5 * time.Second
	wait := minWait
	var inflight []flight
	var last uint64 // sequence number of the last record published
	for {
		if ctx.Err() != nil {
			return nil
		}
		for len(inflight) < pipeline {
			recs, err := f.q.PeekAfter(last, f.batch)
			if err != nil {
				if errors.Is(err, buffer.ErrClosed) {
					return err
				}
				f.warn.Warn("reading the queue failed", "err", err)
				break
			}
			if len(recs) == 0 {
				break
			}
			fl, err := f.send(recs)
			if err != nil {
				f.m.PublishErrors.Add(1)
				f.warn.Warn("publishing a batch failed, retrying", "first_seq", recs[0].Seq, "records", len(recs), "err", err, "retry_in", wait)
				inflight, last = nil, 0
				sleep(ctx, wait)
				wait = min(2*wait, maxWait)
				break
			}
			inflight = append(inflight, fl)
			last = recs[len(recs)-1].Seq
		}
		if len(inflight) == 0 {
			sleep(ctx, f.idle)
			continue
		}
		fl := inflight[0]
		if err := f.await(ctx, fl); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			f.m.PublishErrors.Add(1)
			f.warn.Warn("publishing a batch failed, retrying", "first_seq", fl.recs[0].Seq, "records", len(fl.recs), "err", err, "retry_in", wait)
			inflight, last = nil, 0
			sleep(ctx, wait)
			wait = min(2*wait, maxWait)
			continue
		}
		wait = minWait
		inflight = inflight[1:]
		if err := f.q.Delete(fl.recs[len(fl.recs)-1].Seq); err != nil {
			// The batch is in the stream; resending it later is deduplicated.
			f.warn.Warn("deleting a forwarded batch failed", "upto", fl.recs[len(fl.recs)-1].Seq, "err", err)
			if errors.Is(err, buffer.ErrClosed) {
				return err
			}
			inflight, last = nil, 0
			sleep(ctx, wait)
		}
	}
}

// send publishes one batch without waiting for its acks.
func (f *Forwarder) send(recs []buffer.Record) (flight, error) {
	fl := flight{recs: recs, futures: make([]jetstream.PubAckFuture, 0, len(recs))}
	for _, r := range recs {
		subject, id := f.prefix+"."+r.Tail, r.ID
		if id == "" { // a record stored without its subject and id
			s, err := signal.Unmarshal(r.Data)
			if err != nil {
				// Only a corrupted file gets here; the record cannot be sent
				// anywhere. It is counted as dropped (reason undecodable) once
				// the rest of its batch is acked and it leaves the queue.
				f.warn.Warn("skipping an undecodable queue record", "seq", r.Seq, "err", err)
				fl.undecodable++
				continue
			}
			subject, id = s.Subject(f.prefix), s.ID()
		}
		fut, err := f.js.PublishAsync(subject, r.Data, jetstream.WithMsgID(id))
		if err != nil {
			return flight{}, fmt.Errorf("publishing seq %d: %w", r.Seq, err)
		}
		fl.futures = append(fl.futures, fut)
	}
	return fl, nil
}

// await waits until JetStream acked every message of the batch.
func (f *Forwarder) await(ctx context.Context, fl flight) error {
	timeout := time.NewTimer(f.ackTimeout + time.Second)
	defer timeout.Stop()
	var dups uint64
	for _, fut := range fl.futures {
		select {
		case ack := <-fut.Ok():
			if ack.Duplicate {
				dups++
			}
		case err := <-fut.Err():
			return fmt.Errorf("batch from seq %d: %w", fl.recs[0].Seq, err)
		case <-timeout.C:
			return fmt.Errorf("batch from seq %d: no ack within %s", fl.recs[0].Seq, f.ackTimeout)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f.m.Forwarded.Add(uint64(len(fl.futures)))
	f.m.Duplicates.Add(dups)
	f.m.Undecodable.Add(fl.undecodable)
	return nil
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
