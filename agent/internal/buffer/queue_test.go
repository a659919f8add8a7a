package buffer

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/pkg/signal"
)

var t0 = time.Date(2026, 10, 1, 6, 0, 0, 0, time.UTC)

func sig(i int) signal.Signal {
	return signal.Signal{Site: "s1", Line: "L1", Equipment: "M01", Name: "count", Value: signal.Number(float64(i)),
		Time: t0.Add(time.Duration(i) * time.Millisecond), Agent: "a1"}
}

func sigs(from, n int) []signal.Signal {
	out := make([]signal.Signal, n)
	for i := range out {
		out[i] = sig(from + i)
	}
	return out
}

func openQueue(t *testing.T, path string, max uint64) *Queue {
	t.Helper()
	return openWith(t, path, Options{MaxBytes: max})
}

func openWith(t *testing.T, path string, o Options) *Queue {
	t.Helper()
	q, err := OpenWith(path, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	return q
}

// TestQueueSuite runs the FIFO behaviour every policy shares, with a bound
// large enough that no policy acts.
func TestQueueSuite(t *testing.T) {
	for _, p := range Policies {
		t.Run(string(p), func(t *testing.T) {
			o := Options{MaxBytes: 64 << 20, Policy: p}
			t.Run("AppendPeekDeleteOrder", func(t *testing.T) { testAppendPeekDeleteOrder(t, o) })
			t.Run("ReopenKeepsDataAndSequence", func(t *testing.T) { testReopenKeepsDataAndSequence(t, o) })
			t.Run("DeletesDoNotSkipKeys", func(t *testing.T) { testDeletesDoNotSkipKeys(t, o) })
		})
	}
}

func decode(t *testing.T, recs []Record) []signal.Signal {
	t.Helper()
	out := make([]signal.Signal, len(recs))
	for i, r := range recs {
		s, err := signal.Unmarshal(r.Data)
		if err != nil {
			t.Fatalf("record %d: %v", r.Seq, err)
		}
		if s.Seq != r.Seq {
			t.Fatalf("record key %d holds seq %d", r.Seq, s.Seq)
		}
		out[i] = s
	}
	return out
}

func testAppendPeekDeleteOrder(t *testing.T, o Options) {
	q := openWith(t, filepath.Join(t.TempDir(), "queue.db"), o)
	ctx := context.Background()
	if err := q.Append(ctx, sigs(0, 10)); err != nil {
		t.Fatal(err)
	}
	if err := q.Append(ctx, sigs(10, 5)); err != nil {
		t.Fatal(err)
	}
	if q.Len() != 15 || q.Bytes() == 0 {
		t.Fatalf("Len %d Bytes %d", q.Len(), q.Bytes())
	}
	recs, err := q.Peek(4)
	if err != nil {
		t.Fatal(err)
	}
	got := decode(t, recs)
	for i, s := range got {
		if s.Value.Num != float64(i) || s.Seq != uint64(i+1) {
			t.Fatalf("peek[%d] = value %v seq %d", i, s.Value.Num, s.Seq)
		}
	}
	if err := q.Delete(recs[len(recs)-1].Seq); err != nil {
		t.Fatal(err)
	}
	recs, _ = q.Peek(100)
	got = decode(t, recs)
	if len(got) != 11 || got[0].Value.Num != 4 || got[10].Value.Num != 14 {
		t.Fatalf("after delete: %d records, first %v", len(got), got[0].Value.Num)
	}
	if q.Len() != 11 {
		t.Fatalf("Len %d, want 11", q.Len())
	}
	if err := q.Delete(1 << 62); err != nil {
		t.Fatal(err)
	}
	if recs, _ := q.Peek(10); len(recs) != 0 || q.Len() != 0 || q.Bytes() != 0 {
		t.Fatalf("not empty: %d records, Len %d, Bytes %d", len(recs), q.Len(), q.Bytes())
	}
}

func testReopenKeepsDataAndSequence(t *testing.T, o Options) {
	path := filepath.Join(t.TempDir(), "queue.db")
	ctx := context.Background()
	q, err := OpenWith(path, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Append(ctx, sigs(0, 20)); err != nil {
		t.Fatal(err)
	}
	if err := q.Delete(20); err != nil { // everything: the sequence must still go on
		t.Fatal(err)
	}
	if err := q.Append(ctx, sigs(20, 3)); err != nil {
		t.Fatal(err)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if err := q.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	q = openWith(t, path, o)
	if q.Len() != 3 {
		t.Fatalf("Len after reopen %d, want 3", q.Len())
	}
	in := sigs(23, 1)
	if err := q.Append(ctx, in); err != nil {
		t.Fatal(err)
	}
	if in[0].Seq != 24 {
		t.Fatalf("seq after reopen %d, want 24", in[0].Seq)
	}
	recs, _ := q.Peek(10)
	got := decode(t, recs)
	if len(got) != 4 || got[0].Seq != 21 || got[3].Seq != 24 {
		t.Fatalf("after reopen: %+v", recs)
	}
}

func testDeletesDoNotSkipKeys(t *testing.T, o Options) {
	q := openWith(t, filepath.Join(t.TempDir(), "queue.db"), o)
	ctx := context.Background()
	// Enough records to span many pages, deleted in uneven chunks.
	for i := 0; i < 20; i++ {
		if err := q.Append(ctx, sigs(i*500, 500)); err != nil {
			t.Fatal(err)
		}
	}
	var next uint64 = 1
	for _, n := range []int{1, 7, 333, 1000, 2500, 4096, 1, 10000} {
		recs, err := q.Peek(n)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if r.Seq != next {
				t.Fatalf("after deletes, got seq %d, want %d (a key was skipped or left behind)", r.Seq, next)
			}
			next++
		}
		if len(recs) == 0 {
			break
		}
		if err := q.Delete(recs[len(recs)-1].Seq); err != nil {
			t.Fatal(err)
		}
	}
	if next != 10001 || q.Len() != 0 {
		t.Fatalf("read up to %d, Len %d", next, q.Len())
	}
}

func TestDropOldestLeavesGapMarker(t *testing.T) {
	one, _ := signal.Marshal(sig(0))
	max := uint64(len(one) * 100)
	q := openQueue(t, filepath.Join(t.TempDir(), "queue.db"), max)
	ctx := context.Background()
	for i := 0; i < 10; i++ {
		if err := q.Append(ctx, sigs(i*50, 50)); err != nil {
			t.Fatal(err)
		}
	}
	if q.Bytes() > max {
		t.Fatalf("Bytes %d above max %d", q.Bytes(), max)
	}
	if q.Dropped() == 0 {
		t.Fatal("nothing dropped")
	}
	recs, _ := q.Peek(1000)
	got := decode(t, recs)
	var gapped uint64
	var last float64 = -1
	for _, s := range got {
		if s.Gap != nil {
			gapped += s.Gap.Dropped
			continue
		}
		if s.Value.Num <= last {
			t.Fatalf("order broken: %v after %v", s.Value.Num, last)
		}
		last = s.Value.Num
	}
	if gapped != q.Dropped() || q.Drops()[ReasonDropOldest] != q.Dropped() {
		t.Fatalf("gap markers account for %d dropped, counter says %d (%v)", gapped, q.Dropped(), q.Drops())
	}
	if gapped+uint64(len(got))-uint64(countMarkers(got)) != 500 {
		t.Fatalf("kept %d signals and %d in gaps, want 500 in all", len(got)-countMarkers(got), gapped)
	}
	if last != 499 {
		t.Fatalf("newest kept value %v, want 499", last)
	}
}

type countingAppender struct {
	mu    sync.Mutex
	calls int
	n     int
}

func (c *countingAppender) Append(_ context.Context, s []signal.Signal) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	c.n += len(s)
	return nil
}

func TestBatcherGroupsCommits(t *testing.T) {
	app := &countingAppender{}
	b := NewBatcher(app, 1000, 20*time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- b.Run(ctx) }()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var order []int
	for i := 0; i < 500; i++ {
		wg.Add(1)
		i := i
		if err := b.Add(ctx, Entry{Signals: sigs(i, 1), Done: func(err error) {
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
			wg.Done()
		}}); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if err := b.Commit(ctx, sigs(1000, 2)); err != nil {
		t.Fatal(err)
	}
	cancel()
	<-done
	if app.n != 502 {
		t.Fatalf("committed %d signals, want 502", app.n)
	}
	if app.calls > 20 {
		t.Fatalf("%d commits for 501 entries: not grouped", app.calls)
	}
	for i, v := range order {
		if v != i {
			t.Fatalf("Done called out of order at %d: %d", i, v)
		}
	}
}

// Records carry the signal's subject tail and id, so the forwarder need not
// decode them; a record stored as bare JSON (an older queue file) reads too.
func TestRecordsCarrySubjectAndID(t *testing.T) {
	s := sig(1)
	js, err := signal.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	framed, err := appendFrame(nil, s)
	if err != nil {
		t.Fatal(err)
	}
	tail, id, body := unframe(framed)
	if tail != s.Site+"."+s.Line+"."+s.Equipment || id != s.ID() || string(body) != string(js) {
		t.Fatalf("framed: %q %q %s", tail, id, body)
	}
	if tail, id, body := unframe(js); tail != "" || id != "" || string(body) != string(js) {
		t.Fatalf("bare: %q %q %s", tail, id, body)
	}
	if r := peeked(3, framed); r.Seq != 3 || r.Tail != tail || r.ID != id || string(r.Data) != string(js) {
		t.Fatalf("peeked framed: %+v", r)
	}
	if r := peeked(4, js); r.Tail != "" || r.ID != "" || string(r.Data) != string(js) {
		t.Fatalf("peeked bare: %+v", r)
	}
}

// Records only ever go at the end of the queue, so its pages are filled
// almost completely: a backlog takes well under twice its bytes on disk
// (bbolt's default half-full pages took 2.7 times).
func TestBacklogFileSize(t *testing.T) {
	q := openQueue(t, filepath.Join(t.TempDir(), "queue.db"), 0)
	for i := 0; i < 40; i++ {
		if err := q.Append(context.Background(), sigs(i*5000, 5000)); err != nil {
			t.Fatal(err)
		}
	}
	if fs, b := q.FileSize(), q.Bytes(); float64(fs) > 2*float64(b) {
		t.Fatalf("queue file %d bytes for %d bytes of records (%.2fx)", fs, b, float64(fs)/float64(b))
	}
}
