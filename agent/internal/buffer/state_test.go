package buffer

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"
)

func stateOf(t *testing.T, q *Queue, prefix string) map[string]string {
	t.Helper()
	out := map[string]string{}
	if err := q.State([]byte(prefix), func(k, v []byte) error { out[string(k)] = string(v); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestStateCommittedWithSignals: state records are written, replaced and
// deleted in order, only under their prefix, and survive a reopen.
func TestStateCommittedWithSignals(t *testing.T) {
	path := filepath.Join(t.TempDir(), "q.db")
	q := openQueue(t, path, 0)
	ctx := context.Background()
	if err := q.AppendState(ctx, sigs(0, 2), []Put{{Key: []byte("a/1"), Value: []byte("x")}, {Key: []byte("a/2"), Value: []byte("y")}, {Key: []byte("b/1"), Value: []byte("z")}}); err != nil {
		t.Fatal(err)
	}
	if err := q.AppendState(ctx, nil, []Put{{Key: []byte("a/1"), Value: []byte("x2")}, {Key: []byte("a/2")}}); err != nil {
		t.Fatal(err)
	}
	if q.Len() != 2 {
		t.Fatalf("records %d, want 2", q.Len())
	}
	q.Close()
	q = openQueue(t, path, 0)
	if got := stateOf(t, q, "a/"); len(got) != 1 || got["a/1"] != "x2" {
		t.Fatalf("state a/ after reopen: %v", got)
	}
	if got := stateOf(t, q, ""); len(got) != 2 {
		t.Fatalf("all state: %v", got)
	}
}

// TestStateNotStoredWhenSignalsRefused: under the block policy a commit that
// does not fit stores neither its signals nor its state.
func TestStateNotStoredWhenSignalsRefused(t *testing.T) {
	q := openWith(t, filepath.Join(t.TempDir(), "q.db"), Options{MaxBytes: 400, Policy: Block})
	ctx := context.Background()
	if err := q.Append(ctx, sigs(0, 2)); err != nil {
		t.Fatal(err)
	}
	err := q.AppendState(ctx, sigs(2, 20), []Put{{Key: []byte("k"), Value: []byte("v")}})
	if !errors.Is(err, ErrFull) {
		t.Fatalf("got %v, want ErrFull", err)
	}
	if got := stateOf(t, q, ""); len(got) != 0 {
		t.Fatalf("state stored without its signals: %v", got)
	}
}

// TestBatcherCommitsPuts: the Batcher hands entries' state records to the
// queue with their signals, also for an entry without signals.
func TestBatcherCommitsPuts(t *testing.T) {
	q := openQueue(t, filepath.Join(t.TempDir(), "q.db"), 0)
	b := NewBatcher(q, 100, time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- b.Run(ctx) }()
	defer func() { cancel(); <-done }()
	commit := func(e Entry) {
		t.Helper()
		errc := make(chan error, 1)
		e.Done = func(err error) { errc <- err }
		if err := b.Add(ctx, e); err != nil {
			t.Fatal(err)
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	commit(Entry{Signals: sigs(0, 1), Puts: []Put{{Key: []byte("n"), Value: []byte("1")}}})
	commit(Entry{Puts: []Put{{Key: []byte("n"), Value: []byte("2")}}})
	if got := stateOf(t, q, ""); got["n"] != "2" || q.Len() != 1 {
		t.Fatalf("state %v, records %d", got, q.Len())
	}
}
