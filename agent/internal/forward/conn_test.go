package forward

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/floorpulse/floorpulse/agent/internal/buffer"
	"github.com/floorpulse/floorpulse/agent/internal/metrics"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// Unit tests of the forwarder's logic: a fake stream instead of NATS, a
// queue in memory that checks no record leaves it before the stream
// stored it.

// fakeStream is a Conn answering publishes as a JetStream stream with a
// duplicate window does, unless told to fail a publish, answer with an
// error, or not answer at all.
type fakeStream struct {
	mu      sync.Mutex
	acks    nats.MsgHandler
	fail    int             // publishes still to fail
	reject  int             // publishes still to answer with an error
	silent  int             // publishes still to leave unanswered
	stored  map[string]bool // by msg id
	order   []string        // msg ids stored, in order
	subject map[string]string
	replies map[string]bool // reply subjects seen
}

var _ Conn = (*fakeStream)(nil)

func newFakeStream() *fakeStream {
	return &fakeStream{stored: map[string]bool{}, subject: map[string]string{}, replies: map[string]bool{}}
}

func (s *fakeStream) Subscribe(subject string, cb nats.MsgHandler) (*nats.Subscription, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !strings.HasSuffix(subject, ".*") {
		return nil, fmt.Errorf("ack subscription %q is no wildcard", subject)
	}
	s.acks = cb
	return nil, nil // its Unsubscribe fails harmlessly
}

func (s *fakeStream) PublishMsg(m *nats.Msg) error {
	s.mu.Lock()
	var answer string
	id := m.Header.Get(nats.MsgIdHdr)
	switch {
	case s.fail > 0:
		s.fail--
		s.mu.Unlock()
		return errors.New("nats: connection closed")
	case s.reject > 0:
		s.reject--
		answer = `{"error":{"code":503,"err_code":10077,"description":"resource limits exceeded"}}`
	case s.silent > 0:
		s.silent--
	case s.stored[id]:
		answer = `{"stream":"FLOORPULSE_SIGNALS","seq":1,"duplicate": true}`
	default:
		s.stored[id] = true
		s.order = append(s.order, id)
		s.subject[id] = m.Subject
		answer = fmt.Sprintf(`{"stream":"FLOORPULSE_SIGNALS","seq":%d}`, len(s.order))
	}
	s.replies[m.Reply] = true
	cb := s.acks
	s.mu.Unlock()
	if answer != "" {
		cb(&nats.Msg{Subject: m.Reply, Data: []byte(answer), Header: nats.Header{}})
	}
	return nil
}

func (s *fakeStream) has(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stored[id]
}

func (s *fakeStream) set(f func(s *fakeStream)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

// memQueue is a Queue in memory. A record deleted before the stream stored
// it is an error of the test.
type memQueue struct {
	t       *testing.T
	stream  *fakeStream
	mu      sync.Mutex
	recs    []buffer.Record
	deletes []uint64 // upto of every Delete
}

var _ Queue = (*memQueue)(nil)

func (q *memQueue) PeekAfter(after uint64, n int) ([]buffer.Record, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []buffer.Record
	for _, r := range q.recs {
		if r.Seq > after && len(out) < n {
			out = append(out, r)
		}
	}
	return out, nil
}

func (q *memQueue) Delete(upto uint64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.deletes = append(q.deletes, upto)
	for len(q.recs) > 0 && q.recs[0].Seq <= upto {
		r := q.recs[0]
		if r.ID != "" && !q.stream.has(r.ID) {
			q.t.Errorf("record %d (%s) left the queue before the stream stored it", r.Seq, r.ID)
		}
		q.recs = q.recs[1:]
	}
	return nil
}

func (q *memQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.recs)
}

// queued returns a queue of n signals, as the batcher stores them.
func queued(t *testing.T, stream *fakeStream, n int) (*memQueue, []signal.Signal) {
	t.Helper()
	q := &memQueue{t: t, stream: stream}
	t0 := time.Date(2026, 10, 1, 6, 0, 0, 0, time.UTC)
	in := make([]signal.Signal, n)
	for i := range in {
		s := signal.Signal{Site: "s1", Line: "L1", Equipment: []string{"M01", "M02", "M03"}[i%3], Name: "count",
			Value: signal.Number(float64(i)), Time: t0.Add(time.Duration(i) * time.Second), Agent: "a1"}
		data, err := signal.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		in[i] = s
		q.recs = append(q.recs, buffer.Record{Seq: uint64(i + 1), Data: data, Tail: "s1.L1." + s.Equipment, ID: s.ID()})
	}
	return q, in
}

// runFake forwards from q to stream until the test ends.
func runFake(t *testing.T, q Queue, stream *fakeStream) *metrics.Registry {
	t.Helper()
	m := &metrics.Registry{}
	cfg := natsConfig("nats://fake:4222")
	cfg.AckTimeout = time.Millisecond // await allows a second more
	f := New(q, stream, cfg, m, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return m
}

// checkStored asserts the stream holds every signal once, with its ID as
// Nats-Msg-Id on its equipment's subject, and, when ordered, in queue order
// per equipment.
func checkStored(t *testing.T, stream *fakeStream, in []signal.Signal, ordered bool) {
	t.Helper()
	stream.mu.Lock()
	defer stream.mu.Unlock()
	if len(stream.order) != len(in) {
		t.Fatalf("stream stored %d messages, want %d", len(stream.order), len(in))
	}
	last := map[string]int{}
	pos := map[string]int{}
	for i, id := range stream.order {
		pos[id] = i
	}
	for i, s := range in {
		p, ok := pos[s.ID()]
		if !ok {
			t.Fatalf("signal %d (%s) not stored", i, s.ID())
		}
		if subj := stream.subject[s.ID()]; subj != s.Subject(signal.SubjectPrefix) {
			t.Fatalf("signal %d on %q, want %q", i, subj, s.Subject(signal.SubjectPrefix))
		}
		if prev, ok := last[s.Equipment]; ordered && ok && p < prev {
			t.Fatalf("signal %d of %s stored before an earlier one", i, s.Equipment)
		}
		last[s.Equipment] = p
	}
}

// While publishing fails, every record stays queued; once it works again
// they all reach the stream, each once.
func TestPublishFailureKeepsRecords(t *testing.T) {
	stream := newFakeStream()
	stream.fail = 1 << 30
	q, in := queued(t, stream, 250)
	m := runFake(t, q, stream)
	waitFor(t, "two failed publishes", func() bool { return m.PublishErrors.Load() >= 2 })
	if n := q.len(); n != 250 {
		t.Fatalf("queue shrank to %d while publishing failed", n)
	}
	// Fail again in the middle of a batch.
	stream.set(func(s *fakeStream) { s.fail = 0 })
	waitFor(t, "the first records stored", func() bool { return stream.has(in[0].ID()) })
	stream.set(func(s *fakeStream) { s.fail = 1 })
	waitFor(t, "an empty queue", func() bool { return q.len() == 0 })
	checkStored(t, stream, in, true)
	if m.Forwarded.Load() < 250 {
		t.Fatalf("forwarded %d, want at least 250", m.Forwarded.Load())
	}
}

// A batch the stream answers with an error, or does not answer in time,
// stays queued and is sent again; what the stream stored meanwhile comes
// back as duplicates.
func TestUnackedBatchSentAgain(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(s *fakeStream)
	}{
		{"error", func(s *fakeStream) { s.reject = 1 }},
		{"no answer", func(s *fakeStream) { s.silent = 1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stream := newFakeStream()
			tc.set(stream)
			q, in := queued(t, stream, 250)
			m := runFake(t, q, stream)
			waitFor(t, "an empty queue", func() bool { return q.len() == 0 })
			// A message refused while later ones were stored is stored after
			// them when it is sent again: no order to check.
			checkStored(t, stream, in, false)
			if m.PublishErrors.Load() != 1 || m.Duplicates.Load() == 0 {
				t.Fatalf("%d publish errors, %d duplicates; want 1 and some (the rest of the first batch)", m.PublishErrors.Load(), m.Duplicates.Load())
			}
		})
	}
}

// Signals the stream already holds are acked as duplicates and counted.
func TestDuplicatesCounted(t *testing.T) {
	stream := newFakeStream()
	q, in := queued(t, stream, 250)
	for _, s := range in[:50] {
		stream.stored[s.ID()] = true
	}
	m := runFake(t, q, stream)
	waitFor(t, "an empty queue", func() bool { return q.len() == 0 })
	if fwd, dups := m.Forwarded.Load(), m.Duplicates.Load(); fwd != 250 || dups != 50 {
		t.Fatalf("forwarded %d, duplicates %d; want 250 and 50", fwd, dups)
	}
	stream.mu.Lock()
	defer stream.mu.Unlock()
	if n := len(stream.replies); n != 3 {
		t.Fatalf("%d reply subjects for 3 batches", n)
	}
}

// A record stored without its subject and id is decoded to publish it; one
// that does not decode is skipped, counted, and leaves the queue with its
// batch.
func TestRecordsWithoutID(t *testing.T) {
	stream := newFakeStream()
	q, in := queued(t, stream, 10)
	q.recs[3].ID, q.recs[3].Tail = "", ""
	q.recs[5] = buffer.Record{Seq: q.recs[5].Seq, Data: []byte("\x00corrupt")}
	m := runFake(t, q, stream)
	waitFor(t, "an empty queue", func() bool { return q.len() == 0 })
	checkStored(t, stream, append(in[:5:5], in[6:]...), true)
	if n := m.Undecodable.Load(); n != 1 {
		t.Fatalf("undecodable %d, want 1", n)
	}
}

// Acked batches leave the queue together, fewer transactions than batches,
// each delete ending on the last record of a batch (memQueue fails the test
// when a record leaves before the stream stored it); a failure deletes what
// was acked before publishing again, so only the batches in flight come
// back.
func TestAckedBatchesDeletedTogether(t *testing.T) {
	stream := newFakeStream()
	q, in := queued(t, stream, 2000)
	m := runFake(t, q, stream)
	waitFor(t, "an empty queue", func() bool { return q.len() == 0 })
	checkStored(t, stream, in, true)
	q.mu.Lock()
	deletes := slices.Clone(q.deletes)
	q.mu.Unlock()
	if len(deletes) >= 20 {
		t.Fatalf("%d deletes for 20 batches: %v", len(deletes), deletes)
	}
	for _, upto := range deletes {
		if upto%100 != 0 {
			t.Fatalf("a delete up to %d, inside a batch of 100", upto)
		}
	}
	if m.Duplicates.Load() != 0 {
		t.Fatalf("%d duplicates without a failure", m.Duplicates.Load())
	}

	stream = newFakeStream()
	q, in = queued(t, stream, 2000)
	stream.silent = 1 // the first message of the first batch: the batch times out
	var once sync.Once
	m = runFake(t, &failAfter{memQueue: q, stream: stream, at: 1000, once: &once}, stream)
	waitFor(t, "an empty queue", func() bool { return q.len() == 0 })
	checkStored(t, stream, in, false)
	// Two failures, each sending again at most the batches in flight.
	if d := m.Duplicates.Load(); d > 2*pipeline*100 {
		t.Fatalf("%d duplicates after two failures: acked batches were sent again", d)
	}
}

// failAfter makes the stream refuse one publish once records up to at
// were read, so a failure comes while acked batches wait to be deleted.
type failAfter struct {
	*memQueue
	stream *fakeStream
	at     uint64
	once   *sync.Once
}

func (q *failAfter) PeekAfter(after uint64, n int) ([]buffer.Record, error) {
	if after >= q.at {
		q.once.Do(func() { q.stream.set(func(s *fakeStream) { s.reject = 1 }) })
	}
	return q.memQueue.PeekAfter(after, n)
}
