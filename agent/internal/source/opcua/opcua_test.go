package opcua

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gopcua/opcua/server"
	"github.com/gopcua/opcua/ua"

	"github.com/floorpulse/floorpulse/agent/internal/buffer"
	"github.com/floorpulse/floorpulse/agent/internal/config"
	"github.com/floorpulse/floorpulse/agent/internal/forward"
	"github.com/floorpulse/floorpulse/agent/internal/metrics"
	"github.com/floorpulse/floorpulse/agent/internal/streamtest"
	"github.com/floorpulse/floorpulse/pkg/signal"
	"github.com/floorpulse/floorpulse/pkg/testenv"
)

// plc is a tiny OPC UA server whose variables hold DataValues set by the test.
type plc struct {
	srv *server.Server
	ns  *server.NodeNameSpace
	mu  sync.Mutex
	val map[string]*ua.DataValue
}

func startPLC(t *testing.T, port int, names ...string) *plc {
	t.Helper()
	if len(names) == 0 {
		names = []string{"plant1.L4.M01.run", "plant1.L4.M01.power", "plant1.L4.M01.count", "plant1.L4.M01.operator"}
	}
	p := &plc{val: map[string]*ua.DataValue{}}
	p.srv = server.New(
		server.EndPoint("127.0.0.1", port),
		server.EnableSecurity("None", ua.MessageSecurityModeNone),
		server.EnableAuthMode(ua.UserTokenTypeAnonymous),
	)
	p.ns = server.NewNodeNameSpace(p.srv, "urn:floorpulse:test-plc")
	for _, name := range names {
		p.val[name] = &ua.DataValue{EncodingMask: ua.DataValueStatusCode | ua.DataValueServerTimestamp,
			Status: ua.StatusBadWaitingForInitialData, ServerTimestamp: time.Now()}
		p.ns.AddNewVariableStringNode(name, func() *ua.DataValue {
			p.mu.Lock()
			defer p.mu.Unlock()
			return p.val[name]
		})
	}
	if err := p.srv.Start(context.Background()); err != nil {
		t.Fatalf("starting opc ua server: %v", err)
	}
	t.Cleanup(func() { p.srv.Close() })
	return p
}

func (p *plc) set(name string, dv *ua.DataValue) {
	p.mu.Lock()
	p.val[name] = dv
	p.mu.Unlock()
	p.ns.ChangeNotification(ua.NewStringNodeID(p.ns.ID(), name))
}

func value(v any, status ua.StatusCode, ts time.Time) *ua.DataValue {
	dv := &ua.DataValue{EncodingMask: ua.DataValueStatusCode | ua.DataValueSourceTimestamp, Status: status, SourceTimestamp: ts}
	if v != nil {
		dv.EncodingMask |= ua.DataValueValue
		dv.Value = ua.MustVariant(v)
	}
	return dv
}

func TestOPCUAToJetStream(t *testing.T) {
	port := testenv.FreePort(t)
	p := startPLC(t, port)
	t1 := time.Date(2026, 10, 1, 6, 0, 0, 123000000, time.UTC)
	p.set("plant1.L4.M01.run", value(true, ua.StatusOK, t1))
	p.set("plant1.L4.M01.power", value(12.5, ua.StatusCode(0x40920000), t1.Add(time.Second)))       // uncertain
	p.set("plant1.L4.M01.count", value(int32(7), ua.StatusCode(0x80340000), t1.Add(2*time.Second))) // bad, with a value
	p.set("plant1.L4.M01.operator", value(nil, ua.StatusBadNotConnected, t1.Add(3*time.Second)))    // bad, no value

	ns := testenv.StartNATS(t)
	streamtest.Create(t, ns.URL)
	log := testLog(t)
	q, err := buffer.Open(filepath.Join(t.TempDir(), "queue.db"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	m := &metrics.Registry{}
	ncfg := config.NATS{URL: ns.URL, SubjectPrefix: signal.SubjectPrefix, Batch: 100, AckTimeout: 2 * time.Second}
	nc, err := forward.Connect(ncfg, "test", m, log)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()

	nsIdx := p.ns.ID()
	cfg := config.OPCUA{
		Endpoint: fmt.Sprintf("opc.tcp://127.0.0.1:%d", port), SecurityPolicy: "None", SecurityMode: "None",
		PublishingInterval: 50 * time.Millisecond, QueueSize: 100,
	}
	for _, sig := range []string{"run", "power", "count", "operator"} {
		cfg.Nodes = append(cfg.Nodes, config.Node{NodeID: fmt.Sprintf("ns=%d;s=plant1.L4.M01.%s", nsIdx, sig), Line: "L4", Equipment: "M01", Signal: sig})
	}
	b := buffer.NewBatcher(q, 1000, 2*time.Millisecond, log)
	stat := m.Source("opcua", cfg.Endpoint)
	src := New(validated(t, cfg, t.TempDir()), "gw1", "plant1", b, stat, log)
	src.keepAlive = 300 * time.Millisecond
	src.minBackoff, src.maxBackoff = 100*time.Millisecond, time.Second
	fwd := forward.New(q, nc, ncfg, m, log)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, run := range []func(context.Context) error{b.Run, src.Run, fwd.Run} {
		wg.Add(1)
		go func() { defer wg.Done(); _ = run(ctx) }()
	}
	defer func() { cancel(); wg.Wait() }()

	streamtest.WaitCount(t, ns.URL, 4, 15*time.Second)
	if !stat.Connected.Load() || !stat.Subscribed.Load() {
		t.Fatalf("source not reported connected and subscribed")
	}
	p.set("plant1.L4.M01.run", value(false, ua.StatusOK, t1.Add(time.Minute)))
	// The values; the watermarks the subscription's messages also commit
	// are TestNodeOPCUAWatermarksWhileNothingChanges's.
	values := func() []streamtest.Msg {
		return slices.DeleteFunc(streamtest.Messages(t, ns.URL), func(m streamtest.Msg) bool { return m.Signal.Name == signal.SeenName })
	}
	for deadline := time.Now().Add(10 * time.Second); len(values()) < 5 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}

	type want struct {
		value   signal.Value
		at      time.Time
		status  uint32
		quality signal.Quality
	}
	wants := []want{
		{signal.Bool(true), t1, 0, signal.Good},
		{signal.Number(12.5), t1.Add(time.Second), 0x40920000, signal.Uncertain},
		{signal.Number(7), t1.Add(2 * time.Second), 0x80340000, signal.Bad},
		{signal.String(""), t1.Add(3 * time.Second), uint32(ua.StatusBadNotConnected), signal.Bad},
		{signal.Bool(false), t1.Add(time.Minute), 0, signal.Good},
	}
	msgs := values()
	if len(msgs) != len(wants) {
		t.Fatalf("stream holds %d messages, want %d", len(msgs), len(wants))
	}
	for _, w := range wants {
		found := false
		for _, msg := range msgs {
			s := msg.Signal
			if s.Value == w.value && s.Time.Equal(w.at) {
				found = true
				if s.Status != w.status || s.Quality != w.quality || s.Received || s.Site != "plant1" || s.Equipment != "M01" ||
					msg.Subject != "floorpulse.signals.plant1.L4.M01" || msg.ID != s.ID() {
					t.Errorf("signal %v: got %+v on %s", w.value, s, msg.Subject)
				}
			}
		}
		if !found {
			t.Errorf("no signal with value %v at %s in %+v", w.value, w.at, msgs)
		}
	}

	// The server goes away and comes back: the source reconnects and
	// re-creates its subscription without a restart.
	p.srv.Close()
	deadline := time.Now().Add(5 * time.Second)
	for stat.Connected.Load() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if stat.Connected.Load() {
		t.Fatal("source still reports connected after the server closed")
	}
	p2 := startPLC(t, port)
	p2.set("plant1.L4.M01.run", value(true, ua.StatusOK, t1.Add(2*time.Minute)))
	// Generous: on a loaded machine a connection attempt to the restarting
	// server can hang until its dial timeout before the next one succeeds.
	deadline = time.Now().Add(40 * time.Second)
	for !stat.Subscribed.Load() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if !stat.Subscribed.Load() {
		t.Fatal("no subscription 40s after the server came back")
	}
	streamtest.WaitCount(t, ns.URL, 6, 40*time.Second)
}

// gopcua's server does not support SetPublishingMode, with which a quiet
// subscription is checked: the source learns it once and then leaves the
// session alone, without a reconnect.
func TestSubscriptionCheckUnsupportedIsLearned(t *testing.T) {
	port, run := runningPLC(t)
	cfg := config.OPCUA{
		Endpoint: fmt.Sprintf("opc.tcp://127.0.0.1:%d", port), PublishingInterval: 50 * time.Millisecond,
		Nodes: []config.Node{run},
	}
	st := startSource(t, cfg, t.TempDir())
	waitUntil(t, "subscribed", 10*time.Second, st.stat.Subscribed.Load)
	// Quiet for 3 checks (0.9 s), checked, refused; then quiet for ten
	// more checks.
	waitUntil(t, "the check refused", 10*time.Second, st.src.srv.noSubCheck.Load)
	time.Sleep(10 * st.src.keepAlive)
	if n := st.stat.Connects.Load(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
	if !st.stat.Subscribed.Load() {
		t.Error("not subscribed")
	}
}

// A server without the HistoryRead service (gopcua's server library)
// answers backfill with a fault: the session goes on, and the source does
// not ask that server again.
func TestBackfillUnsupportedIsLearned(t *testing.T) {
	port, run := runningPLC(t)
	px := testenv.StartProxy(t, fmt.Sprintf("127.0.0.1:%d", port))
	cfg := config.OPCUA{
		Endpoint: px.URL("opc.tcp"), PublishingInterval: 50 * time.Millisecond, Backfill: time.Hour,
		Nodes: []config.Node{run},
	}
	// An outage longer than the session timeout: the session is not taken
	// over, and the next one backfills.
	st := startSourceWith(t, cfg, t.TempDir(), func(s *Source) { s.sessionTimeout = time.Second })
	st.src.srv.noSubCheck.Store(true) // that server lacks SetPublishingMode too
	st.sink.waitFor(t, "the first value", 10*time.Second, func(s []signal.Signal) bool { return len(s) > 0 })

	px.Cut()
	waitUntil(t, "the source to notice the cut", 10*time.Second, func() bool { return !st.stat.Connected.Load() })
	time.Sleep(2 * time.Second)
	px.Restore()
	waitUntil(t, "backfill refused", 10*time.Second, st.src.srv.noHistory.Load)
	waitUntil(t, "subscribed again", 10*time.Second, st.stat.Subscribed.Load)
	time.Sleep(10 * st.src.keepAlive)
	if n := st.stat.Connects.Load(); n != 2 {
		t.Errorf("%d connections, want 2: the first, and the one after the cut (whose backfill was refused)", n)
	}
	if !st.stat.Subscribed.Load() {
		t.Error("not subscribed")
	}
}

// runningPLC starts gopcua's server with one variable, plant1.L4.M01.run,
// set to true, and returns its port and the node that maps it.
func runningPLC(t *testing.T) (port int, run config.Node) {
	t.Helper()
	port = testenv.FreePort(t)
	p := startPLC(t, port, "plant1.L4.M01.run")
	p.set("plant1.L4.M01.run", value(true, ua.StatusOK, time.Date(2026, 10, 1, 6, 0, 0, 0, time.UTC)))
	return port, config.Node{NodeID: fmt.Sprintf("ns=%d;s=plant1.L4.M01.run", p.ns.ID()), Line: "L4", Equipment: "M01", Signal: "run"}
}
