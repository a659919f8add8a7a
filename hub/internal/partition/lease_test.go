package partition

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/floorpulse/floorpulse/pkg/testenv"
)

// hub is a coordinator under test with its own connection.
type hub struct {
	c      *Coordinator
	nc     *nats.Conn
	cancel context.CancelFunc
	done   chan error
}

// Coordinators on a real JetStream share the partitions, never run one
// partition twice at a time, take over a dead hub's partitions after its
// leases expire, and hand partitions over at once on shutdown.
func TestCoordinatorsShareAndTakeOver(t *testing.T) {
	srv := testenv.StartNATS(t)
	const count = 4
	ttl := time.Second
	var mu sync.Mutex
	running := map[int]string{}
	runner := func(id string) Runner {
		return func(ctx context.Context, l *Lease) error {
			mu.Lock()
			if other, ok := running[l.P]; ok {
				t.Errorf("partition %d runs on %s while it runs on %s", l.P, id, other)
			}
			running[l.P] = id
			mu.Unlock()
			<-ctx.Done()
			mu.Lock()
			delete(running, l.P)
			mu.Unlock()
			return nil
		}
	}
	start := func(id string) *hub {
		nc, err := nats.Connect(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		js, _ := jetstream.New(nc)
		kv, err := Bucket(context.Background(), js, "T_HUBS", ttl)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		h := &hub{c: New(kv, Config{Count: count, TTL: ttl, HubID: id, Info: []byte(id)}, runner(id),
			slog.New(slog.NewTextHandler(io.Discard, nil))), nc: nc, cancel: cancel, done: make(chan error, 1)}
		go func() { h.done <- h.c.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-h.done; nc.Close() })
		return h
	}
	waitHeld := func(what string, limit time.Duration, want map[*hub]int) time.Duration {
		t.Helper()
		begin := time.Now()
		for {
			ok := true
			for h, n := range want {
				if len(h.c.Held()) != n {
					ok = false
				}
			}
			if ok {
				return time.Since(begin)
			}
			if time.Since(begin) > limit {
				got := map[string][]int{}
				for h := range want {
					got[h.c.cfg.HubID] = h.c.Held()
				}
				t.Fatalf("%s: not reached in %s: %v", what, limit, got)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	a := start("a")
	waitHeld("a alone holds all", 5*time.Second, map[*hub]int{a: 4})
	b := start("b")
	waitHeld("a and b share", 10*time.Second, map[*hub]int{a: 2, b: 2})
	if hub, info, ok := b.c.Owner(a.c.Held()[0]); !ok || hub != "a" || string(info) != "a" {
		t.Fatalf("b sees owner %q (%q) of a's partition", hub, info)
	}

	// a dies: its connection goes, so it renews nothing and releases nothing.
	a.nc.Close()
	took := waitHeld("b takes a's partitions", 10*time.Second, map[*hub]int{b: 4})
	if took < ttl/2 {
		t.Fatalf("b took a's partitions after %s, before a's leases could expire", took)
	}
	t.Logf("takeover after a's death: %s (lease ttl %s)", took, ttl)
	if len(a.c.Held()) != 0 {
		t.Fatalf("dead a still holds %v", a.c.Held())
	}

	c := start("c")
	waitHeld("b and c share", 10*time.Second, map[*hub]int{b: 2, c: 2})
	c.cancel()
	if err := <-c.done; err != nil {
		t.Fatal(err)
	}
	c.done <- nil // for the cleanup
	took = waitHeld("b gets c's partitions back", 10*time.Second, map[*hub]int{b: 4})
	t.Logf("hand-over on c's shutdown: %s", took)
	if took > ttl {
		t.Fatalf("a shut-down hub's partitions waited %s, as if their leases had to expire", took)
	}
}
