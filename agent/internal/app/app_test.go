package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/floorpulse/floorpulse/agent/internal/config"
	"github.com/floorpulse/floorpulse/agent/internal/streamtest"
	"github.com/floorpulse/floorpulse/pkg/testenv"
)

var base = time.Date(2026, 10, 1, 6, 0, 0, 0, time.UTC)

// agentHeader is the start of an agent configuration, without sources; an
// empty httpAddr serves no HTTP (not the default port, which another
// process may hold).
func agentHeader(dataDir, httpAddr, natsURL string) string {
	return fmt.Sprintf(`agent_id: gw1
site: plant1
data_dir: %s
http: %q
log_level: debug
nats:
  url: %s
  batch: 500
  ack_timeout: 2s
`, dataDir, httpAddr, natsURL)
}

// agentYAML is an agent configuration; extra is appended (top-level
// sections such as buffer).
func agentYAML(dataDir, httpAddr, broker, natsURL string, extra ...string) string {
	return agentHeader(dataDir, httpAddr, natsURL) + fmt.Sprintf(`mqtt:
  - broker: %s
    client_id: floorpulse-agent-test
    qos: 1
    max_reconnect_interval: 500ms
    subscriptions:
      - topic: floorpulse/+/+/+/+
        template: floorpulse/{site}/{line}/{equipment}/{signal}
        format: json
        value: value
        time: ts
        time_format: rfc3339
`, broker) + strings.Join(extra, "")
}

func publisher(t *testing.T, broker, id string) paho.Client {
	t.Helper()
	c := paho.NewClient(paho.NewClientOptions().AddBroker(broker).SetClientID(id).SetCleanSession(true).SetAutoReconnect(false))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publisher connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

func topicOf(i int) string { return fmt.Sprintf("floorpulse/plant1/L1/M%02d/count", i%10) }
func payloadOf(i int) []byte {
	return []byte(fmt.Sprintf(`{"value":%d,"ts":%q}`, i, base.Add(time.Duration(i)*time.Millisecond).Format(time.RFC3339Nano)))
}

// publish sends messages [from, to) at QoS 1 and waits for the broker's acks.
func publish(c paho.Client, from, to int) error {
	toks := make([]paho.Token, 0, 256)
	for i := from; i < to; i++ {
		toks = append(toks, c.Publish(topicOf(i), 1, false, payloadOf(i)))
		if len(toks) == cap(toks) || i == to-1 {
			for _, tok := range toks {
				if !tok.WaitTimeout(20*time.Second) || tok.Error() != nil {
					return fmt.Errorf("publishing: %v", tok.Error())
				}
			}
			toks = toks[:0]
		}
	}
	return nil
}

// checkStream asserts the stream holds exactly messages [0, n), once each.
func checkStream(t *testing.T, natsURL string, n int) {
	t.Helper()
	msgs := streamtest.Messages(t, natsURL)
	seen := map[string]bool{}
	for _, m := range msgs {
		if seen[m.ID] {
			t.Fatalf("msg id %s stored twice", m.ID)
		}
		seen[m.ID] = true
		i := int(m.Signal.Value.Num)
		if m.ID != m.Signal.ID() || m.Subject != "floorpulse.signals.plant1.L1."+m.Signal.Equipment ||
			!m.Signal.Time.Equal(base.Add(time.Duration(i)*time.Millisecond)) || m.Signal.Received || m.Signal.Agent != "gw1" {
			t.Fatalf("message %d wrong: subject %s id %s %+v", i, m.Subject, m.ID, m.Signal)
		}
	}
	if len(msgs) != n || len(seen) != n {
		t.Fatalf("stream holds %d messages, %d distinct ids; want %d", len(msgs), len(seen), n)
	}
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestMQTTToJetStreamSurvivesBrokerRestart(t *testing.T) {
	mosq := testenv.StartMosquitto(t)
	ns := testenv.StartNATS(t)
	streamtest.Create(t, ns.URL)

	var cfg config.Config
	doc := agentYAML(t.TempDir(), "", mosq.URL, ns.URL)
	if err := loadString(doc, &cfg); err != nil {
		t.Fatal(err)
	}
	a := New(&cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	ready := func() bool { ok, _ := a.Metrics.Ready(); return ok }
	waitFor(t, "agent ready", 10*time.Second, ready)

	pub := publisher(t, mosq.URL, "pub1")
	if err := publish(pub, 0, 500); err != nil {
		t.Fatal(err)
	}
	// One undecodable message: counted, acknowledged, not forwarded.
	pub.Publish("floorpulse/plant1/L1/M01/count", 1, false, []byte("garbage")).Wait()
	streamtest.WaitCount(t, ns.URL, 500, 20*time.Second)
	checkStream(t, ns.URL, 500)

	mosq.Restart()
	deadline := time.Now().Add(3 * time.Second)
	for ready() && time.Now().Before(deadline) { // the agent notices the loss
		time.Sleep(10 * time.Millisecond)
	}
	waitFor(t, "agent ready after broker restart", 15*time.Second, ready)
	pub = publisher(t, mosq.URL, "pub2")
	if err := publish(pub, 500, 1000); err != nil {
		t.Fatal(err)
	}
	streamtest.WaitCount(t, ns.URL, 1000, 20*time.Second)
	checkStream(t, ns.URL, 1000)

	body := scrape(a)
	for _, want := range []string{
		`floorpulse_agent_source_connected{kind="mqtt",source="` + mosq.URL + `"} 1`,
		`floorpulse_agent_source_connects_total{kind="mqtt",source="` + mosq.URL + `"} 2`, // the first and after the restart
		`floorpulse_agent_decode_errors_total{kind="mqtt",reason="bad_payload",source="` + mosq.URL + `"} 1`,
		`floorpulse_agent_decode_errors_total{kind="mqtt",reason="wrong_type",source="` + mosq.URL + `"} 0`,
		"floorpulse_agent_forwarded_total 1000",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
}

func loadString(doc string, cfg *config.Config) error {
	dir, err := os.MkdirTemp("", "agentcfg")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	p := filepath.Join(dir, "agent.yaml")
	if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
		return err
	}
	c, err := config.Load(p)
	if err != nil {
		return err
	}
	*cfg = *c
	return nil
}

func httpGet(url string) (int, string) {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func metricValue(body, name string) (float64, bool) {
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, name+" ") {
			var v float64
			if _, err := fmt.Sscan(strings.TrimPrefix(line, name+" "), &v); err == nil {
				return v, true
			}
		}
	}
	return 0, false
}

// TestCrashLosesNothingAndDuplicatesNothing kills the agent process with
// SIGKILL twice while 100,000 QoS 1 messages flow, starts it again on the
// same data directory each time, and checks every message is in the stream
// exactly once.
func TestCrashLosesNothingAndDuplicatesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the agent binary")
	}
	t.Parallel()
	const total = 100000
	dir := t.TempDir()
	bin := filepath.Join(dir, "agent")
	buildAgent(t, bin)

	mosq := testenv.StartMosquitto(t)
	ns := testenv.StartNATS(t)
	streamtest.Create(t, ns.URL)
	httpAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	cfgPath := filepath.Join(dir, "agent.yaml")
	if err := os.WriteFile(cfgPath, []byte(agentYAML(filepath.Join(dir, "data"), httpAddr, mosq.URL, ns.URL)), 0o600); err != nil {
		t.Fatal(err)
	}
	start := func() *testenv.Process { return startAgent(t, bin, cfgPath, httpAddr) }
	agent := start()

	pub := publisher(t, mosq.URL, "crash-pub")
	pubErr := make(chan error, 1)
	began := time.Now()
	go func() { pubErr <- publish(pub, 0, total) }()

	for _, at := range []uint64{20000, 60000} {
		waitFor(t, fmt.Sprintf("%d forwarded messages", at), 60*time.Second, func() bool { return streamtest.Count(t, ns.URL) >= at })
		agent.Kill()
		killedAt := streamtest.Count(t, ns.URL)
		t.Logf("killed the agent with %d messages in the stream, %s after publishing began", killedAt, time.Since(began).Round(time.Millisecond))
		agent = start()
	}

	if err := <-pubErr; err != nil {
		t.Fatal(err)
	}
	streamtest.WaitCount(t, ns.URL, total, 120*time.Second)
	t.Logf("%d messages in the stream %s after publishing began (including two crashes and restarts)", total, time.Since(began).Round(time.Millisecond))
	var body string
	waitFor(t, "an empty queue", 20*time.Second, func() bool {
		_, body = httpGet("http://" + httpAddr + "/metrics")
		v, ok := metricValue(body, "floorpulse_agent_queue_records")
		return ok && v == 0
	})
	checkStream(t, ns.URL, total)
	fwd, _ := metricValue(body, "floorpulse_agent_forwarded_total")
	dups, _ := metricValue(body, "floorpulse_agent_forwarded_duplicates_total")
	t.Logf("after the last restart the agent forwarded %.0f signals, %.0f of them duplicates dropped by JetStream", fwd, dups)
	agent.Stop(5 * time.Second)
}
