package app

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/floorpulse/floorpulse/agent/internal/streamtest"
	"github.com/floorpulse/floorpulse/pkg/signal"
	"github.com/floorpulse/floorpulse/pkg/testenv"
)

// spMetric encodes a Sparkplug B metric: a name ("" for none), an alias (0
// for none), a data type (0 for none) and a uint64 or bool value.
func spMetric(name string, alias uint64, dtype uint64, v any) []byte {
	var b []byte
	if name != "" {
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendString(b, name)
	}
	if alias != 0 {
		b = protowire.AppendTag(b, 2, protowire.VarintType)
		b = protowire.AppendVarint(b, alias)
	}
	if dtype != 0 {
		b = protowire.AppendTag(b, 4, protowire.VarintType)
		b = protowire.AppendVarint(b, dtype)
	}
	switch v := v.(type) {
	case uint64:
		b = protowire.AppendTag(b, 11, protowire.VarintType)
		b = protowire.AppendVarint(b, v)
	case bool:
		b = protowire.AppendTag(b, 14, protowire.VarintType)
		b = protowire.AppendVarint(b, protowire.EncodeBool(v))
	}
	return b
}

// spPayload encodes a Sparkplug B payload; a zero time or a negative seq is
// left out.
func spPayload(at time.Time, seq int, metrics ...[]byte) []byte {
	var b []byte
	if !at.IsZero() {
		b = protowire.AppendTag(b, 1, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(at.UnixMilli()))
	}
	for _, m := range metrics {
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendBytes(b, m)
	}
	if seq >= 0 {
		b = protowire.AppendTag(b, 3, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(seq))
	}
	return b
}

// TestSparkplugCrashKeepsBirths kills the agent (SIGKILL) while an edge node
// publishes DDATA by alias at QoS 1 after its births, publishes more while
// the agent is down (the broker keeps them for the agent's session), starts
// it again and then lets the node die. Every DDATA is in the stream exactly
// once under its metric's name: the births the aliases need were committed
// with their signals, before they were acknowledged, and loaded at the
// restart. The death, which arrives months after the data's timestamps (the
// node's clock says 2026-10-01), is stamped no later than the node's last
// data, so it does not stretch the machine's data to its arrival.
func TestSparkplugCrashKeepsBirths(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the agent binary")
	}
	t.Parallel()
	const total = 2000
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
    client_id: floorpulse-agent-sparkplug
    qos: 1
    max_reconnect_interval: 500ms
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
	agent := start()

	node := publisher(t, mosq.URL, "edge-L1")
	send := func(topic string, payload []byte) error {
		tok := node.Publish(topic, 1, false, payload)
		if !tok.WaitTimeout(20*time.Second) || tok.Error() != nil {
			return fmt.Errorf("publishing %s: %v", topic, tok.Error())
		}
		return nil
	}
	const top = "spBv1.0/plant1/"
	// DDATA i carries count = i by alias only, at base + i ms.
	ddata := func(from, to int) error {
		toks := make([]paho.Token, 0, 256)
		for i := from; i <= to; i++ {
			p := spPayload(base.Add(time.Duration(i)*time.Millisecond), (i+1)%256, spMetric("", 2, 0, uint64(i)))
			toks = append(toks, node.Publish(top+"DDATA/L1/M01", 1, false, p))
			if len(toks) == cap(toks) || i == to {
				for _, tok := range toks {
					if !tok.WaitTimeout(20*time.Second) || tok.Error() != nil {
						return fmt.Errorf("publishing DDATA: %v", tok.Error())
					}
				}
				toks = toks[:0]
			}
		}
		return nil
	}
	if err := send(top+"NBIRTH/L1", spPayload(base, 0,
		spMetric("bdSeq", 0, 8, uint64(1)), spMetric("uptime", 1, 7, uint64(10)))); err != nil {
		t.Fatal(err)
	}
	if err := send(top+"DBIRTH/L1/M01", spPayload(base, 1,
		spMetric("count", 2, 4, uint64(0)), spMetric("run", 3, 11, true))); err != nil {
		t.Fatal(err)
	}
	pubErr := make(chan error, 1)
	go func() { pubErr <- ddata(1, 1000) }()
	waitFor(t, "200 signals in the stream", 30*time.Second, func() bool { return streamtest.Count(t, ns.URL) >= 200 })
	agent.Kill()
	t.Logf("killed the agent with %d signals in the stream", streamtest.Count(t, ns.URL))
	if err := <-pubErr; err != nil {
		t.Fatal(err)
	}
	if err := ddata(1001, 1500); err != nil { // while no agent runs
		t.Fatal(err)
	}
	agent = start()
	if err := ddata(1501, total); err != nil {
		t.Fatal(err)
	}
	// The node's will: bdSeq of its birth, no timestamp.
	if err := send(top+"NDEATH/L1", spPayload(time.Time{}, -1, spMetric("bdSeq", 0, 8, uint64(1)))); err != nil {
		t.Fatal(err)
	}

	// 3 birth signals, total DDATA, 3 death signals.
	want := uint64(3 + total + 3)
	deadline := time.Now().Add(30 * time.Second)
	for streamtest.Count(t, ns.URL) < want && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	counts := map[int]int{}
	var deaths []signal.Signal
	for _, m := range streamtest.Messages(t, ns.URL) {
		s := m.Signal
		switch {
		case s.Quality == signal.Bad:
			deaths = append(deaths, s)
		case s.Equipment == "M01" && s.Name == "count":
			i := int(s.Value.Num)
			counts[i]++
			if !s.Time.Equal(base.Add(time.Duration(i) * time.Millisecond)) {
				t.Errorf("count %d at %s", i, s.Time)
			}
		}
	}
	missing := 0
	for i := 0; i <= total; i++ {
		if counts[i] != 1 {
			missing++
			if missing <= 5 {
				t.Errorf("count %d is %d times in the stream, want once", i, counts[i])
			}
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d counts not in the stream exactly once", missing, total+1)
	}
	last := base.Add(total * time.Millisecond)
	if len(deaths) != 3 {
		t.Errorf("%d death signals, want 3 (uptime, count, run)", len(deaths))
	}
	for _, s := range deaths {
		if s.Time.After(last) {
			t.Errorf("death signal %s/%s at %s, after the node's last data at %s", s.Equipment, s.Name, s.Time, last)
		}
	}
	if t.Failed() {
		t.Logf("agent output:\n%s", agent.Output())
	}
	agent.Stop(5 * time.Second)
}
