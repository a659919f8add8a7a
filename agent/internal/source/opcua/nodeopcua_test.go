package opcua

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gopcua/opcua/ua"

	"github.com/floorpulse/floorpulse/agent/internal/config"
	loader "github.com/floorpulse/floorpulse/pkg/config"
	"github.com/floorpulse/floorpulse/pkg/signal"
	"github.com/floorpulse/floorpulse/pkg/testenv"
)

const m01 = "Objects/1:Line1/1:M01/1:"

// interopNodes are the node-opcua server's variables, by browse path and
// by node id, and one node id the server does not have.
func interopNodes() []config.Node {
	return []config.Node{
		nodeAt(m01+"Run", "run"),
		nodeAt(m01+"Power", "power"),
		nodeID(1, "Line1.M01.Count", "count"),
		nodeID(1, "Line1.M01.Temp", "temp"),
		nodeID(1, "Line1.M01.Vibration", "vibration"),
		nodeID(1, "Line1.M01.Alarm", "alarm"),
		nodeID(1, "Line1.M01.Missing", "missing"),
		nodeAt(m01+"Nowhere", "nowhere"),
	}
}

// checkInterop waits for the initial values, then sets new ones with
// every kind of status and checks status codes and source timestamps.
func checkInterop(t *testing.T, srv *testenv.NodeOPCUA, st *started) {
	t.Helper()
	k := st.sink
	k.waitFor(t, "initial values", 20*time.Second, func(s []signal.Signal) bool {
		for _, n := range []string{"run", "power", "count", "temp", "vibration", "alarm"} {
			if !has(s, n, func(signal.Signal) bool { return true }) {
				return false
			}
		}
		return true
	})
	for _, w := range []struct {
		name    string
		status  uint32
		quality signal.Quality
		value   signal.Value
	}{
		{"temp", uint32(ua.StatusUncertainLastUsableValue), signal.Uncertain, signal.Number(21.5)},
		{"vibration", uint32(ua.StatusBadSensorFailure), signal.Bad, signal.Number(0.7)},
		{"alarm", uint32(ua.StatusBadNotConnected), signal.Bad, signal.String("")},
		{"run", 0, signal.Good, signal.Bool(false)},
	} {
		got := k.find(w.name)[0]
		if got.Status != w.status || got.Quality != w.quality || got.Value != w.value || got.Received {
			t.Errorf("%s: got %+v, want status 0x%08X quality %s value %v", w.name, got, w.status, w.quality, w.value)
		}
	}
	if n := st.src.Rejected(); n != 2 {
		t.Errorf("rejected nodes: %d, want 2 (an unknown node id and an unresolvable browse path)", n)
	}

	t1 := time.Date(2026, 10, 1, 6, 0, 0, 123e6, time.UTC)
	srv.Set(testenv.Value{Node: "Line1.M01.Power", Value: 12.5, SourceTime: t1})
	srv.Set(testenv.Value{Node: "Line1.M01.Count", Value: 7, Status: "UncertainSensorNotAccurate", SourceTime: t1.Add(time.Second)})
	srv.Set(testenv.Value{Node: "Line1.M01.Run", Value: true, Status: "BadOutOfService", SourceTime: t1.Add(2 * time.Second)})
	srv.Set(testenv.Value{Node: "Line1.M01.Alarm", Value: "E42", SourceTime: t1.Add(3 * time.Second)})
	want := []signal.Signal{
		{Name: "power", Value: signal.Number(12.5), Time: t1, Quality: signal.Good},
		{Name: "count", Value: signal.Number(7), Time: t1.Add(time.Second), Quality: signal.Uncertain, Status: uint32(ua.StatusUncertainSensorNotAccurate)},
		{Name: "run", Value: signal.Bool(true), Time: t1.Add(2 * time.Second), Quality: signal.Bad, Status: uint32(ua.StatusBadOutOfService)},
		{Name: "alarm", Value: signal.String("E42"), Time: t1.Add(3 * time.Second), Quality: signal.Good},
	}
	k.waitFor(t, "the values set", 10*time.Second, func(s []signal.Signal) bool {
		for _, w := range want {
			if !has(s, w.Name, func(g signal.Signal) bool { return g.Time.Equal(w.Time) }) {
				return false
			}
		}
		return true
	})
	for _, w := range want {
		for _, g := range k.find(w.Name) {
			if g.Time.Equal(w.Time) && (g.Value != w.Value || g.Status != w.Status || g.Quality != w.Quality || g.Received ||
				g.Site != "plant1" || g.Line != "L1" || g.Equipment != "M01" || g.Agent != "gw1") {
				t.Errorf("%s: got %+v, want %+v", w.Name, g, w)
			}
			if g.Time.Equal(w.Time) && g.ServerTime.IsZero() {
				t.Errorf("%s: the server timestamp is lost", w.Name)
			}
		}
	}
}

func TestNodeOPCUASubscribeKeepsStatusAndTimestamps(t *testing.T) {
	srv := testenv.StartNodeOPCUA(t, testenv.NodeOPCUAOptions{})
	st := startSource(t, config.OPCUA{Endpoint: srv.URL, PublishingInterval: 50 * time.Millisecond, Nodes: interopNodes()}, t.TempDir())
	checkInterop(t, srv, st)
}

func TestNodeOPCUAPollKeepsStatusAndTimestamps(t *testing.T) {
	srv := testenv.StartNodeOPCUA(t, testenv.NodeOPCUAOptions{})
	st := startSource(t, config.OPCUA{Endpoint: srv.URL, Mode: config.ModePoll, PollInterval: 50 * time.Millisecond, Nodes: interopNodes()}, t.TempDir())
	checkInterop(t, srv, st)
	// Unchanged values are not committed again, however often they are read.
	n := len(st.sink.all())
	time.Sleep(10 * 50 * time.Millisecond) // ten polls
	if m := len(st.sink.all()); m != n {
		t.Errorf("unchanged values committed again: %d signals, then %d", n, m)
	}
}

// The server allows 3 monitored items per call: the source reads that
// limit and splits its 7 items (node-opcua refuses larger requests with
// BadTooManyOperations).
func TestNodeOPCUAMonitoredItemsWithinServerLimit(t *testing.T) {
	srv := testenv.StartNodeOPCUA(t, testenv.NodeOPCUAOptions{MaxItemsPerCall: 3})
	nodes := interopNodes()
	nodes = append(nodes[:6:6], nodeID(1, "Line1.M01.Operator", "operator"))
	st := startSource(t, config.OPCUA{Endpoint: srv.URL, PublishingInterval: 50 * time.Millisecond, Nodes: nodes}, t.TempDir())
	st.sink.waitFor(t, "all 7 initial values", 20*time.Second, func(s []signal.Signal) bool {
		for _, n := range nodes {
			if !has(s, n.Signal, func(signal.Signal) bool { return true }) {
				return false
			}
		}
		return true
	})
	if n := st.src.Rejected(); n != 0 {
		t.Errorf("rejected %d nodes", n)
	}
}

// The server allows 3 monitored items per call, or 3 nodes per Read, but
// states no limit: the source's first request of 7 is refused
// (BadTooManyOperations), and it sends them again half as many per call
// (half again, if need be), in the same session.
func TestNodeOPCUAPerCallLimitLearned(t *testing.T) {
	for _, tc := range []struct {
		name string
		mode string
		opts testenv.NodeOPCUAOptions
	}{
		{"monitored items", config.ModeSubscribe, testenv.NodeOPCUAOptions{MaxItemsPerCall: 3, HideLimits: true}},
		{"nodes per read", config.ModePoll, testenv.NodeOPCUAOptions{MaxNodesPerRead: 3, HideLimits: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := testenv.StartNodeOPCUA(t, tc.opts)
			nodes := interopNodes()
			nodes = append(nodes[:6:6], nodeID(1, "Line1.M01.Operator", "operator"))
			st := startSource(t, config.OPCUA{Endpoint: srv.URL, Mode: tc.mode, PublishingInterval: 50 * time.Millisecond,
				PollInterval: 50 * time.Millisecond, Nodes: nodes}, t.TempDir())
			st.sink.waitFor(t, "all 7 initial values", 20*time.Second, func(s []signal.Signal) bool {
				for _, n := range nodes {
					if !has(s, n.Signal, func(signal.Signal) bool { return true }) {
						return false
					}
				}
				return true
			})
			if n := st.stat.Connects.Load(); n != 1 {
				t.Errorf("%d connections, want 1: 7 refused, then 3 per call in the same session", n)
			}
			if n := st.src.srv.learned.monitor.Load() + st.src.srv.learned.read.Load(); n != 3 {
				t.Errorf("learned %d per call, want 3", n)
			}
		})
	}
}

func TestNodeOPCUADeadband(t *testing.T) {
	for _, tc := range []struct {
		name string
		mode string
		db   config.Deadband
	}{
		{"absolute", config.ModeSubscribe, config.Deadband{Type: config.DeadbandAbsolute, Value: 5}},
		{"percent", config.ModeSubscribe, config.Deadband{Type: config.DeadbandPercent, Value: 5}}, // of EURange 0..100
		{"absolute, polled", config.ModePoll, config.Deadband{Type: config.DeadbandAbsolute, Value: 5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := testenv.StartNodeOPCUA(t, testenv.NodeOPCUAOptions{})
			db := tc.db
			n := nodeAt(m01+"Power", "power")
			n.Deadband = &db
			st := startSource(t, config.OPCUA{Endpoint: srv.URL, Mode: tc.mode, PublishingInterval: 20 * time.Millisecond, PollInterval: 20 * time.Millisecond,
				Nodes: []config.Node{n}}, t.TempDir())
			st.sink.waitFor(t, "the initial value", 20*time.Second, func(s []signal.Signal) bool { return len(s) == 1 })
			t0 := time.Date(2026, 10, 1, 6, 0, 0, 0, time.UTC)
			for i, v := range []float64{2, 4, 10, 12, 20} { // 2, 4 and 12 are within 5 of the last reported
				srv.Set(testenv.Value{Node: "Line1.M01.Power", Value: v, SourceTime: t0.Add(time.Duration(i) * time.Second)})
				time.Sleep(80 * time.Millisecond) // let each value be sampled (or read) on its own
			}
			st.sink.waitFor(t, "20", 10*time.Second, func(s []signal.Signal) bool {
				return has(s, "power", func(g signal.Signal) bool { return g.Value == signal.Number(20) })
			})
			var got []float64
			for _, g := range st.sink.find("power") {
				got = append(got, g.Value.Num)
			}
			if !slices.Equal(got, []float64{0, 10, 20}) {
				t.Errorf("reported %v, want [0 10 20]", got)
			}
		})
	}
}

func TestNodeOPCUAUserPassword(t *testing.T) {
	srv := testenv.StartNodeOPCUA(t, testenv.NodeOPCUAOptions{})
	thumb := Thumbprint(srv.Certificate())
	nodes := []config.Node{nodeAt(m01+"Run", "run")}

	t.Run("right password", func(t *testing.T) {
		st := startSource(t, config.OPCUA{Endpoint: srv.URL, Username: "operator", Password: loader.NewSecret("op-secret"), ServerThumbprint: thumb, Nodes: nodes}, t.TempDir())
		st.sink.waitFor(t, "a value", 20*time.Second, func(s []signal.Signal) bool { return len(s) > 0 })
	})
	t.Run("wrong password", func(t *testing.T) {
		cfg := validated(t, config.OPCUA{Endpoint: srv.URL, Username: "operator", Password: loader.NewSecret("nope"), ServerThumbprint: thumb, Nodes: nodes}, t.TempDir())
		src := newSource(t, cfg)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		healthy, err := src.runSession(ctx, nil)
		if healthy || err == nil || !strings.Contains(err.Error(), `the server refused the login of user "operator"`) || !errors.Is(err, ua.StatusBadUserAccessDenied) {
			t.Fatalf("session: healthy %v, err %v; want a refused login", healthy, err)
		}
	})
	t.Run("wrong password, retried with back-off", func(t *testing.T) {
		if testing.Short() {
			t.Skip("measures retries over 3s")
		}
		before := srv.Sessions()
		st := startSource(t, config.OPCUA{Endpoint: srv.URL, Username: "operator", Password: loader.NewSecret("nope"), ServerThumbprint: thumb, Nodes: nodes}, t.TempDir())
		window := time.Now().Add(3 * time.Second)
		for time.Now().Before(window) {
			if st.stat.Connected.Load() {
				t.Fatal("connected with a wrong password")
			}
			time.Sleep(20 * time.Millisecond)
		}
		// Back-off 100ms doubling to 800ms, with jitter: about 6 sessions in 3s.
		if n := srv.Sessions() - before; n < 2 || n > 12 {
			t.Errorf("%d sessions created in 3s with a refused login, want 2..12", n)
		}
		if len(st.sink.all()) != 0 {
			t.Errorf("values read with a refused login: %v", st.sink.all())
		}
	})
	t.Run("untrusted server", func(t *testing.T) {
		dataDir := t.TempDir()
		cfg := validated(t, config.OPCUA{Endpoint: srv.URL, Username: "operator", Password: loader.NewSecret("op-secret"), TrustDir: t.TempDir(), Nodes: nodes}, dataDir)
		src := newSource(t, cfg)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		before := srv.Sessions()
		_, err := src.runSession(ctx, nil)
		if !errors.Is(err, ErrUntrusted) || !strings.Contains(err.Error(), "server_thumbprint: "+thumb) {
			t.Fatalf("session: %v; want it refused, naming thumbprint %s", err, thumb)
		}
		if srv.Sessions() != before {
			t.Errorf("a session was created with an untrusted server")
		}
		if _, err := os.Stat(filepath.Join(dataDir, "opcua", "rejected", thumb+".der")); err != nil {
			t.Errorf("refused certificate not saved: %v", err)
		}
	})
}

// The session is the one security asked for or none: with every policy
// gopcua and node-opcua share, the server certificate trusted by trust_dir
// and the client certificate (generated into data_dir) trusted by the server.
func TestNodeOPCUASecurity(t *testing.T) {
	dataDir := t.TempDir()
	base := validated(t, config.OPCUA{Endpoint: "opc.tcp://127.0.0.1:1", SecurityPolicy: "Basic256Sha256", ServerThumbprint: strings.Repeat("0", 40),
		Nodes: []config.Node{nodeAt(m01+"Run", "run")}}, dataDir)
	id, err := LoadIdentity(base)
	if err != nil {
		t.Fatal(err)
	}
	again, err := LoadIdentity(base)
	if err != nil || string(again.Cert) != string(id.Cert) {
		t.Fatalf("the generated client certificate is not kept: %v", err)
	}
	clientCert := filepath.Join(t.TempDir(), "agent.der")
	if err := os.WriteFile(clientCert, id.Cert, 0o644); err != nil {
		t.Fatal(err)
	}
	srv := testenv.StartNodeOPCUA(t, testenv.NodeOPCUAOptions{Trust: []string{clientCert}})
	trust := t.TempDir()
	if err := os.WriteFile(filepath.Join(trust, "server.der"), srv.Certificate(), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ policy, mode, user string }{
		{"Basic256Sha256", "SignAndEncrypt", ""},
		{"Basic256Sha256", "Sign", "operator"},
		{"Aes128_Sha256_RsaOaep", "SignAndEncrypt", ""},
		{"Aes256_Sha256_RsaPss", "SignAndEncrypt", "viewer"},
	} {
		t.Run(tc.policy+"/"+tc.mode+"/"+tc.user, func(t *testing.T) {
			cfg := config.OPCUA{Endpoint: srv.URL, SecurityPolicy: tc.policy, SecurityMode: tc.mode, TrustDir: trust,
				Nodes: []config.Node{nodeAt(m01+"Run", "run"), nodeID(1, "Line1.M01.Temp", "temp")}}
			if tc.user != "" {
				cfg.Username, cfg.Password = tc.user, loader.NewSecret(map[string]string{"operator": "op-secret", "viewer": "view-secret"}[tc.user])
			}
			st := startSource(t, cfg, dataDir)
			st.sink.waitFor(t, "values", 20*time.Second, func(s []signal.Signal) bool {
				return has(s, "run", func(signal.Signal) bool { return true }) &&
					has(s, "temp", func(g signal.Signal) bool { return g.Status == uint32(ua.StatusUncertainLastUsableValue) })
			})
		})
	}
	// A secured session with a login is taken over by a new connection
	// too: the new secure channel signs the activation with the same
	// certificate, and the password goes again, encrypted for the nonce.
	t.Run("session taken over", func(t *testing.T) {
		px := testenv.StartProxy(t, fmt.Sprintf("127.0.0.1:%d", srv.Port))
		st := startSource(t, config.OPCUA{Endpoint: px.URL("opc.tcp"), SecurityPolicy: "Basic256Sha256", SecurityMode: "SignAndEncrypt", TrustDir: trust,
			Username: "operator", Password: loader.NewSecret("op-secret"), PublishingInterval: 50 * time.Millisecond,
			Nodes: []config.Node{nodeID(1, "Line1.M01.Temp", "temp")}}, dataDir)
		st.sink.waitFor(t, "the first value", 20*time.Second, func(s []signal.Signal) bool { return len(s) > 0 })
		sessions := srv.Sessions()
		px.Cut()
		waitUntil(t, "the source to notice the cut", 10*time.Second, func() bool { return !st.stat.Connected.Load() })
		at := time.Now().UTC().Truncate(time.Millisecond)
		srv.Set(testenv.Value{Node: "Line1.M01.Temp", Value: 31.5, SourceTime: at})
		time.Sleep(500 * time.Millisecond)
		px.Restore()
		st.sink.waitFor(t, "the value set during the cut", 20*time.Second, func(s []signal.Signal) bool {
			return has(s, "temp", func(g signal.Signal) bool { return g.Value == signal.Number(31.5) && g.Time.Equal(at) })
		})
		if n := st.stat.Restores.Load(); n != 1 {
			t.Errorf("%d sessions taken over, want 1", n)
		}
		if n := srv.Sessions(); n != sessions {
			t.Errorf("%d sessions created during the cut, want none", n-sessions)
		}
	})
	t.Run("client not trusted by the server", func(t *testing.T) {
		cfg := validated(t, config.OPCUA{Endpoint: srv.URL, SecurityPolicy: "Basic256Sha256", TrustDir: trust,
			Nodes: []config.Node{nodeAt(m01+"Run", "run")}}, t.TempDir()) // a new data_dir: a new, unknown client certificate
		src := newSource(t, cfg)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if healthy, err := src.runSession(ctx, nil); healthy || err == nil {
			t.Fatalf("session with an untrusted client certificate: healthy %v, err %v", healthy, err)
		} else {
			t.Logf("refused as expected: %v", err)
		}
	})
}

// A server that stops answering without closing the connection is noticed
// by the watchdog; a server that restarts gets one new session once it is
// back, and few connection attempts while it is down.
func TestNodeOPCUAWatchdogAndRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("measures reconnects over several seconds")
	}
	srv := testenv.StartNodeOPCUA(t, testenv.NodeOPCUAOptions{})
	st := startSource(t, config.OPCUA{Endpoint: srv.URL, PublishingInterval: 50 * time.Millisecond, Nodes: []config.Node{nodeAt(m01+"Run", "run")}}, t.TempDir())
	waitUntil(t, "subscribed", 20*time.Second, st.stat.Subscribed.Load)

	// Frozen: the TCP connection stays open, nothing answers.
	pid := srv.Cmd.Process.Pid
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the watchdog to drop the frozen session", 10*time.Second, func() bool { return !st.stat.Connected.Load() })
	_ = syscall.Kill(pid, syscall.SIGCONT)
	waitUntil(t, "subscribed again", 20*time.Second, st.stat.Subscribed.Load)

	// Down: a listener that accepts and hangs up counts the attempts.
	srv.Kill()
	waitUntil(t, "disconnected", 10*time.Second, func() bool { return !st.stat.Connected.Load() })
	attempts := testenv.CountConnections(t, srv.Port, 3*time.Second)
	t.Logf("%d connection attempts in 3s while the server was down", attempts)
	// Back-off 100ms doubling to 800ms, with jitter: about 6 attempts in 3s.
	if attempts < 2 || attempts > 12 {
		t.Errorf("%d connection attempts in 3s against a server that is down, want 2..12", attempts)
	}
	srv.Restart()
	t1 := time.Date(2026, 10, 2, 0, 0, 0, 0, time.UTC)
	waitUntil(t, "subscribed after the restart", 20*time.Second, st.stat.Subscribed.Load)
	srv.Set(testenv.Value{Node: "Line1.M01.Run", Value: true, SourceTime: t1})
	st.sink.waitFor(t, "a value after the restart", 10*time.Second, func(s []signal.Signal) bool {
		return has(s, "run", func(g signal.Signal) bool { return g.Time.Equal(t1) })
	})
	if n := srv.Sessions(); n != 1 {
		t.Errorf("%d sessions created after the restart, want 1", n)
	}
}

// A subscription the server deletes while the session stays (gopcua then
// stops publishing and says nothing) is noticed by the subscription
// watchdog: the source rebuilds the session and values flow again.
func TestNodeOPCUASubscriptionDroppedByServer(t *testing.T) {
	srv := testenv.StartNodeOPCUA(t, testenv.NodeOPCUAOptions{})
	st := startSource(t, config.OPCUA{Endpoint: srv.URL, PublishingInterval: 50 * time.Millisecond, Nodes: []config.Node{nodeAt(m01+"Run", "run")}}, t.TempDir())
	waitUntil(t, "subscribed", 20*time.Second, st.stat.Subscribed.Load)
	t1 := time.Date(2026, 10, 3, 0, 0, 0, 0, time.UTC)
	srv.Set(testenv.Value{Node: "Line1.M01.Run", Value: true, SourceTime: t1})
	st.sink.waitFor(t, "a value before the drop", 10*time.Second, func(s []signal.Signal) bool {
		return has(s, "run", func(g signal.Signal) bool { return g.Time.Equal(t1) })
	})

	srv.DropSubscriptions()
	t2 := t1.Add(time.Minute)
	srv.Set(testenv.Value{Node: "Line1.M01.Run", Value: false, SourceTime: t2})
	st.sink.waitFor(t, "the value set after the subscription was dropped", 20*time.Second, func(s []signal.Signal) bool {
		return has(s, "run", func(g signal.Signal) bool { return g.Time.Equal(t2) })
	})
	if n := st.stat.Connects.Load(); n != 2 {
		t.Errorf("%d connections, want 2: the first and one after the subscription was dropped", n)
	}
}

// A server whose publishing hangs (it takes publish requests and answers
// none, while reads and the subscription stay) sends nothing and says
// nothing: pings pass and the server still has the subscription. The
// subscription's clock item stops ticking too, so the source notices the
// silence and rebuilds the session, again while the hang lasts, and the
// value set meanwhile arrives once the server publishes again.
func TestNodeOPCUASilentSubscriptionIsRebuilt(t *testing.T) {
	srv := testenv.StartNodeOPCUA(t, testenv.NodeOPCUAOptions{})
	st := startSource(t, config.OPCUA{Endpoint: srv.URL, PublishingInterval: 50 * time.Millisecond, Nodes: []config.Node{nodeAt(m01+"Run", "run")}}, t.TempDir())
	waitUntil(t, "the server's clock ticking in the subscription", 20*time.Second, st.src.srv.clockTicks.Load)

	srv.StallPublishing(true)
	// The publish request the server held when the hang began may still
	// carry a value: set it once the first silent session has ended.
	waitUntil(t, "the silent session rebuilt", 20*time.Second, func() bool { return st.stat.Connects.Load() >= 2 })
	t1 := time.Date(2026, 10, 4, 0, 0, 0, 0, time.UTC)
	srv.Set(testenv.Value{Node: "Line1.M01.Run", Value: true, SourceTime: t1})
	waitUntil(t, "the next silent session rebuilt", 20*time.Second, func() bool { return st.stat.Connects.Load() >= 3 })
	arrived := func(s []signal.Signal) bool {
		return has(s, "run", func(g signal.Signal) bool { return g.Time.Equal(t1) })
	}
	if arrived(st.sink.all()) {
		t.Fatal("the value arrived while publishing hung: the server did not stall")
	}
	srv.StallPublishing(false)
	st.sink.waitFor(t, "the value set while publishing hung", 30*time.Second, arrived)
}

// The server's clock offset is measured at each session check and
// reported, whatever the mode: a server 90 s behind, and one in step.
func TestNodeOPCUAClockOffset(t *testing.T) {
	behind := testenv.StartNodeOPCUA(t, testenv.NodeOPCUAOptions{ClockOffset: -90})
	inStep := testenv.StartNodeOPCUA(t, testenv.NodeOPCUAOptions{})
	for _, tc := range []struct {
		srv  *testenv.NodeOPCUA
		mode string
		want time.Duration
	}{{behind, config.ModeSubscribe, -90 * time.Second}, {inStep, config.ModePoll, 0}} {
		cfg := config.OPCUA{Endpoint: tc.srv.URL, Mode: tc.mode, PublishingInterval: 50 * time.Millisecond, PollInterval: 100 * time.Millisecond,
			Nodes: []config.Node{nodeAt(m01+"Run", "run")}}
		st := startSource(t, cfg, t.TempDir())
		waitUntil(t, "a clock offset", 20*time.Second, st.stat.ClockKnown.Load)
		off := time.Duration(st.stat.ClockOffset.Load())
		t.Logf("%s, %s: clock offset %v", tc.srv.URL, tc.mode, off)
		if d := off - tc.want; d < -time.Second || d > time.Second {
			t.Errorf("%s: clock offset %v, want %v within 1 s", tc.mode, off, tc.want)
		}
		st.stop()
	}
}

func TestClockOffset(t *testing.T) {
	sent := time.Date(2026, 11, 1, 6, 0, 0, 0, time.UTC)
	received := sent.Add(40 * time.Millisecond)
	for _, tc := range []struct {
		server time.Time
		want   time.Duration
	}{
		{sent.Add(20 * time.Millisecond), 0},
		{sent.Add(-90 * time.Second), -90*time.Second - 20*time.Millisecond},
		{received.Add(time.Minute), time.Minute + 20*time.Millisecond},
	} {
		if got := clockOffset(tc.server, sent, received); got != tc.want {
			t.Errorf("server %v: offset %v, want %v", tc.server, got, tc.want)
		}
	}
}

// With backfill, what the server's variables took while the network was
// cut is read from its history after the reconnect: every value, each
// once, with its source timestamp, more than one HistoryRead returns (so
// through continuation points); a variable without history is logged and
// not asked again, and the others go on. Without backfill only the last
// value of the outage would arrive (the new subscription's first, or the
// first poll's). In both modes.
func TestNodeOPCUABackfillsWhatChangedWhileDisconnected(t *testing.T) {
	for _, mode := range []string{config.ModeSubscribe, config.ModePoll} {
		t.Run(mode, func(t *testing.T) { testBackfill(t, mode) })
	}
}

func testBackfill(t *testing.T, mode string) {
	srv := testenv.StartNodeOPCUA(t, testenv.NodeOPCUAOptions{})
	px := testenv.StartProxy(t, fmt.Sprintf("127.0.0.1:%d", srv.Port))
	nodes := []config.Node{nodeID(1, "Line1.M01.Count", "count"), nodeAt(m01+"Run", "run"), nodeID(1, "Line1.M01.Temp", "temp")}
	// An outage longer than the session timeout: the session is not taken
	// over, and the next one backfills.
	st := startSourceWith(t, config.OPCUA{Endpoint: px.URL("opc.tcp"), Mode: mode, PublishingInterval: 50 * time.Millisecond,
		PollInterval: 50 * time.Millisecond, Backfill: time.Hour, Nodes: nodes}, t.TempDir(), func(s *Source) { s.sessionTimeout = time.Second })
	k := st.sink
	k.waitFor(t, "initial values", 20*time.Second, func(s []signal.Signal) bool {
		return has(s, "count", func(signal.Signal) bool { return true }) && has(s, "run", func(signal.Signal) bool { return true })
	})
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	setOne(t, srv, k, "Count", "count", 1, t0, 10*time.Second)

	px.Cut()
	waitUntil(t, "the source to notice the cut", 10*time.Second, func() bool { return !st.stat.Connected.Load() })
	const last = 2 + historyValuesPerRead + 100
	at := func(i int) time.Time { return t0.Add(time.Second + time.Duration(i)*10*time.Millisecond) }
	for i := 2; i <= last; i++ {
		srv.Set(testenv.Value{Node: "Line1.M01.Count", Value: i, SourceTime: at(i)})
	}
	srv.Set(testenv.Value{Node: "Line1.M01.Run", Value: true, SourceTime: t0.Add(3 * time.Second)})
	srv.Set(testenv.Value{Node: "Line1.M01.Temp", Value: 22.5, SourceTime: t0.Add(3 * time.Second)})
	time.Sleep(2 * time.Second)
	px.Restore()

	k.waitFor(t, "every count of the outage", 20*time.Second, func(s []signal.Signal) bool {
		counts := map[signal.Value]bool{}
		for _, g := range s {
			if g.Name == "count" {
				counts[g.Value] = true
			}
		}
		for i := 2; i <= last; i++ {
			if !counts[signal.Number(float64(i))] {
				return false
			}
		}
		return has(s, "run", func(g signal.Signal) bool { return g.Value == signal.Bool(true) })
	})
	got := map[signal.Value][]signal.Signal{}
	for _, g := range k.find("count") {
		got[g.Value] = append(got[g.Value], g)
	}
	for i := 1; i <= last; i++ {
		want := t0
		if i > 1 {
			want = at(i)
		}
		gs := got[signal.Number(float64(i))]
		for _, g := range gs {
			if !g.Time.Equal(want) {
				t.Errorf("count %d at %s, want its source time %s", i, g.Time, want)
			}
		}
		// The last also comes as the new subscription's first value (or the
		// first poll's): the same signal (same id) twice, dropped downstream
		// as a duplicate.
		if (i < last && len(gs) != 1) || (i == last && len(gs) > 2) {
			t.Errorf("count %d committed %d times", i, len(gs))
		}
	}
	// Every count of the outage and run true: nothing before the last
	// committed value read back.
	if n, want := st.stat.Backfilled.Load(), uint64(last-1+1); n != want {
		t.Errorf("backfilled %d values, want %d", n, want)
	}
	if !st.src.srv.historyless[2] || st.src.srv.historyless[0] {
		t.Errorf("nodes without history: %v, want temp's only", st.src.srv.historyless)
	}
	if n := st.stat.Connects.Load(); n != 2 {
		t.Errorf("%d connections, want 2", n)
	}
	if n := st.stat.Restores.Load(); n != 0 {
		t.Errorf("%d sessions taken over, want 0", n)
	}
}

// The last committed source time of each node is committed with its value,
// so a restarted agent backfills what changed while it was down, even when
// it was killed right after the commit: values set while no source runs
// arrive from the next one's first session, and nothing committed before is
// read back.
func TestNodeOPCUABackfillsAfterRestart(t *testing.T) {
	srv := testenv.StartNodeOPCUA(t, testenv.NodeOPCUAOptions{})
	dataDir := t.TempDir()
	cfg := config.OPCUA{Endpoint: srv.URL, PublishingInterval: 50 * time.Millisecond, Backfill: time.Hour,
		Nodes: []config.Node{nodeID(1, "Line1.M01.Count", "count"), nodeAt(m01+"Run", "run")}}
	a := startSource(t, cfg, dataDir)
	a.sink.waitFor(t, "initial values", 20*time.Second, func(s []signal.Signal) bool {
		return has(s, "count", func(signal.Signal) bool { return true }) && has(s, "run", func(signal.Signal) bool { return true })
	})
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	srv.Set(testenv.Value{Node: "Line1.M01.Count", Value: 1, SourceTime: t0})
	a.sink.waitFor(t, "count 1", 10*time.Second, func(s []signal.Signal) bool {
		return has(s, "count", func(g signal.Signal) bool { return g.Value == signal.Number(1) })
	})
	// What a SIGKILL right after the commit leaves: the queue as committed.
	queue := a.sink.restarted()
	a.stop()
	// The session the stopped source left has expired (else the next
	// source resumes it, TestNodeOPCUARestartResumesTheSession).
	if err := os.Remove(sessionPath(a.src.cfg)); err != nil {
		t.Fatal(err)
	}

	srv.Set(testenv.Value{Node: "Line1.M01.Count", Value: 2, SourceTime: t0.Add(2 * time.Second)})
	srv.Set(testenv.Value{Node: "Line1.M01.Count", Value: 3, SourceTime: t0.Add(3 * time.Second)})
	b := startSourceOn(t, cfg, dataDir, queue, nil)
	b.sink.waitFor(t, "the counts set while no source ran", 20*time.Second, func(s []signal.Signal) bool {
		return has(s, "count", func(g signal.Signal) bool { return g.Value == signal.Number(2) && g.Time.Equal(t0.Add(2*time.Second)) }) &&
			has(s, "count", func(g signal.Signal) bool { return g.Value == signal.Number(3) && g.Time.Equal(t0.Add(3*time.Second)) })
	})
	if n := b.stat.Backfilled.Load(); n != 2 {
		t.Errorf("backfilled %d values, want 2 (count 2 and 3)", n)
	}
	if has(b.sink.all(), "count", func(g signal.Signal) bool { return g.Value == signal.Number(1) }) {
		t.Error("count 1, committed before the restart, was read back")
	}
}

// A subscription whose values do not change still proves, with every
// message the server publishes, that its equipment is observed: the source
// commits a watermark per equipment at most every keep-alive, after the
// values it covers, at the publish time less the equipment's sampling
// interval, rising; an equipment whose nodes the server refused gets none.
func TestNodeOPCUAWatermarksWhileNothingChanges(t *testing.T) {
	t.Run("subscribe", func(t *testing.T) { testWatermarks(t, config.ModeSubscribe) })
	// Polling: each poll's answer says every node read is known up to its
	// time.
	t.Run("poll", func(t *testing.T) { testWatermarks(t, config.ModePoll) })
}

func testWatermarks(t *testing.T, mode string) {
	srv := testenv.StartNodeOPCUA(t, testenv.NodeOPCUAOptions{})
	missing := config.Node{NodeID: "ns=1;s=No.Such.Node", Line: "L1", Equipment: "M09", Signal: "run"}
	st := startSource(t, config.OPCUA{Endpoint: srv.URL, Mode: mode, PublishingInterval: 50 * time.Millisecond, PollInterval: 200 * time.Millisecond,
		Nodes: []config.Node{nodeID(1, "Line1.M01.Count", "count"), nodeAt(m01+"Run", "run"), missing}}, t.TempDir())
	st.sink.waitFor(t, "initial values", 20*time.Second, func(s []signal.Signal) bool {
		return has(s, "count", func(signal.Signal) bool { return true }) && has(s, "run", func(signal.Signal) bool { return true })
	})
	start := time.Now()
	deadline := time.Now().Add(20 * time.Second)
	for len(st.sink.watermarks()) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("%d watermarks after 20 s, want 2", len(st.sink.watermarks()))
		}
		time.Sleep(20 * time.Millisecond)
	}
	var last time.Time
	for _, g := range st.sink.watermarks() {
		if g.Equipment != "M01" || g.Value != signal.Bool(true) || g.Agent != "gw1" {
			t.Errorf("watermark %+v, want one of M01 from gw1", g)
		}
		if !g.Time.After(last) || g.Time.After(time.Now()) {
			t.Errorf("watermark at %s after one at %s (now %s): want rising, not ahead", g.Time, last, time.Now())
		}
		last = g.Time
	}
	if d := time.Since(start); d < watermarkEvery {
		t.Errorf("two watermarks within %s: want at most one per %s", d, watermarkEvery)
	}
	if n, m := st.stat.Watermarks.Load(), len(st.sink.watermarks()); n != uint64(m) {
		t.Errorf("watermarks counted %d, committed %d", n, m)
	}
}
