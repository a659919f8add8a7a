package masterdata

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Shared keeps the master data of the hubs of a partitioned deployment in
// one JetStream stream: every change is one message, on the subject of its
// record (prefix.<entity>.<key, base64url>), holding the Change. So the
// stream is the audit log (a change's Seq is its stream sequence, in the
// order the changes were committed), and a record's current version is the
// last message on its subject. A change is published with the sequence of
// the last message of its subject that it was computed from (JetStream's
// expected last subject sequence): a concurrent change of the same record
// on another hub makes it fail, and the import is diffed again against
// what is now stored, so no update is lost and versions never repeat.
//
// An import is applied record by record, in key order: a hub that fails in
// the middle leaves the records it published; the import answers an error,
// and applying the same file again completes it (equal records are left
// alone).
type Shared struct {
	js      jetstream.JetStream
	stream  string
	prefix  string
	timeout time.Duration
}

var _ Backend = (*Shared)(nil)

// maxAttempts bounds how often an import is diffed again after a
// concurrent change of one of its records.
const maxAttempts = 20

// OpenShared opens (creating when missing) the master data stream stream,
// whose messages are on subjects under prefix.
func OpenShared(ctx context.Context, js jetstream.JetStream, stream, prefix string) (*Shared, error) {
	_, err := js.Stream(ctx, stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		_, err = js.CreateStream(ctx, jetstream.StreamConfig{
			Name: stream, Description: "floorpulse master data changes (the audit log; the last message of a subject is a record)",
			Subjects: []string{prefix + ".>"}, Storage: jetstream.FileStorage, Retention: jetstream.LimitsPolicy,
			MaxMsgsPerSubject: -1, Discard: jetstream.DiscardOld,
		})
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) { // another hub was quicker
			err = nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("master data stream %s: %w", stream, err)
	}
	return &Shared{js: js, stream: stream, prefix: prefix, timeout: 30 * time.Second}, nil
}

func (s *Shared) subject(e Entity, key string) string {
	return s.prefix + "." + string(e) + "." + base64.RawURLEncoding.EncodeToString([]byte(key))
}

// current is a record as stored, with the stream sequence of its message.
type current struct {
	Stored
	seq uint64
}

// read delivers the messages of the consumer configured by cfg to fn, up
// to limit (0: all there are when it starts), and returns when there are
// no more.
func (s *Shared) read(ctx context.Context, cfg jetstream.ConsumerConfig, limit int, fn func(Change) error) error {
	cfg.AckPolicy = jetstream.AckNonePolicy
	cfg.MemoryStorage = true
	cfg.InactiveThreshold = time.Minute
	cons, err := s.js.CreateConsumer(ctx, s.stream, cfg)
	if err != nil {
		return fmt.Errorf("reading master data: %w", err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = s.js.DeleteConsumer(dctx, s.stream, cons.CachedInfo().Name)
	}()
	pending := cons.CachedInfo().NumPending
	n := 0
	for pending > 0 && (limit == 0 || n < limit) {
		batch := 500
		if limit > 0 {
			batch = min(batch, limit-n)
		}
		msgs, err := cons.Fetch(batch, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return fmt.Errorf("reading master data: %w", err)
		}
		got := 0
		for m := range msgs.Messages() {
			got++
			meta, err := m.Metadata()
			if err != nil {
				return err
			}
			c, err := decodeChange(m.Data(), meta.Sequence.Stream)
			if err != nil {
				return err
			}
			if err := fn(c); err != nil {
				return err
			}
			n++
			pending = meta.NumPending
			if pending == 0 || (limit > 0 && n >= limit) {
				break
			}
		}
		if err := msgs.Error(); err != nil && !errors.Is(err, jetstream.ErrNoHeartbeat) {
			return fmt.Errorf("reading master data: %w", err)
		}
		if got == 0 {
			return fmt.Errorf("reading master data: %d messages pending but none delivered", pending)
		}
	}
	return nil
}

func decodeChange(data []byte, seq uint64) (Change, error) {
	var c Change
	if err := json.Unmarshal(data, &c); err != nil {
		return c, fmt.Errorf("master data change %d: %w", seq, err)
	}
	c.Seq = seq
	return c, nil
}

// records returns an entity's records as stored now, by key.
func (s *Shared) records(ctx context.Context, e Entity) (map[string]current, error) {
	out := map[string]current{}
	err := s.read(ctx, jetstream.ConsumerConfig{DeliverPolicy: jetstream.DeliverLastPerSubjectPolicy,
		FilterSubject: s.prefix + "." + string(e) + ".>"}, 0, func(c Change) error {
		out[c.Key] = current{Stored: Stored{Record: c.After, Version: c.Version, At: c.At, By: c.By}, seq: c.Seq}
		return nil
	})
	return out, err
}

// Records returns an entity's current records, sorted by key.
func (s *Shared) Records(e Entity) ([]Record, error) {
	spec, ok := SpecOf(e)
	if !ok {
		return nil, fmt.Errorf("unknown entity %q", e)
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	cur, err := s.records(ctx, e)
	if err != nil {
		return nil, err
	}
	out := make([]Record, 0, len(cur))
	for _, c := range cur {
		out = append(out, c.Record)
	}
	return sortRecords(spec, out), nil
}

// Apply upserts records as Store.Apply does, each change published with
// the sequence of the record's message it was diffed against; after a
// conflict (another hub changed one of the records meanwhile) the records
// not yet published are diffed again. check is called with each diff
// before anything of it is published.
func (s *Shared) Apply(e Entity, recs []Record, by string, at time.Time, dryRun bool, check func(Diff) error) (Diff, error) {
	spec, ok := SpecOf(e)
	if !ok {
		return Diff{}, fmt.Errorf("unknown entity %q", e)
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	recs = sortRecords(spec, recs)
	done := map[string]Change{} // published by this import
	for attempt := 1; ; attempt++ {
		cur, err := s.records(ctx, e)
		if err != nil {
			return Diff{}, err
		}
		d := Diff{Entity: e, Changes: []Change{}}
		var todo []int // indexes in d.Changes still to publish
		var expect []uint64
		for _, r := range recs {
			k := spec.KeyOf(r)
			if c, ok := done[k]; ok {
				d.Changes = append(d.Changes, c)
				if c.Before == nil {
					d.Added++
				} else {
					d.Changed++
				}
				continue
			}
			st, stored := cur[k]
			c, ok := d.count(k, r, st.Stored, stored, by, at)
			if !ok {
				continue
			}
			todo = append(todo, len(d.Changes))
			expect = append(expect, st.seq)
			d.Changes = append(d.Changes, c)
		}
		if check != nil {
			if err := check(d); err != nil {
				return d, err
			}
		}
		if dryRun {
			return d, nil
		}
		conflict := false
		for i, idx := range todo {
			c := d.Changes[idx]
			data, err := json.Marshal(c)
			if err != nil {
				return d, err
			}
			ack, err := s.js.Publish(ctx, s.subject(e, c.Key), data, jetstream.WithExpectLastSequencePerSubject(expect[i]))
			if wrongLastSequence(err) {
				conflict = true
				break
			}
			if err != nil {
				return d, fmt.Errorf("publishing the change of %s %s: %w", e, c.Key, err)
			}
			c.Seq = ack.Sequence
			d.Changes[idx], done[c.Key] = c, c
		}
		if !conflict {
			return d, nil
		}
		if attempt == maxAttempts {
			return d, fmt.Errorf("importing %s: records changed concurrently %d times; try again", e, attempt)
		}
	}
}

// wrongLastSequence reports whether err is JetStream's answer to a publish
// whose expected last subject sequence is not the subject's last one.
func wrongLastSequence(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// Audit returns up to limit changes with a sequence number above after,
// oldest first.
func (s *Shared) Audit(after uint64, limit int) ([]Change, error) {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	return s.changes(ctx, after, limit)
}

func (s *Shared) changes(ctx context.Context, after uint64, limit int) ([]Change, error) {
	out := []Change{}
	if limit <= 0 {
		return out, nil
	}
	err := s.read(ctx, jetstream.ConsumerConfig{DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: after + 1}, limit,
		func(c Change) error {
			out = append(out, c)
			return nil
		})
	return out, err
}

// AuditLast returns the latest n changes, oldest first.
func (s *Shared) AuditLast(n int) ([]Change, error) {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	last, err := s.Last(ctx)
	if err != nil || last == 0 {
		return []Change{}, err
	}
	after := uint64(0)
	if last > uint64(n) {
		after = last - uint64(n)
	}
	return s.changes(ctx, after, n)
}

// Last is the sequence of the latest change (0: none).
func (s *Shared) Last(ctx context.Context) (uint64, error) {
	st, err := s.js.Stream(ctx, s.stream)
	if err != nil {
		return 0, fmt.Errorf("master data stream %s: %w", s.stream, err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("master data stream %s: %w", s.stream, err)
	}
	return info.State.LastSeq, nil
}

// Between returns the changes after the sequence after up to and including
// to, oldest first.
func (s *Shared) Between(ctx context.Context, after, to uint64) ([]Change, error) {
	var out []Change
	for after < to {
		cs, err := s.changes(ctx, after, int(min(to-after, 1000)))
		if err != nil {
			return nil, err
		}
		if len(cs) == 0 {
			break
		}
		for _, c := range cs {
			if c.Seq <= to {
				out = append(out, c)
			}
		}
		after = cs[len(cs)-1].Seq
	}
	return out, nil
}

// Watch calls fn with the changes after the sequence after, as they come,
// in batches (all those waiting, up to 1000), until ctx ends or fn fails.
func (s *Shared) Watch(ctx context.Context, after uint64, fn func([]Change) error) error {
	cons, err := s.js.OrderedConsumer(ctx, s.stream, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: after + 1})
	if err != nil {
		return fmt.Errorf("watching master data: %w", err)
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("watching master data: %w", err)
	}
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	defer it.Stop()
	var batch []Change
	for {
		m, err := it.Next()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return nil
			}
			return fmt.Errorf("watching master data: %w", err)
		}
		meta, err := m.Metadata()
		if err != nil {
			return err
		}
		c, err := decodeChange(m.Data(), meta.Sequence.Stream)
		if err != nil {
			return err
		}
		batch = append(batch, c)
		if meta.NumPending == 0 || len(batch) >= 1000 {
			if err := fn(batch); err != nil {
				return err
			}
			batch = nil
		}
	}
}
