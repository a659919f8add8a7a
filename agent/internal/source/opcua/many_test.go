package opcua

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gopcua/opcua/ua"

	"github.com/floorpulse/floorpulse/agent/internal/config"
	"github.com/floorpulse/floorpulse/pkg/signal"
	"github.com/floorpulse/floorpulse/pkg/testenv"
)

// 2,000 monitored items on one server, created in batches, with a few bad
// node ids among them that fail alone.
func TestTwoThousandMonitoredItems(t *testing.T) {
	const machines = 400
	signals := []string{"run", "state", "count", "power", "operator"}
	port := testenv.FreePort(t)
	var names []string
	for i := range machines {
		for _, sig := range signals {
			names = append(names, fmt.Sprintf("plant1.L%d.M%03d.%s", i%4+1, i, sig))
		}
	}
	p := startPLC(t, port, names...)

	cfg := config.OPCUA{Endpoint: fmt.Sprintf("opc.tcp://127.0.0.1:%d", port), PublishingInterval: 100 * time.Millisecond, MaxItemsPerCall: 300}
	for _, n := range names {
		f := strings.Split(n, ".")
		cfg.Nodes = append(cfg.Nodes, config.Node{NodeID: fmt.Sprintf("ns=%d;s=%s", p.ns.ID(), n), Line: f[1], Equipment: f[2], Signal: f[3]})
	}
	bad := []string{"ns=1;s=plant1.L9.M999.run", "ns=1;i=4242", "ns=1;s=plant1.L1.M000.nope"}
	for i, id := range bad {
		cfg.Nodes = append(cfg.Nodes, config.Node{NodeID: id, Line: "L9", Equipment: fmt.Sprintf("X%d", i), Signal: "run"})
	}
	start := time.Now()
	st := startSource(t, cfg, t.TempDir())
	waitUntil(t, "subscribed", 60*time.Second, st.stat.Subscribed.Load)
	t.Logf("%d monitored items created in %s", len(names), time.Since(start).Round(time.Millisecond))

	// Every item reports its initial value (no data yet: BadWaitingForInitialData).
	st.sink.waitFor(t, "2,000 initial values", 30*time.Second, func(s []signal.Signal) bool { return len(s) >= len(names) })
	seen := map[string]bool{}
	for _, g := range st.sink.all() {
		if g.Status != uint32(ua.StatusBadWaitingForInitialData) || g.Quality != signal.Bad {
			t.Fatalf("initial value %+v", g)
		}
		seen[g.Equipment+"."+g.Name] = true
	}
	if len(seen) != len(names) {
		t.Fatalf("initial values from %d items, want %d", len(seen), len(names))
	}

	// The server accepted the bad items and reports the nodes as unknown
	// (gopcua's server does; others refuse them at once): counted either way.
	waitUntil(t, "the bad nodes counted", 10*time.Second, func() bool { return st.src.Rejected() >= uint64(len(bad)) })
	if n := st.src.Rejected(); n != uint64(len(bad)) {
		t.Errorf("rejected %d nodes, want %d", n, len(bad))
	}
	if n := st.stat.DecodeErrors.Load(); n != uint64(len(bad)) {
		t.Errorf("decode errors %d, want %d", n, len(bad))
	}

	// A value set on every machine's count arrives from each of them.
	t1 := time.Date(2026, 10, 1, 6, 0, 0, 0, time.UTC)
	for i, n := range names {
		if strings.HasSuffix(n, ".count") {
			p.set(n, value(int32(i), ua.StatusOK, t1))
		}
	}
	st.sink.waitFor(t, "a count from every machine", 30*time.Second, func(s []signal.Signal) bool {
		eq := map[string]bool{}
		for _, g := range s {
			if g.Name == "count" && g.Time.Equal(t1) && g.Quality == signal.Good {
				eq[g.Equipment] = true
			}
		}
		return len(eq) == machines
	})
}
