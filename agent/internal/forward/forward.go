// Package forward moves signals from the on-disk queue to NATS JetStream.
//
// Messages are published as JetStream publishes are on the wire: a core
// NATS publish with a reply subject, answered by the stream with a PubAck.
// The reply subject names the batch (one per batch, under an inbox of the
// forwarder's own), so one subscription collects the acks of every batch
// in flight without a future, channel or timer per message.
//
// What always holds: a record leaves the queue only after JetStream
// acknowledged it (or, for a record that no longer decodes, after the rest
// of its batch was acked; it is counted as dropped). Each signal is published to signal.Subject(prefix) with
// its stable ID as Nats-Msg-Id, so a batch retried after a failure (or
// resent after a crash between the ack and the delete) is dropped by the
// stream's duplicate window instead of being stored twice. Batches go out in
// queue order on one connection (up to pipeline of them awaiting acks), and
// the client keeps nothing while disconnected (a publish fails at once), so
// after a lost connection nothing stale is replayed. Per equipment the
// stream's order is the queue's order except when the stream refuses (or
// does not answer) one batch while it stores a later one in flight: the
// first is stored after the second when it is sent again. The hub places
// signals by their timestamps, so this changes no figure.
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
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"

	"github.com/floorpulse/floorpulse/agent/internal/buffer"
	"github.com/floorpulse/floorpulse/agent/internal/config"
	"github.com/floorpulse/floorpulse/agent/internal/lograte"
	"github.com/floorpulse/floorpulse/agent/internal/metrics"
	"github.com/floorpulse/floorpulse/pkg/redact"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// Queue is the part of buffer.Queue the forwarder uses.
type Queue interface {
	PeekAfter(after uint64, n int) ([]buffer.Record, error)
	Delete(upto uint64) error
}

var _ Queue = (*buffer.Queue)(nil)

// batchReader is implemented by a Queue that reads records into memory the
// forwarder hands back once their batch left the queue; *buffer.Queue
// implements it. Without it, every batch is read into fresh memory.
type batchReader interface {
	PeekInto(b *buffer.Batch, after uint64, n int) error
}

var _ batchReader = (*buffer.Queue)(nil)

// Conn is what the forwarder needs of a NATS connection: core publishes
// (JetStream's on the wire) and one subscription for the stream's acks.
// *nats.Conn implements it.
type Conn interface {
	PublishMsg(m *nats.Msg) error
	Subscribe(subject string, cb nats.MsgHandler) (*nats.Subscription, error)
}

var _ Conn = (*nats.Conn)(nil)

// Forwarder publishes queued signals in batches.
type Forwarder struct {
	q          Queue
	nc         Conn
	prefix     string
	batch      int
	ackTimeout time.Duration
	idle       time.Duration // poll interval while the queue is empty
	log        *slog.Logger
	warn       *lograte.Logger
	m          *metrics.Registry

	inbox  string   // reply subjects are inbox + batch number
	msg    nats.Msg // reused for every publish: PublishMsg copies it out at once
	msgID  []string // msg.Header[nats.MsgIdHdr]
	nextID uint64

	subjects map[string]string // subject tail -> subject; used by Run only
	spare    []*buffer.Batch   // batches deleted from the queue, to read into again; used by Run only

	mu      sync.Mutex
	flights map[uint64]*flight // batches awaiting acks, by number
}

// New returns a Forwarder publishing on nc.
func New(q Queue, nc Conn, cfg config.NATS, m *metrics.Registry, log *slog.Logger) *Forwarder {
	f := &Forwarder{
		q: q, nc: nc, prefix: cfg.SubjectPrefix, batch: cfg.Batch, ackTimeout: cfg.AckTimeout,
		idle: 10 * time.Millisecond, log: log, warn: lograte.New(log, 10*time.Second), m: m,
		inbox: inbox(cfg.InboxPrefix), msgID: []string{""}, flights: map[uint64]*flight{},
		subjects: map[string]string{},
	}
	f.msg.Header = nats.Header{nats.MsgIdHdr: f.msgID}
	return f
}

// inbox returns a fresh reply subject prefix under prefix (default _INBOX):
// a hub's agent identity may subscribe only below its own prefix.
func inbox(prefix string) string {
	if prefix == "" {
		prefix = "_INBOX"
	}
	return prefix + "." + nuid.Next() + "."
}

// Connect connects to NATS, retrying in the background when the server is
// unreachable (the agent buffers meanwhile).
func Connect(cfg config.NATS, name string, m *metrics.Registry, log *slog.Logger) (*nats.Conn, error) {
	warn := lograte.New(log, 10*time.Second)
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
		// A publish the server refuses (e.g. a site this agent's identity
		// may not publish for) gets no ack; the server says why here.
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { warn.Warn("nats error", "err", err) }),
	}
	if cfg.InboxPrefix != "" {
		opts = append(opts, nats.CustomInboxPrefix(cfg.InboxPrefix))
	}
	auth, err := authOptions(cfg)
	if err != nil {
		return nil, err
	}
	opts = append(opts, auth...)
	nc, err := nats.Connect(cfg.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("connecting to nats %s: %w", redact.URL(cfg.URL), err)
	}
	if nc.IsConnected() {
		m.NATSConnected.Store(true)
	}
	return nc, nil
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
	case cfg.Token.IsSet():
		opts = append(opts, nats.Token(cfg.Token.Value()))
	case cfg.User != "":
		opts = append(opts, nats.UserInfo(cfg.User, cfg.Password.Value()))
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

// flight is a published batch awaiting its acks. The fields after recs are
// guarded by Forwarder.mu once the flight is registered.
type flight struct {
	id          uint64
	recs        []buffer.Record
	batch       *buffer.Batch // what recs are in, when read by PeekInto
	undecodable uint64
	sent        int  // messages published; known once sending is over
	sending     bool // still publishing: acks may come before the last message is out
	acked, dups int
	err         error
	done        chan struct{} // closed when every sent message is acked, or at the first error
	closed      bool
}

// finish closes done once; f.mu is held.
func (fl *flight) finish() {
	if !fl.closed {
		fl.closed = true
		close(fl.done)
	}
}

// Run forwards until ctx ends. Up to pipeline batches are published before
// the oldest one's acks are awaited; batches leave the queue oldest first,
// each once all its messages were acked. When a batch fails, the batches
// after it are abandoned too and everything is published again from the
// oldest record: what the stream already holds is dropped as a duplicate.
func (f *Forwarder) Run(ctx context.Context) error {
	sub, err := f.nc.Subscribe(f.inbox+"*", f.onAck)
	if err != nil {
		return fmt.Errorf("subscribing to acks: %w", err)
	}
	defer sub.Unsubscribe()
	r := &run{f: f, ctx: ctx, wait: minWait}
	for ctx.Err() == nil {
		if err := r.fill(); err != nil {
			return err
		}
		if len(r.inflight) == 0 {
			sleep(ctx, f.idle)
			continue
		}
		if err := r.settle(); err != nil {
			return err
		}
	}
	// What was acked leaves the queue now rather than being sent again at
	// the next start.
	if err := r.clean(); err != nil && !errors.Is(err, buffer.ErrClosed) {
		return err
	}
	return nil
}

// Back-off after failures in a row.
const minWait, maxWait = 100 * time.Millisecond, 5 * time.Second

// run is the state of one Run: the batches in flight, oldest first.
type run struct {
	f        *Forwarder
	ctx      context.Context
	inflight []*flight
	last     uint64 // sequence number of the last record published
	wait     time.Duration

	// Acked batches not yet deleted from the queue: records up to acked,
	// acked batches, the first of them acked at since.
	acked   uint64
	unclean int
	since   time.Time
}

// Acked batches are deleted from the queue together, in one transaction
// (one fsync), when no other batch is in flight, after deleteBatches of
// them, or deleteAfter after the first was acked, whichever comes first.
// Until then they are in the stream and in the queue, as between an ack
// and its delete: after a crash they are sent again and the stream's
// duplicate window drops them.
const (
	deleteBatches = 4
	deleteAfter   = 100 * time.Millisecond
)

// fill publishes batches until pipeline of them are in flight or the queue
// has no more. It fails only when the queue is closed.
func (r *run) fill() error {
	for len(r.inflight) < pipeline {
		recs, batch, err := r.f.peek(r.last)
		if err != nil {
			if errors.Is(err, buffer.ErrClosed) {
				return err
			}
			r.f.warn.Warn("reading the queue failed", "err", err)
			return nil
		}
		if len(recs) == 0 {
			return nil
		}
		fl, err := r.f.send(recs)
		if err != nil {
			r.failed(recs, err)
			return nil
		}
		fl.batch = batch
		r.inflight = append(r.inflight, fl)
		r.last = recs[len(recs)-1].Seq
	}
	return nil
}

// settle awaits the oldest batch's acks and deletes it from the queue. It
// fails only when the queue is closed.
func (r *run) settle() error {
	f, fl := r.f, r.inflight[0]
	if err := f.await(r.ctx, fl); err != nil {
		if r.ctx.Err() != nil {
			return nil
		}
		r.failed(fl.recs, err)
		return nil
	}
	r.wait = minWait
	r.inflight = r.inflight[1:]
	if r.unclean == 0 {
		r.since = time.Now()
	}
	r.acked, r.unclean = fl.recs[len(fl.recs)-1].Seq, r.unclean+1
	// Nothing refers to the batch's records any more: the flight is
	// forgotten (a late ack finds nothing) and out of inflight.
	if fl.batch != nil && len(f.spare) < pipeline {
		f.spare = append(f.spare, fl.batch)
	}
	fl.recs, fl.batch = nil, nil
	if len(r.inflight) > 0 && r.unclean < deleteBatches && time.Since(r.since) < deleteAfter {
		return nil
	}
	return r.clean()
}

// clean deletes the acked batches from the queue. It fails only when the
// queue is closed.
func (r *run) clean() error {
	if r.unclean == 0 {
		return nil
	}
	if err := r.f.q.Delete(r.acked); err != nil {
		if errors.Is(err, buffer.ErrClosed) {
			return err
		}
		// The batches are in the stream; resending them later is deduplicated.
		r.f.warn.Warn("deleting forwarded batches failed", "upto", r.acked, "err", err)
		r.abandon()
		sleep(r.ctx, r.wait)
		return nil
	}
	r.unclean = 0
	return nil
}

// peek reads the next batch after seq last, into a batch deleted before
// when the queue can.
func (f *Forwarder) peek(last uint64) ([]buffer.Record, *buffer.Batch, error) {
	br, ok := f.q.(batchReader)
	if !ok {
		recs, err := f.q.PeekAfter(last, f.batch)
		return recs, nil, err
	}
	var b *buffer.Batch
	if n := len(f.spare); n > 0 {
		b, f.spare = f.spare[n-1], f.spare[:n-1]
	} else {
		b = new(buffer.Batch)
	}
	if err := br.PeekInto(b, last, f.batch); err != nil {
		return nil, nil, err
	}
	if len(b.Recs) == 0 {
		f.spare = append(f.spare, b)
		return nil, nil, nil
	}
	return b.Recs, b, nil
}

// abandon stops awaiting the batches in flight; they are published again,
// from the oldest record not acked when the acked ones could be deleted.
func (r *run) abandon() {
	for _, fl := range r.inflight {
		r.f.forget(fl)
	}
	r.inflight, r.last = nil, 0
	if r.unclean > 0 {
		if err := r.f.q.Delete(r.acked); err == nil {
			r.unclean = 0
		}
	}
}

// failed abandons what is in flight and waits, longer each time in a row.
func (r *run) failed(recs []buffer.Record, err error) {
	r.f.m.PublishErrors.Add(1)
	r.f.warn.Warn("publishing a batch failed, retrying", "first_seq", recs[0].Seq, "records", len(recs), "err", err, "retry_in", r.wait)
	r.abandon()
	sleep(r.ctx, r.wait)
	r.wait = min(2*r.wait, maxWait)
}

// send publishes one batch without waiting for its acks.
func (f *Forwarder) send(recs []buffer.Record) (*flight, error) {
	f.nextID++
	fl := &flight{id: f.nextID, recs: recs, sending: true, done: make(chan struct{})}
	f.mu.Lock()
	f.flights[fl.id] = fl
	f.mu.Unlock()
	f.msg.Reply = f.inbox + strconv.FormatUint(fl.id, 10)
	sent := 0
	for _, r := range recs {
		subject, id := f.subject(r.Tail), r.ID
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
		f.msg.Subject, f.msg.Data = subject, r.Data
		f.msgID[0] = id
		if err := f.nc.PublishMsg(&f.msg); err != nil {
			f.forget(fl)
			return nil, fmt.Errorf("publishing seq %d: %w", r.Seq, err)
		}
		sent++
	}
	f.msg.Data = nil
	f.mu.Lock()
	fl.sent, fl.sending = sent, false
	if fl.acked >= fl.sent {
		fl.finish()
	}
	f.mu.Unlock()
	return fl, nil
}

// subject returns the subject of a subject tail (site.line.equipment),
// built once per equipment rather than once per message.
func (f *Forwarder) subject(tail string) string {
	if s, ok := f.subjects[tail]; ok {
		return s
	}
	if len(f.subjects) >= maxSubjects {
		clear(f.subjects)
	}
	s := f.prefix + "." + tail
	f.subjects[strings.Clone(tail)] = s // tail may point into a batch's bytes
	return s
}

// maxSubjects bounds the subject cache; past it, the cache starts again.
const maxSubjects = 100_000

// forget stops collecting the acks of a batch; acks that come later are
// ignored.
func (f *Forwarder) forget(fl *flight) {
	f.mu.Lock()
	delete(f.flights, fl.id)
	f.mu.Unlock()
}

// await waits until JetStream acked every message of the batch.
func (f *Forwarder) await(ctx context.Context, fl *flight) error {
	timeout := time.NewTimer(f.ackTimeout + time.Second)
	defer timeout.Stop()
	select {
	case <-fl.done:
	case <-timeout.C:
		f.forget(fl)
		return fmt.Errorf("batch from seq %d: no ack within %s", fl.recs[0].Seq, f.ackTimeout)
	case <-ctx.Done():
		f.forget(fl)
		return ctx.Err()
	}
	f.forget(fl)
	f.mu.Lock()
	err, acked, dups := fl.err, fl.acked, fl.dups
	f.mu.Unlock()
	if err != nil {
		return fmt.Errorf("batch from seq %d: %w", fl.recs[0].Seq, err)
	}
	f.m.Forwarded.Add(uint64(acked))
	f.m.Duplicates.Add(uint64(dups))
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
