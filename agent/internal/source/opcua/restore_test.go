package opcua

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/agent/internal/config"
	"github.com/floorpulse/floorpulse/pkg/signal"
	"github.com/floorpulse/floorpulse/pkg/testenv"
)

// numbers are the values of the signal name the sink holds, in commit
// order.
func numbers(k *sink, name string) []float64 {
	var v []float64
	for _, g := range k.find(name) {
		if g.Value.Kind == signal.KindNumber {
			v = append(v, g.Value.Num)
		}
	}
	return v
}

// setOne sets node-opcua's variable Line1.M01.<node> to v, stamped at, and
// waits until the sink holds it as signal name.
func setOne(t *testing.T, srv *testenv.NodeOPCUA, k *sink, node, name string, v float64, at time.Time, timeout time.Duration) {
	t.Helper()
	srv.Set(testenv.Value{Node: "Line1.M01." + node, Value: v, SourceTime: at})
	k.waitFor(t, fmt.Sprintf("%s %v", name, v), timeout, func(s []signal.Signal) bool {
		return has(s, name, func(g signal.Signal) bool { return g.Value == signal.Number(v) })
	})
}

// startTempSource runs a source subscribed to node-opcua's Temp (a node
// without history), through a proxy, with backfill off, and waits for
// temp 1.
func startTempSource(t *testing.T) (*testenv.NodeOPCUA, *testenv.Proxy, *started, time.Time) {
	srv := testenv.StartNodeOPCUA(t, testenv.NodeOPCUAOptions{})
	px := testenv.StartProxy(t, fmt.Sprintf("127.0.0.1:%d", srv.Port))
	st := startSource(t, config.OPCUA{Endpoint: px.URL("opc.tcp"), PublishingInterval: 50 * time.Millisecond,
		Nodes: []config.Node{nodeID(1, "Line1.M01.Temp", "temp")}}, t.TempDir())
	st.sink.waitFor(t, "the initial value", 20*time.Second, func(s []signal.Signal) bool {
		return has(s, "temp", func(signal.Signal) bool { return true })
	})
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	setOne(t, srv, st.sink, "Temp", "temp", 1, t0, 10*time.Second)
	return srv, px, st, t0
}

// checkOneToLast waits for the value last of the signal name, then checks
// that the sink holds 1 to last after the initial value, each once, in
// order.
func checkOneToLast(t *testing.T, k *sink, name string, last int) {
	t.Helper()
	k.waitFor(t, fmt.Sprintf("%s 1 to %d", name, last), 20*time.Second, func([]signal.Signal) bool {
		return slices.Contains(numbers(k, name), float64(last))
	})
	got := numbers(k, name)
	i := slices.Index(got, 1)
	var want []float64
	for v := 1; v <= last; v++ {
		want = append(want, float64(v))
	}
	if i < 0 || !slices.Equal(got[i:], want) {
		t.Errorf("%s committed from 1 on: %v, want 1 to %d, each once, in order", name, got[max(i, 0):], last)
	}
}

// A connection that breaks for a few seconds loses nothing, from a server
// without history and with backfill off: the next connection takes the
// session over, and its subscription delivers what its monitored item
// queued meanwhile. Without the takeover, a new session would start from
// the current value and lose the others.
func TestNodeOPCUAOutageKeepsTheSession(t *testing.T) {
	srv, px, st, t0 := startTempSource(t)
	px.Cut()
	waitUntil(t, "the source to notice the cut", 10*time.Second, func() bool { return !st.stat.Connected.Load() })
	const last = 20
	for i := 2; i <= last; i++ {
		srv.Set(testenv.Value{Node: "Line1.M01.Temp", Value: i, SourceTime: t0.Add(time.Duration(i) * 10 * time.Millisecond)})
	}
	time.Sleep(time.Second) // a few attempts refused
	back := time.Now()
	px.Restore()
	checkOneToLast(t, st.sink, "temp", last)
	t.Logf("the values of the outage were committed %s after the network came back", time.Since(back).Round(time.Millisecond))
	checkOneSession(t, st, srv, 1)
}

// checkOneSession checks that the source took its session over takeovers
// times, each on a connection of its own, and that the server holds the
// one session.
func checkOneSession(t *testing.T, st *started, srv *testenv.NodeOPCUA, takeovers uint64) {
	t.Helper()
	if n := st.stat.Restores.Load(); n != takeovers {
		t.Errorf("%d sessions taken over, want %d", n, takeovers)
	}
	if n := st.stat.Connects.Load(); n != takeovers+1 {
		t.Errorf("%d connections, want %d", n, takeovers+1)
	}
	if n := srv.Sessions(); n != 1 {
		t.Errorf("the server has %d sessions, want 1", n)
	}
}

// Polling, a connection that breaks takes its session over too: no new
// session per network cut, so a flapping network cannot fill the server's
// sessions (a PLC often has a handful) with ones left behind until they
// time out.
func TestNodeOPCUAPollOutageKeepsTheSession(t *testing.T) {
	srv := testenv.StartNodeOPCUA(t, testenv.NodeOPCUAOptions{})
	px := testenv.StartProxy(t, fmt.Sprintf("127.0.0.1:%d", srv.Port))
	st := startSource(t, config.OPCUA{Endpoint: px.URL("opc.tcp"), Mode: config.ModePoll, PollInterval: 50 * time.Millisecond,
		Nodes: []config.Node{nodeID(1, "Line1.M01.Temp", "temp")}}, t.TempDir())
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	setOne(t, srv, st.sink, "Temp", "temp", 1, t0, 20*time.Second)
	for cut := 1; cut <= 3; cut++ {
		px.Cut()
		waitUntil(t, "the source to notice the cut", 10*time.Second, func() bool { return !st.stat.Connected.Load() })
		time.Sleep(500 * time.Millisecond) // a few attempts refused
		px.Restore()
		setOne(t, srv, st.sink, "Temp", "temp", float64(1+cut), t0.Add(time.Duration(cut)*time.Second), 20*time.Second)
	}
	checkOneSession(t, st, srv, 3)
}

// A notification message sent when the connection broke, lost on the
// way, is asked for again (Republish) on the next connection: the server
// keeps each message until the agent acknowledges it, which it does only
// once its values are committed.
func TestNodeOPCUALostMessageIsRepublished(t *testing.T) {
	srv, px, st, t0 := startTempSource(t)
	px.Drop(true)
	srv.Set(testenv.Value{Node: "Line1.M01.Temp", Value: 2, SourceTime: t0.Add(time.Second)})
	time.Sleep(500 * time.Millisecond) // answered, and dropped
	px.Cut()
	px.Drop(false)
	srv.Set(testenv.Value{Node: "Line1.M01.Temp", Value: 3, SourceTime: t0.Add(2 * time.Second)})
	time.Sleep(500 * time.Millisecond)
	px.Restore()
	checkOneToLast(t, st.sink, "temp", 3)
	if n := st.stat.Republished.Load(); n != 1 {
		t.Errorf("%d messages republished, want 1", n)
	}
	if n := st.stat.Unrecovered.Load(); n != 0 {
		t.Errorf("%d messages unrecovered, want 0", n)
	}
	if n := st.stat.Restores.Load(); n != 1 {
		t.Errorf("%d sessions taken over, want 1", n)
	}
}

// A restarted server has lost the session: the source builds a new one.
func TestNodeOPCUARestartedServerGetsANewSession(t *testing.T) {
	srv, _, st, t0 := startTempSource(t)
	srv.Restart()
	waitUntil(t, "a new session", 30*time.Second, func() bool { return st.stat.Connects.Load() >= 2 && st.stat.Subscribed.Load() })
	srv.Set(testenv.Value{Node: "Line1.M01.Temp", Value: 7, SourceTime: t0.Add(time.Second)})
	st.sink.waitFor(t, "temp 7", 10*time.Second, func(s []signal.Signal) bool {
		return has(s, "temp", func(g signal.Signal) bool { return g.Value == signal.Number(7) })
	})
	if n := st.stat.Restores.Load(); n != 0 {
		t.Errorf("%d sessions taken over from a restarted server, want 0", n)
	}
}

func TestMissing(t *testing.T) {
	for _, c := range []struct {
		last, next uint32
		want       []uint32
	}{
		{0, 1, nil},
		{0, 3, []uint32{1, 2}},
		{5, 6, nil},
		{5, 5, nil},
		{5, 4, nil},
		{5, 8, []uint32{6, 7}},
		{0xFFFFFFFE, 2, []uint32{0xFFFFFFFF, 1}},
		{0xFFFFFFFF, 1, nil},
		{shortWrap, 1, nil},
		{shortWrap, 3, []uint32{1, 2}},
		{shortWrap - 1, 2, []uint32{shortWrap, 1}},
		{0xFFFFFFFD, 1, []uint32{0xFFFFFFFE, 0xFFFFFFFF}},
		{0, 0x90000000, nil}, // a first message numbered past half the range: nothing before it
	} {
		if got, skipped := missing(c.last, c.next); !slices.Equal(got, c.want) || skipped != 0 {
			t.Errorf("missing(%d, %d) = %v, %d, want %v, 0", c.last, c.next, got, skipped, c.want)
		}
	}
	got, skipped := missing(1, 1000)
	if len(got) != maxRepublish || got[0] != 1000-maxRepublish || got[len(got)-1] != 999 || skipped != 998-maxRepublish {
		t.Errorf("missing(1, 1000) = %d numbers from %d, %d skipped; want the %d before 1000, %d skipped", len(got), got[0], skipped, maxRepublish, 998-maxRepublish)
	}
}

// A node whose queue at the server overflowed while the connection was
// down (its oldest values discarded) has them read back from history,
// before the values the queue kept: with backfill, the session taken over
// loses nothing either.
func TestNodeOPCUAOverflowReadBackFromHistory(t *testing.T) {
	srv := testenv.StartNodeOPCUA(t, testenv.NodeOPCUAOptions{})
	px := testenv.StartProxy(t, fmt.Sprintf("127.0.0.1:%d", srv.Port))
	count := nodeID(1, "Line1.M01.Count", "count")
	count.QueueSize = 5
	st := startSource(t, config.OPCUA{Endpoint: px.URL("opc.tcp"), PublishingInterval: 50 * time.Millisecond, Backfill: time.Hour,
		Nodes: []config.Node{count}}, t.TempDir())
	k := st.sink
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	setOne(t, srv, k, "Count", "count", 1, t0, 20*time.Second)
	px.Cut()
	waitUntil(t, "the source to notice the cut", 10*time.Second, func() bool { return !st.stat.Connected.Load() })
	const last = 21
	for i := 2; i <= last; i++ {
		srv.Set(testenv.Value{Node: "Line1.M01.Count", Value: i, SourceTime: t0.Add(time.Duration(i) * 10 * time.Millisecond)})
	}
	time.Sleep(time.Second)
	px.Restore()
	checkOneToLast(t, k, "count", last)
	if n := st.stat.Restores.Load(); n != 1 {
		t.Errorf("%d sessions taken over, want 1", n)
	}
	if n := st.stat.Overflows.Load(); n < 1 {
		t.Errorf("%d values after an overflow, want at least 1", n)
	}
	// The queue keeps the last 5; node-opcua also moves values out of it
	// into messages waiting for a Publish request, more of them when the
	// machine is busy: at most the other 15 are read back.
	if n := st.stat.Backfilled.Load(); n < 1 || n > last-1-5 {
		t.Errorf("read back %d values, want 1 to the %d the queue of 5 dropped", n, last-1-5)
	}
}

// A saved session of a server no longer configured (or configured with
// other nodes) is removed at start; those of configured servers stay.
func TestRemoveStaleSessions(t *testing.T) {
	dir := t.TempDir()
	cfg := config.OPCUA{Endpoint: "opc.tcp://plc:4840", DataDir: dir, Nodes: []config.Node{nodeID(1, "a", "a")}}
	old := cfg
	old.Nodes = []config.Node{nodeID(1, "b", "b")}
	other := filepath.Join(dir, "opcua", "client.key")
	for _, f := range []string{sessionPath(cfg), sessionPath(old), other} {
		if err := os.MkdirAll(filepath.Dir(f), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte("{}"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := RemoveStaleSessions(dir, []config.OPCUA{cfg}); err != nil {
		t.Fatal(err)
	}
	for f, want := range map[string]bool{sessionPath(cfg): true, sessionPath(old): false, other: true} {
		if _, err := os.Stat(f); (err == nil) != want {
			t.Errorf("%s: kept %v, want %v", filepath.Base(f), err == nil, want)
		}
	}
}

// The session timeout asked of the server is session_timeout; the session
// saved for a restart says what the server granted.
func TestNodeOPCUASessionTimeoutAsked(t *testing.T) {
	srv := testenv.StartNodeOPCUA(t, testenv.NodeOPCUAOptions{})
	st := startSource(t, config.OPCUA{Endpoint: srv.URL, SessionTimeout: 20 * time.Minute,
		Nodes: []config.Node{nodeID(1, "Line1.M01.Temp", "temp")}}, t.TempDir())
	waitUntil(t, "subscribed", 20*time.Second, st.stat.Subscribed.Load)
	saved, _, ok := st.src.loadSession()
	if !ok {
		t.Fatal("no saved session")
	}
	if saved.Timeout != 20*time.Minute {
		t.Errorf("session timeout granted %s, want 20m", saved.Timeout)
	}
}

// A source that stops leaves its session at the server; the next one on
// the same data_dir resumes it, commits what the server queued meanwhile
// (a node without history, backfill off), and closes it.
func TestNodeOPCUARestartResumesTheSession(t *testing.T) {
	srv := testenv.StartNodeOPCUA(t, testenv.NodeOPCUAOptions{})
	dataDir := t.TempDir()
	cfg := config.OPCUA{Endpoint: srv.URL, PublishingInterval: 50 * time.Millisecond,
		Nodes: []config.Node{nodeID(1, "Line1.M01.Temp", "temp")}}
	a := startSource(t, cfg, dataDir)
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	setOne(t, srv, a.sink, "Temp", "temp", 1, t0, 20*time.Second)
	a.stop()
	for i := 2; i <= 5; i++ {
		srv.Set(testenv.Value{Node: "Line1.M01.Temp", Value: i, SourceTime: t0.Add(time.Duration(i) * time.Second)})
	}
	b := startSource(t, cfg, dataDir)
	b.sink.waitFor(t, "temp 5", 20*time.Second, func(s []signal.Signal) bool {
		return has(s, "temp", func(g signal.Signal) bool { return g.Value == signal.Number(5) })
	})
	waitUntil(t, "a new session", 20*time.Second, b.stat.Subscribed.Load)
	got := numbers(b.sink, "temp")
	if i := slices.Index(got, 2); i < 0 || len(got) < i+4 || !slices.Equal(got[i:i+4], []float64{2, 3, 4, 5}) {
		t.Errorf("temps after the restart: %v, want 2 to 5 once, in order", got)
	}
	if n := b.stat.Restores.Load(); n != 1 {
		t.Errorf("%d sessions resumed, want 1", n)
	}
	if n := b.stat.Connects.Load(); n != 1 {
		t.Errorf("%d connections after the resume, want 1", n)
	}
}

// A restart while a node keeps changing loses none of its changes: the
// next source has its own session's monitored items in place before it
// drains the last run's session and closes it, so a change made in between
// is in one or the other (or in both: the same signal, with the same id,
// which the stream drops as a duplicate).
func TestNodeOPCUARestartWhileValuesChange(t *testing.T) {
	srv := testenv.StartNodeOPCUA(t, testenv.NodeOPCUAOptions{})
	dataDir := t.TempDir()
	temp := nodeID(1, "Line1.M01.Temp", "temp")
	temp.QueueSize = 1000
	cfg := config.OPCUA{Endpoint: srv.URL, PublishingInterval: 50 * time.Millisecond, Nodes: []config.Node{temp}}
	a := startSource(t, cfg, dataDir)
	a.sink.waitFor(t, "the initial value", 20*time.Second, func(s []signal.Signal) bool {
		return has(s, "temp", func(signal.Signal) bool { return true })
	})
	const last = 400
	srv.Count("Line1.M01.Temp", last, 5*time.Millisecond)
	a.sink.waitFor(t, "temp 50", 20*time.Second, func(s []signal.Signal) bool {
		return has(s, "temp", func(g signal.Signal) bool { return g.Value == signal.Number(50) })
	})
	a.stop()
	b := startSource(t, cfg, dataDir)
	waitUntil(t, "the server to count to the last", 30*time.Second, func() bool { return srv.CountedTo("Line1.M01.Temp", last) })
	b.sink.waitFor(t, fmt.Sprintf("temp %d", last), 20*time.Second, func(s []signal.Signal) bool {
		return has(s, "temp", func(g signal.Signal) bool { return g.Value == signal.Number(last) })
	})
	if !srv.CountedTo("Line1.M01.Temp", last) {
		t.Fatal("the restart did not fall within the count")
	}
	// What reaches the stream: the signals of both runs, each id once.
	seen := map[string]bool{}
	var got []float64
	for _, g := range append(a.sink.find("temp"), b.sink.find("temp")...) {
		if id := g.ID(); !seen[id] && g.Value.Kind == signal.KindNumber {
			seen[id] = true
			got = append(got, g.Value.Num)
		}
	}
	i := slices.Index(got, 1)
	var want []float64
	for v := 1; v <= last; v++ {
		want = append(want, float64(v))
	}
	if i < 0 || !slices.Equal(got[i:], want) {
		var lost []float64
		for _, v := range want {
			if !slices.Contains(got, v) {
				lost = append(lost, v)
			}
		}
		t.Errorf("temps across the restart, duplicates dropped: %d values from 1, want 1 to %d once each, in order; lost: %v", len(got)-max(i, 0), last, lost)
	}
	if n := b.stat.Restores.Load(); n != 1 {
		t.Errorf("%d sessions resumed, want 1", n)
	}
}

// A restart needs room for two sessions' monitored items while the last
// run's drains. A server whose monitored items are limited (over all
// sessions) refuses some of the new session's; they are asked for again
// once the old session is closed, rather than left out until the next
// reconnect.
func TestNodeOPCUARestartAtTheItemLimit(t *testing.T) {
	const limit = 5 // the first run's 3 nodes and the clock, and 1 more
	srv := testenv.StartNodeOPCUA(t, testenv.NodeOPCUAOptions{MaxMonitoredItems: limit})
	dataDir := t.TempDir()
	names := []string{"Temp", "Count", "Power"}
	var nodes []config.Node
	for _, n := range names {
		nodes = append(nodes, nodeID(1, "Line1.M01."+n, strings.ToLower(n)))
	}
	cfg := config.OPCUA{Endpoint: srv.URL, PublishingInterval: 50 * time.Millisecond, Nodes: nodes}
	a := startSource(t, cfg, dataDir)
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	setOne(t, srv, a.sink, "Temp", "temp", 1, t0, 20*time.Second)
	a.stop()
	b := startSource(t, cfg, dataDir)
	waitUntil(t, "a new session", 20*time.Second, b.stat.Subscribed.Load)
	for i, n := range names {
		setOne(t, srv, b.sink, n, strings.ToLower(n), float64(10+i), t0.Add(time.Duration(1+i)*time.Second), 10*time.Second)
	}
	if n := b.src.Rejected(); n != 0 {
		t.Errorf("%d nodes rejected after the restart, want 0", n)
	}
	if n := b.stat.Restores.Load(); n != 1 {
		t.Errorf("%d sessions resumed, want 1", n)
	}
}

// Sequence numbers wrap: node-opcua's after 4294966271 (as secure channels
// number their chunks), others after 4294967295, each to 1. Messages across
// the wrap arrive in order, and none is taken for lost.
func TestNodeOPCUASequenceNumbersWrap(t *testing.T) {
	srv := testenv.StartNodeOPCUA(t, testenv.NodeOPCUAOptions{FirstSequence: 4294966266})
	st := startSource(t, config.OPCUA{Endpoint: srv.URL, PublishingInterval: 50 * time.Millisecond,
		Nodes: []config.Node{nodeID(1, "Line1.M01.Temp", "temp")}}, t.TempDir())
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	setOne(t, srv, st.sink, "Temp", "temp", 1, t0, 20*time.Second)
	const last = 8
	for i := 2; i <= last; i++ {
		// A message each: a publishing interval apart.
		setOne(t, srv, st.sink, "Temp", "temp", float64(i), t0.Add(time.Duration(i)*time.Second), 10*time.Second)
	}
	checkOneToLast(t, st.sink, "temp", last)
	if n := st.stat.Unrecovered.Load(); n != 0 {
		t.Errorf("%d messages taken for lost, want 0", n)
	}
	if n := st.stat.Republished.Load(); n != 0 {
		t.Errorf("%d messages asked for again, want 0", n)
	}
	if n := st.stat.Connects.Load(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}
