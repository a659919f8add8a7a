package opcua

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/agent/internal/buffer"
	"github.com/floorpulse/floorpulse/agent/internal/config"
	"github.com/floorpulse/floorpulse/agent/internal/metrics"
	"github.com/floorpulse/floorpulse/pkg/signal"
	"github.com/floorpulse/floorpulse/pkg/testenv"
)

// sink records committed signals and state records, like the queue. The
// servers in these tests are real; the queue behind the source is covered
// by TestOPCUAToJetStream.
type sink struct {
	mu    sync.Mutex
	sigs  []signal.Signal // values, in commit order
	marks []signal.Signal // watermarks, kept apart from the values
	state map[string][]byte
}

func (k *sink) Commit(_ context.Context, sigs []signal.Signal, puts ...buffer.Put) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, g := range sigs {
		if g.Name == signal.SeenName {
			if len(k.sigs) == 0 {
				return fmt.Errorf("watermark %+v before any value", g)
			}
			k.marks = append(k.marks, g)
			continue
		}
		k.sigs = append(k.sigs, g)
	}
	if k.state == nil {
		k.state = map[string][]byte{}
	}
	for _, p := range puts {
		if p.Value == nil {
			delete(k.state, string(p.Key))
		} else {
			k.state[string(p.Key)] = slices.Clone(p.Value)
		}
	}
	return nil
}

func (k *sink) State(prefix []byte, fn func(key, value []byte) error) error {
	k.mu.Lock()
	keys := slices.Sorted(maps.Keys(k.state))
	state := maps.Clone(k.state)
	k.mu.Unlock()
	for _, key := range keys {
		if strings.HasPrefix(key, string(prefix)) {
			if err := fn([]byte(key), state[key]); err != nil {
				return err
			}
		}
	}
	return nil
}

// restarted is the queue a restarted agent opens: the state records
// committed so far, no signals.
func (k *sink) restarted() *sink {
	k.mu.Lock()
	defer k.mu.Unlock()
	return &sink{state: maps.Clone(k.state)}
}

// watermarks returns the committed watermarks.
func (k *sink) watermarks() []signal.Signal {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.marks)
}

func (k *sink) all() []signal.Signal {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]signal.Signal(nil), k.sigs...)
}

// find returns the signals of one equipment signal name.
func (k *sink) find(name string) []signal.Signal {
	var out []signal.Signal
	for _, s := range k.all() {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

// waitFor polls until ok holds for the recorded signals.
func (k *sink) waitFor(t *testing.T, what string, timeout time.Duration, ok func([]signal.Signal) bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok(k.all()) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s; got %d signals: %+v", timeout, what, len(k.all()), k.all())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// has reports whether sigs hold one of name matching pred.
func has(sigs []signal.Signal, name string, pred func(signal.Signal) bool) bool {
	for _, s := range sigs {
		if s.Name == name && pred(s) {
			return true
		}
	}
	return false
}

// testLog is a debug log of the test, printed when it fails (and as it
// goes with -v).
func testLog(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
	}
	var buf testenv.Buffer
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("--- log ---\n%s", buf.String())
		}
	})
	return slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// started is a running source and what it writes to.
type started struct {
	src  *Source
	sink *sink
	stat *metrics.Source
	stop func() // ends Run and waits for it; the test's end calls it too
}

// startSource validates cfg as the agent does (agent_id gw1, site plant1,
// data_dir dataDir) and runs its source until the test ends.
func startSource(t *testing.T, cfg config.OPCUA, dataDir string) *started {
	return startSourceWith(t, cfg, dataDir, nil)
}

// startSourceWith is startSource with edit applied to the source before it
// runs.
func startSourceWith(t *testing.T, cfg config.OPCUA, dataDir string, edit func(*Source)) *started {
	t.Helper()
	return startSourceOn(t, cfg, dataDir, &sink{}, edit)
}

// startSourceOn is startSourceWith committing to k, whose state records it
// reads at start.
func startSourceOn(t *testing.T, cfg config.OPCUA, dataDir string, k *sink, edit func(*Source)) *started {
	t.Helper()
	cfg = validated(t, cfg, dataDir)
	stat := (&metrics.Registry{}).Source("opcua", cfg.Endpoint)
	src := New(cfg, "gw1", "plant1", k, stat, testLog(t), WithState(k))
	src.keepAlive = 300 * time.Millisecond
	src.minBackoff, src.maxBackoff = 100*time.Millisecond, 800*time.Millisecond
	if edit != nil {
		edit(src)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Errorf("Run did not return 10s after its context ended")
			}
		})
	}
	t.Cleanup(stop)
	return &started{src: src, sink: k, stat: stat, stop: stop}
}

// newSource returns a source of a validated configuration, not running.
func newSource(t *testing.T, cfg config.OPCUA) *Source {
	stat := (&metrics.Registry{}).Source("opcua", cfg.Endpoint)
	src := New(cfg, "gw1", "plant1", &sink{}, stat, testLog(t))
	src.keepAlive = 300 * time.Millisecond
	return src
}

// validated fills the defaults of the server section and validates it as
// the agent does (agent_id gw1, site plant1).
func validated(t *testing.T, o config.OPCUA, dataDir string) config.OPCUA {
	t.Helper()
	o, err := config.PrepareOPCUA(o, "gw1", "plant1", dataDir)
	if err != nil {
		t.Fatalf("configuration: %v", err)
	}
	return o
}

func waitUntil(t *testing.T, what string, timeout time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func nodeAt(path, name string) config.Node {
	return config.Node{BrowsePath: path, Line: "L1", Equipment: "M01", Signal: name}
}

func nodeID(ns int, s, name string) config.Node {
	return config.Node{NodeID: fmt.Sprintf("ns=%d;s=%s", ns, s), Line: "L1", Equipment: "M01", Signal: name}
}

func TestSubscriptionParams(t *testing.T) {
	for _, tc := range []struct {
		interval       time.Duration
		keep, lifetime uint32
	}{
		{100 * time.Millisecond, 50, 6000},
		{time.Second, 5, 600},
		{3 * time.Second, 2, 200}, // keep-alive rounded up: 6 s
		{5 * time.Minute, 1, 3},   // the lifetime is at least three keep-alives
		{50 * time.Millisecond, 100, 12000},
	} {
		p := subscriptionParams(tc.interval, time.Minute)
		if p.Interval != tc.interval || p.MaxKeepAliveCount != tc.keep || p.LifetimeCount != tc.lifetime {
			t.Errorf("%v: interval %v, keep-alive %d, lifetime %d; want %d, %d", tc.interval, p.Interval, p.MaxKeepAliveCount, p.LifetimeCount, tc.keep, tc.lifetime)
		}
	}
	// A session that lives longer without a connection keeps its
	// subscription as long.
	if p := subscriptionParams(time.Second, time.Hour); p.LifetimeCount != 3600 {
		t.Errorf("lifetime %d at 1 s in a session of an hour, want 3600", p.LifetimeCount)
	}
}
