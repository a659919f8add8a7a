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

// The stream is bounded in bytes as configured, discarding its oldest
// messages when full; 0 leaves it unbounded, and an update changes the bound.
func TestEnsureStreamBoundsBytes(t *testing.T) {
	srv := testenv.StartNATS(t)
	nc, err := nats.Connect(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, c := range []struct{ maxBytes, want int64 }{{64 << 20, 64 << 20}, {0, -1}, {1 << 20, 1 << 20}} {
		st, err := EnsureStream(ctx, js, Config{Stream: "S", SubjectPrefix: "fp.s", DuplicateWindow: time.Minute, MaxAge: time.Hour, MaxBytes: c.maxBytes})
		if err != nil {
			t.Fatal(err)
		}
		info, err := st.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.Config.MaxBytes != c.want || info.Config.Discard != jetstream.DiscardOld {
			t.Fatalf("max_bytes %d: stream has %d, discard %v", c.maxBytes, info.Config.MaxBytes, info.Config.Discard)
		}
	}
	// Full: the oldest messages go, the newest are kept.
	payload := make([]byte, 64<<10)
	for i := 0; i < 40; i++ {
		if _, err := js.Publish(ctx, "fp.s.p.L1.M01", payload); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	st, _ := js.Stream(ctx, "S")
	info, _ := st.Info(ctx)
	if info.State.Bytes > 1<<20 || info.State.LastSeq != 40 || info.State.FirstSeq == 1 {
		t.Fatalf("full stream: %+v", info.State)
	}
}
