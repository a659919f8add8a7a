package consume

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/floorpulse/floorpulse/pkg/testenv"
)

// The partitioning of an existing stream is never changed behind the hubs'
// backs: stored subjects (and so each partition's history) depend on it.
func TestEnsureStreamKeepsPartitioning(t *testing.T) {
	srv := testenv.StartNATS(t)
	nc, err := nats.Connect(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ensure := func(stream string, n int) error {
		_, err := EnsureStream(ctx, js, Config{Stream: stream, SubjectPrefix: "fp." + stream, DuplicateWindow: time.Minute, MaxAge: time.Hour, Partitions: n})
		return err
	}
	// An empty unpartitioned stream may be partitioned; then only its own count fits.
	for i, step := range []struct {
		n  int
		ok bool
	}{{1, true}, {1, true}, {4, true}, {4, true}, {1, false}, {8, false}} {
		if err := ensure("A", step.n); (err == nil) != step.ok || (err != nil && !errors.Is(err, ErrPartitions)) {
			t.Fatalf("step %d, count %d: err %v, want ok=%t", i, step.n, err, step.ok)
		}
	}
	// A stream holding unpartitioned signals stays unpartitioned.
	if err := ensure("B", 1); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "fp.B.s1.L1.M01", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := ensure("B", 4); !errors.Is(err, ErrPartitions) {
		t.Fatalf("partitioning a stream with messages: %v", err)
	}
	if err := ensure("B", 1); err != nil {
		t.Fatal(err)
	}
}
