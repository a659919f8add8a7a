package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/events/ledger"
)

func TestBackoffBounds(t *testing.T) {
	b := Backoff{Min: time.Second, Max: time.Minute}
	tests := []struct {
		attempt int
		full    time.Duration // the wait before jitter: Wait is in [full/2, full]
	}{
		{1, time.Second},
		{2, 2 * time.Second},
		{3, 4 * time.Second},
		{6, 32 * time.Second},
		{7, time.Minute},
		{50, time.Minute},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.attempt), func(t *testing.T) {
			lo, hi := tc.full, time.Duration(0)
			for range 500 {
				d := b.Wait(tc.attempt)
				lo, hi = min(lo, d), max(hi, d)
			}
			if lo < tc.full/2 || hi > tc.full {
				t.Fatalf("waits in [%s, %s], want within [%s, %s]", lo, hi, tc.full/2, tc.full)
			}
			if hi-lo < tc.full/4 {
				t.Fatalf("waits in [%s, %s]: not jittered over the upper half", lo, hi)
			}
		})
	}
}

// fakeOutbox keeps items in memory the way the ledger does: Ready returns
// the due ones in order, Delivered removes, Failed updates or buries.
type fakeOutbox struct {
	mu        sync.Mutex
	items     []ledger.Item
	sent      map[string]bool // item ids the sender accepted
	delivered []string
	failed    []ledger.Item
	dead      []ledger.Item
	readyErr  error
	badOrder  []string // Delivered of an item not accepted first
	wake      chan struct{}
}

func newOutbox(ids ...string) *fakeOutbox {
	o := &fakeOutbox{sent: map[string]bool{}, wake: make(chan struct{}, 1)}
	for i, id := range ids {
		o.items = append(o.items, ledger.Item{Seq: uint64(i + 1), Dest: "cmms", ID: id})
	}
	return o
}

func (o *fakeOutbox) Ready(dest string, now time.Time, n int) ([]ledger.Item, time.Time, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.readyErr != nil {
		return nil, time.Time{}, o.readyErr
	}
	var out []ledger.Item
	var next time.Time
	for _, it := range o.items {
		if !it.NextAt.After(now) && len(out) < n {
			out = append(out, it)
		} else if next.IsZero() || it.NextAt.Before(next) {
			next = it.NextAt
		}
	}
	return out, next, nil
}

func (o *fakeOutbox) Delivered(it ledger.Item) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.sent[it.ID] {
		o.badOrder = append(o.badOrder, it.ID)
	}
	o.delivered = append(o.delivered, it.ID)
	o.items = slices.DeleteFunc(o.items, func(x ledger.Item) bool { return x.Seq == it.Seq })
	return nil
}

func (o *fakeOutbox) Failed(it ledger.Item, dead bool) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.failed = append(o.failed, it)
	i := slices.IndexFunc(o.items, func(x ledger.Item) bool { return x.Seq == it.Seq })
	if i < 0 {
		return nil
	}
	if dead {
		o.dead = append(o.dead, it)
		o.items = slices.Delete(o.items, i, i+1)
	} else {
		o.items[i] = it
	}
	return nil
}

func (o *fakeOutbox) Wake(string) <-chan struct{} { return o.wake }

func (o *fakeOutbox) add(it ledger.Item) {
	o.mu.Lock()
	o.items = append(o.items, it)
	o.mu.Unlock()
	o.wake <- struct{}{}
}

func (o *fakeOutbox) snapshot() (delivered []string, failed, dead []ledger.Item, left int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.delivered), slices.Clone(o.failed), slices.Clone(o.dead), len(o.items)
}

// fakeSender answers each item id with the errors in answers, in turn
// (nil once they run out), and tells the outbox what it accepted.
type fakeSender struct {
	out     *fakeOutbox
	answers map[string][]error

	mu   sync.Mutex
	sent []string
}

func (s *fakeSender) Send(ctx context.Context, it ledger.Item) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, it.ID)
	if a := s.answers[it.ID]; len(a) > 0 {
		s.answers[it.ID] = a[1:]
		if a[0] != nil {
			return a[0]
		}
	}
	s.out.mu.Lock()
	s.out.sent[it.ID] = true
	s.out.mu.Unlock()
	return nil
}

var now = time.Date(2026, 6, 1, 5, 0, 0, 0, time.UTC)

func worker(o *fakeOutbox, s Sender, maxAttempts int) *Worker {
	return &Worker{Dest: "cmms", Sender: s, Outbox: o, MaxAttempts: maxAttempts, Backoff: Backoff{Min: time.Hour, Max: 4 * time.Hour},
		Clock: func() time.Time { return now }, Poll: 5 * time.Millisecond, Log: slog.New(slog.DiscardHandler)}
}

// run runs w until cond holds, then stops it and checks that Run returned nil.
func run(t *testing.T, w *Worker, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			cancel()
			t.Fatal("timed out waiting for the worker")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop when its context ended")
	}
}

var (
	errDown = errors.New("503 Service Unavailable")
	errGone = fmt.Errorf("%w: 410 Gone", errPermanent)
)

func TestWorker(t *testing.T) {
	tests := []struct {
		name          string
		maxAttempts   int
		answers       map[string][]error
		wantDelivered []string
		wantFailed    []string // "<id> <attempts>"
		wantDead      []string
		wantLeft      int
	}{
		{"all accepted, in order", 0, nil, []string{"a", "b", "c"}, nil, nil, 0},
		{"a failure is retried later, the rest go on", 0, map[string][]error{"b": {errDown}},
			[]string{"a", "c"}, []string{"b 1"}, nil, 1},
		{"a permanent failure is dead at once", 0, map[string][]error{"a": {errGone}},
			[]string{"b", "c"}, []string{"a 1"}, []string{"a"}, 0},
		{"the last allowed attempt is dead", 1, map[string][]error{"c": {errDown}},
			[]string{"a", "b"}, []string{"c 1"}, []string{"c"}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := newOutbox("a", "b", "c")
			s := &fakeSender{out: o, answers: tc.answers}
			run(t, worker(o, s, tc.maxAttempts), func() bool {
				d, f, _, _ := o.snapshot()
				return len(d) == len(tc.wantDelivered) && len(f) == len(tc.wantFailed)
			})
			delivered, failed, dead, left := o.snapshot()
			if !slices.Equal(delivered, tc.wantDelivered) || left != tc.wantLeft || len(o.badOrder) > 0 {
				t.Fatalf("delivered %v (before acceptance: %v), %d left; want %v, %d left", delivered, o.badOrder, left, tc.wantDelivered, tc.wantLeft)
			}
			var gotFailed, gotDead []string
			for _, it := range failed {
				gotFailed = append(gotFailed, fmt.Sprintf("%s %d", it.ID, it.Attempts))
				isDead := slices.ContainsFunc(dead, func(d ledger.Item) bool { return d.ID == it.ID })
				if it.LastError == "" || isDead == it.FailedAt.IsZero() || isDead != it.NextAt.IsZero() {
					t.Errorf("failed %s: error %q failed at %s next at %s (dead %v)", it.ID, it.LastError, it.FailedAt, it.NextAt, isDead)
				}
				if wait := it.NextAt.Sub(now); !isDead && (wait < 30*time.Minute || wait > time.Hour) {
					t.Errorf("failed %s: retried after %s, want the first back-off [30m, 1h]", it.ID, wait)
				}
			}
			for _, it := range dead {
				gotDead = append(gotDead, it.ID)
			}
			if !slices.Equal(gotFailed, tc.wantFailed) || !slices.Equal(gotDead, tc.wantDead) {
				t.Fatalf("failed %v dead %v, want %v %v", gotFailed, gotDead, tc.wantFailed, tc.wantDead)
			}
			if n := len(s.sent); n != len(tc.wantDelivered)+len(tc.wantFailed) {
				t.Fatalf("sent %v: an item not due was sent again", s.sent)
			}
		})
	}
}

// An item that failed before is retried when due, with its attempts
// counted on; one added later is delivered on a wake-up.
func TestWorkerRetriesAndWakes(t *testing.T) {
	o := newOutbox()
	o.items = []ledger.Item{{Seq: 1, Dest: "cmms", ID: "old", Attempts: 3, NextAt: now.Add(-time.Second)}}
	s := &fakeSender{out: o, answers: map[string][]error{"old": {errDown}}}
	w := worker(o, s, 0)
	w.Poll = time.Hour // only a wake-up makes the worker look again
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Run did not stop when its context ended")
		}
	}()
	waitFor(t, func() bool { _, f, _, _ := o.snapshot(); return len(f) == 1 })
	_, failed, _, _ := o.snapshot()
	if f := failed[0]; f.Attempts != 4 || f.NextAt.Sub(now) < 4*time.Hour/2 || f.NextAt.Sub(now) > 4*time.Hour {
		t.Fatalf("the fourth attempt: attempts %d, next in %s; want 4 and [2h, 4h] (capped)", f.Attempts, f.NextAt.Sub(now))
	}
	o.add(ledger.Item{Seq: 2, Dest: "cmms", ID: "new"})
	waitFor(t, func() bool { d, _, _, _ := o.snapshot(); return slices.Equal(d, []string{"new"}) })
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(time.Millisecond)
	}
}

// A send cut short by the end of ctx is neither delivered nor failed; an
// outbox error ends Run with it.
func TestWorkerStops(t *testing.T) {
	t.Run("context ends during a send", func(t *testing.T) {
		o := newOutbox("a")
		ctx, cancel := context.WithCancel(context.Background())
		w := worker(o, senderFunc(func(ctx context.Context, _ ledger.Item) error { cancel(); <-ctx.Done(); return ctx.Err() }), 0)
		if err := w.Run(ctx); err != nil {
			t.Fatalf("Run: %v", err)
		}
		if d, f, _, left := o.snapshot(); len(d)+len(f) != 0 || left != 1 {
			t.Fatalf("delivered %v failed %v left %d", d, f, left)
		}
	})
	t.Run("outbox error", func(t *testing.T) {
		o := newOutbox("a")
		o.readyErr = errors.New("disk gone")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := worker(o, &fakeSender{out: o}, 0).Run(ctx); !errors.Is(err, o.readyErr) {
			t.Fatalf("Run: %v, want the outbox error", err)
		}
	})
}

type senderFunc func(context.Context, ledger.Item) error

func (f senderFunc) Send(ctx context.Context, it ledger.Item) error { return f(ctx, it) }
