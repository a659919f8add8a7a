package app

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/floorpulse/floorpulse/agent/internal/streamtest"
	"github.com/floorpulse/floorpulse/pkg/sparkplug"
	"github.com/floorpulse/floorpulse/pkg/testenv"
)

// TestSparkplugPrimaryHostWill runs the agent as the Sparkplug primary host
// "floorpulse" against mosquitto: its STATE is retained online while it
// runs, offline when it is killed with SIGKILL (the broker publishes the
// will, stamped with the time of the connect the online STATE also
// carries), online again with a later timestamp when it restarts, and
// offline when it is stopped politely (published before the disconnect,
// which discards the will).
func TestSparkplugPrimaryHostWill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the agent binary")
	}
	t.Parallel()
	dir := t.TempDir()
	bin := filepath.Join(dir, "agent")
	buildAgent(t, bin)
	mosq := testenv.StartMosquitto(t)
	ns := testenv.StartNATS(t)
	streamtest.Create(t, ns.URL)
	httpAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	cfgPath := filepath.Join(dir, "agent.yaml")
	cfg := agentHeader(filepath.Join(dir, "data"), httpAddr, ns.URL) + fmt.Sprintf(`mqtt:
  - broker: %s
    client_id: floorpulse-agent-host
    qos: 1
    max_reconnect_interval: 500ms
    sparkplug: {primary_host_id: floorpulse}
    subscriptions:
      - topic: spBv1.0/plant1/#
        format: sparkplug_b
        template: spBv1.0/{site}/+/{line}/{equipment}
        equipment: gateway
`, mosq.URL)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	start := func() *testenv.Process { return startAgent(t, bin, cfgPath, httpAddr) }

	// An edge node's view: every STATE message of the host, in order.
	var mu sync.Mutex
	var states []sparkplug.State
	watch := func(_ paho.Client, m paho.Message) {
		st, err := sparkplug.ParseState(m.Payload())
		if err != nil {
			t.Errorf("STATE payload %q: %v", m.Payload(), err)
			return
		}
		mu.Lock()
		states = append(states, st)
		mu.Unlock()
	}
	node := publisher(t, mosq.URL, "edge-node")
	if tok := node.Subscribe(sparkplug.StateTopic("floorpulse"), 1, watch); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribing: %v", tok.Error())
	}
	next := func(what string, n int, check func(sparkplug.State) bool) sparkplug.State {
		t.Helper()
		var st sparkplug.State
		waitFor(t, what, 15*time.Second, func() bool {
			mu.Lock()
			defer mu.Unlock()
			if len(states) < n {
				return false
			}
			st = states[n-1]
			return true
		})
		if !check(st) {
			t.Fatalf("%s: got %+v", what, st)
		}
		return st
	}
	// retained reads the retained STATE as a node connecting now does.
	retained := func() sparkplug.State {
		t.Helper()
		c := publisher(t, mosq.URL, fmt.Sprintf("late-node-%d", time.Now().UnixNano()))
		got := make(chan []byte, 1)
		c.Subscribe(sparkplug.StateTopic("floorpulse"), 1, func(_ paho.Client, m paho.Message) {
			select {
			case got <- m.Payload():
			default:
			}
		})
		defer c.Disconnect(50)
		select {
		case b := <-got:
			st, err := sparkplug.ParseState(b)
			if err != nil {
				t.Fatal(err)
			}
			return st
		case <-time.After(10 * time.Second):
			t.Fatal("no retained STATE")
		}
		return sparkplug.State{}
	}

	before := time.Now().UnixMilli()
	agent := start()
	on1 := next("the online STATE", 1, func(s sparkplug.State) bool { return s.Online && s.Timestamp >= before })
	if r := retained(); r != on1 {
		t.Fatalf("retained %+v while the agent runs, want %+v", r, on1)
	}

	agent.Kill()
	next("the will after SIGKILL", 2, func(s sparkplug.State) bool { return !s.Online && s.Timestamp == on1.Timestamp })
	if r := retained(); r.Online {
		t.Fatalf("retained %+v after the kill, want offline", r)
	}

	agent = start()
	on2 := next("the online STATE after the restart", 3, func(s sparkplug.State) bool { return s.Online && s.Timestamp > on1.Timestamp })
	if r := retained(); r != on2 {
		t.Fatalf("retained %+v after the restart, want %+v", r, on2)
	}

	agent.Stop(20 * time.Second)
	next("the offline STATE of a polite stop", 4, func(s sparkplug.State) bool { return !s.Online && s.Timestamp >= on2.Timestamp })
	time.Sleep(300 * time.Millisecond) // a will would come now, and must not
	mu.Lock()
	defer mu.Unlock()
	if len(states) != 4 {
		t.Fatalf("STATE messages %+v, want 4", states)
	}
}
