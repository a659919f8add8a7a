package buffer

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/pkg/signal"
)

func countMarkers(sigs []signal.Signal) int {
	n := 0
	for _, s := range sigs {
		if s.Gap != nil {
			n++
		}
	}
	return n
}

// eqSigs returns n signals alternating between equipment M01 and M02,
// value i, time t0 + i ms.
func eqSigs(from, n int) []signal.Signal {
	out := sigs(from, n)
	for i := range out {
		out[i].Equipment = []string{"M01", "M02"}[(from+i)%2]
	}
	return out
}

func signalBytes(t *testing.T) uint64 {
	t.Helper()
	s := sig(100)
	s.Seq = 100
	b, err := signal.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return uint64(len(b))
}

func peekAll(t *testing.T, q *Queue) []signal.Signal {
	t.Helper()
	recs, err := q.Peek(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, recs)
}

func TestDropNewestRefusesThenQueuesOneGapPerEquipment(t *testing.T) {
	path := filepath.Join(t.TempDir(), "queue.db")
	max := signalBytes(t) * 100
	o := Options{MaxBytes: max, Policy: DropNewest}
	q := openWith(t, path, o)
	ctx := context.Background()
	for i := 0; i < 10; i++ {
		if err := q.Append(ctx, eqSigs(i*30, 30)); err != nil {
			t.Fatal(err)
		}
	}
	if q.Bytes() > max {
		t.Fatalf("Bytes %d above max %d", q.Bytes(), max)
	}
	kept := peekAll(t, q)
	if countMarkers(kept) != 0 {
		t.Fatal("gap marker queued while the queue is still full")
	}
	for i, s := range kept { // the oldest are kept, in order
		if s.Value.Num != float64(i) {
			t.Fatalf("kept[%d] = %v: drop_newest must keep a prefix", i, s.Value.Num)
		}
	}
	refused := 300 - uint64(len(kept))
	if refused == 0 || q.Drops()[ReasonDropNewest] != refused || q.Dropped() != refused {
		t.Fatalf("kept %d, drops %v; want %d refused under drop_newest", len(kept), q.Drops(), refused)
	}
	// A smaller signal arriving while refusing is refused too: per
	// equipment, nothing may slip in ahead of the gap.
	if err := q.Append(ctx, eqSigs(300, 2)); err != nil {
		t.Fatal(err)
	}
	refused += 2

	// The refused range survives a restart.
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	q = openWith(t, path, o)

	// The forwarder drains half: the queue is under 90 %, the markers go in.
	if err := q.Delete(kept[len(kept)/2].Seq); err != nil {
		t.Fatal(err)
	}
	after := peekAll(t, q)
	markers := after[len(after)-2:]
	if countMarkers(after) != 2 || countMarkers(markers) != 2 {
		t.Fatalf("want one marker per equipment at the tail, got %d markers in %d records", countMarkers(after), len(after))
	}
	var total uint64
	firstRefused := len(kept)
	for _, m := range markers {
		total += m.Gap.Dropped
		// Equipment M01 holds even values, M02 odd ones.
		first := firstRefused
		if (m.Equipment == "M01") != (first%2 == 0) {
			first++
		}
		last := 301
		if m.Equipment == "M01" {
			last = 300
		}
		if !m.Gap.From.Equal(sig(first).Time) || !m.Gap.To.Equal(sig(last).Time) || m.Gap.Reason != "buffer full" {
			t.Errorf("%s marker covers %s..%s (%s), want values %d..%d", m.Equipment, m.Gap.From, m.Gap.To, m.Gap.Reason, first, last)
		}
	}
	if total != refused {
		t.Fatalf("markers cover %d signals, %d were refused", total, refused)
	}
	// Signals are taken again, after the markers.
	in := eqSigs(400, 4)
	if err := q.Append(ctx, in); err != nil {
		t.Fatal(err)
	}
	last := peekAll(t, q)
	if got := last[len(last)-1]; got.Value.Num != 403 || got.Seq <= markers[1].Seq {
		t.Fatalf("newest record %+v, want value 403 after the markers", got)
	}
}

func TestBlockRefusesWholeCommitUntilFreed(t *testing.T) {
	max := signalBytes(t) * 100
	q := openWith(t, filepath.Join(t.TempDir(), "queue.db"), Options{MaxBytes: max, Policy: Block})
	ctx := context.Background()
	var stored int
	var err error
	for stored = 0; stored < 1000; stored += 10 {
		if err = q.Append(ctx, sigs(stored, 10)); err != nil {
			break
		}
	}
	if !errors.Is(err, ErrFull) {
		t.Fatalf("Append on a full queue: %v, want ErrFull", err)
	}
	if q.Len() != uint64(stored) || q.Bytes() > max || q.Dropped() != 0 {
		t.Fatalf("Len %d (want %d), Bytes %d, dropped %d", q.Len(), stored, q.Bytes(), q.Dropped())
	}
	freed := q.Freed()
	select {
	case <-freed:
		t.Fatal("Freed closed before anything was freed")
	default:
	}
	if err := q.Delete(20); err != nil {
		t.Fatal(err)
	}
	select {
	case <-freed:
	default:
		t.Fatal("Freed not closed by a Delete")
	}
	in := sigs(stored, 10)
	if err := q.Append(ctx, in); err != nil {
		t.Fatal(err)
	}
	if in[0].Seq != uint64(stored+1) {
		t.Fatalf("seq after a refused commit %d, want %d: a refusal must store nothing", in[0].Seq, stored+1)
	}
	got := peekAll(t, q)
	for i, s := range got {
		if s.Value.Num != float64(20+i) || s.Gap != nil {
			t.Fatalf("record %d = %+v, want value %d", i, s, 20+i)
		}
	}

	// An empty queue takes a commit larger than the bound (or nothing could
	// ever go in), and is full afterwards.
	small := openWith(t, filepath.Join(t.TempDir(), "queue.db"), Options{MaxBytes: signalBytes(t) * 5, Policy: Block})
	if err := small.Append(ctx, sigs(0, 20)); err != nil {
		t.Fatalf("empty queue refused a big commit: %v", err)
	}
	if err := small.Append(ctx, sigs(20, 1)); !errors.Is(err, ErrFull) {
		t.Fatalf("want ErrFull, got %v", err)
	}
}

// blockedBatcher runs a Batcher on a block-policy queue that takes about 50
// signals and feeds it n one-signal entries from a goroutine (Add blocks
// once the Batcher's input is full: that is the back-pressure). It returns
// once the Batcher is blocked.
type blockedBatcher struct {
	q      *Queue
	b      *Batcher
	cancel context.CancelFunc
	done   chan error
	added  chan struct{}
	mu     sync.Mutex
	acked  map[int]error
}

func newBlockedBatcher(t *testing.T, n int) *blockedBatcher {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	x := &blockedBatcher{acked: map[int]error{}, done: make(chan error, 1), added: make(chan struct{})}
	x.q = openWith(t, filepath.Join(t.TempDir(), "queue.db"), Options{MaxBytes: signalBytes(t) * 50, Policy: Block})
	x.b = NewBatcher(x.q, 10, time.Millisecond, log)
	ctx, cancel := context.WithCancel(context.Background())
	x.cancel = cancel
	go func() { x.done <- x.b.Run(ctx) }()
	go func() {
		defer close(x.added)
		for i := 0; i < n; i++ {
			if x.b.Add(ctx, Entry{Signals: sigs(i, 1), Done: func(err error) {
				x.mu.Lock()
				x.acked[i] = err
				x.mu.Unlock()
			}}) != nil {
				return
			}
		}
	}()
	waitUntil(t, "the batcher to block", x.b.Blocked)
	if got := x.count(); got != int(x.q.Len()) || got >= n {
		t.Fatalf("%d entries done with %d records stored: Done must wait for the commit", got, x.q.Len())
	}
	return x
}

func (x *blockedBatcher) count() int { x.mu.Lock(); defer x.mu.Unlock(); return len(x.acked) }

func (x *blockedBatcher) stop(t *testing.T) {
	t.Helper()
	x.cancel()
	if err := <-x.done; err != nil {
		t.Fatal(err)
	}
	<-x.added
}

// TestBatcherHoldsEntriesWhileQueueBlocks: the forwarder freeing room lets
// held entries in, in order, and nothing is dropped.
func TestBatcherHoldsEntriesWhileQueueBlocks(t *testing.T) {
	const n = 200
	x := newBlockedBatcher(t, n)
	var next float64
	for x.count() < n || x.q.Len() > 0 {
		recs, err := x.q.Peek(7)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range decode(t, recs) {
			if s.Value.Num != next {
				t.Fatalf("got value %v, want %v", s.Value.Num, next)
			}
			next++
		}
		if len(recs) > 0 {
			if err := x.q.Delete(recs[len(recs)-1].Seq); err != nil {
				t.Fatal(err)
			}
		}
	}
	x.stop(t)
	for i := 0; i < n; i++ {
		if err := x.acked[i]; err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
	}
	if next != n || x.q.Dropped() != 0 {
		t.Fatalf("forwarded %v of %d, dropped %d", next, n, x.q.Dropped())
	}
}

// TestBatcherReleasesHeldEntriesOnStop: stopping while blocked ends the held
// entries with an error (their upstream must not be acknowledged); exactly
// the stored ones were done without.
func TestBatcherReleasesHeldEntriesOnStop(t *testing.T) {
	const n = 200
	x := newBlockedBatcher(t, n)
	x.stop(t)
	var ok, failed int
	for i := 0; i < n; i++ {
		err, called := x.acked[i]
		switch {
		case called && err == nil:
			if failed > 0 {
				t.Fatalf("entry %d committed after a held one", i)
			}
			ok++
		case called:
			failed++
		}
	}
	if uint64(ok) != x.q.Len() || failed == 0 || x.q.Dropped() != 0 {
		t.Fatalf("%d entries done ok with %d stored, %d released with an error, %d dropped", ok, x.q.Len(), failed, x.q.Dropped())
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestMaxAgeExpiresIntoGapMarkers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "queue.db")
	clock := t0
	o := Options{MaxAge: time.Hour, Now: func() time.Time { return clock }}
	q := openWith(t, path, o)
	ctx := context.Background()
	if q.OldestAge() != 0 {
		t.Fatalf("empty queue has age %s", q.OldestAge())
	}
	if err := q.Append(ctx, eqSigs(0, 10)); err != nil {
		t.Fatal(err)
	}
	clock = t0.Add(30 * time.Minute)
	if err := q.Append(ctx, eqSigs(10, 6)); err != nil {
		t.Fatal(err)
	}
	clock = t0.Add(50 * time.Minute)
	if q.OldestAge() != 50*time.Minute {
		t.Fatalf("oldest age %s, want 50m", q.OldestAge())
	}
	if n, err := q.Expire(); err != nil || n != 0 {
		t.Fatalf("Expire before max age: %d, %v", n, err)
	}

	// Commit times survive a restart.
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	q = openWith(t, path, o)
	clock = t0.Add(61 * time.Minute)
	if n, err := q.Expire(); err != nil || n != 10 {
		t.Fatalf("Expire: %d, %v; want the 10 signals of the first commit", n, err)
	}
	if q.OldestAge() != 31*time.Minute {
		t.Fatalf("oldest age %s, want 31m (the second commit)", q.OldestAge())
	}
	got := peekAll(t, q)
	if len(got) != 8 || got[0].Value.Num != 10 || countMarkers(got[6:]) != 2 {
		t.Fatalf("after expiry: %d records, first %v, %d markers at the tail", len(got), got[0].Value.Num, countMarkers(got))
	}
	for _, m := range got[6:] {
		first, last := 0, 8
		if m.Equipment == "M02" {
			first, last = 1, 9
		}
		if m.Gap.Dropped != 5 || m.Gap.Reason != "max age" || !m.Gap.From.Equal(sig(first).Time) || !m.Gap.To.Equal(sig(last).Time) {
			t.Fatalf("marker %+v %+v", m, *m.Gap)
		}
	}

	// Expiring markers merges them into the new ones: no count is lost or doubled.
	clock = t0.Add(200 * time.Minute)
	if n, err := q.Expire(); err != nil || n != 6 {
		t.Fatalf("second Expire: %d, %v; want 6", n, err)
	}
	got = peekAll(t, q)
	if len(got) != 2 || countMarkers(got) != 2 || got[0].Gap.Dropped+got[1].Gap.Dropped != 16 {
		t.Fatalf("after the second expiry: %+v", got)
	}
	if d := q.Drops(); d[ReasonMaxAge] != 16 || q.Dropped() != 16 {
		t.Fatalf("drops %v, want 16 max_age", d)
	}
	if q.OldestAge() != 0 {
		t.Fatalf("markers committed now have age %s", q.OldestAge())
	}
	if err := q.Delete(got[1].Seq); err != nil {
		t.Fatal(err)
	}
	if q.Len() != 0 || q.OldestAge() != 0 {
		t.Fatalf("empty queue: Len %d, age %s", q.Len(), q.OldestAge())
	}
}

func TestSweeperExpires(t *testing.T) {
	q := openWith(t, filepath.Join(t.TempDir(), "queue.db"), Options{MaxAge: time.Second})
	if err := q.Append(context.Background(), sigs(0, 5)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- NewSweeper(q, slog.New(slog.NewTextHandler(io.Discard, nil))).Run(ctx) }()
	waitUntil(t, "the sweeper to expire the records", func() bool { return q.Drops()[ReasonMaxAge] == 5 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
