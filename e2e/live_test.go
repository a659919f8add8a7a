package e2e

import (
	"fmt"
	"os/exec"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/pkg/testenv"
)

// A machine that runs on with nothing changing, read from an OPC UA
// subscription without any heartbeat signal, longer than the hub's signal
// timeout: at every moment the hub's live run time lags the truth by no more
// than the subscription's keep-alive (5 s) plus the way through agent, NATS
// and hub, because the agent commits the server's keep-alives as
// watermarks; once it stops, the figure is exact to the millisecond.
func TestLiveFiguresFollowAQuietOPCUASource(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	bin := binaries(t)
	influx := testenv.StartInflux(t, "floorpulse")
	opc := testenv.StartNodeOPCUA(t, testenv.NodeOPCUAOptions{})
	dir := t.TempDir()
	natsPort, hubHTTP, agentHTTP := testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t)
	write := writer(t, dir)
	hubCfg := write("hub.yaml", fmt.Sprintf(`site: plant1
timezone: Europe/Berlin
data_dir: %s/hub
http: 127.0.0.1:%d
nats: {listen: "127.0.0.1:%d"}
influx: {url: %q, bucket: floorpulse/autogen, create_database: true}
state: {signal_timeout: 10s}
equipment:
  - {line: L1, class: cnc, ids: [M01]}
`, dir, hubHTTP, natsPort, influx.URL))
	addAgent(t, bin, hubCfg, dir, "live")
	agentCfg := write("agent.yaml", fmt.Sprintf(`agent_id: live
site: plant1
data_dir: %s/agent
http: 127.0.0.1:%d
nats: {url: "nats://127.0.0.1:%d", nkey: %q}
opcua:
  - endpoint: %s
    publishing_interval: 50ms
    nodes:
      - {node_id: "ns=1;s=Line1.M01.Run", line: L1, equipment: M01, signal: run}
`, dir, agentHTTP, natsPort, agentSeed(dir, "live"), opc.URL))
	token := apiToken(t, bin, hubCfg)

	hub := testenv.Start(t, "hub", exec.Command(bin+"/hub", "run", "-config", hubCfg))
	waitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/readyz", hubHTTP), hub, 60*time.Second)
	agent := testenv.Start(t, "agent", exec.Command(bin+"/agent", "run", "-config", agentCfg))
	waitMetric(t, fmt.Sprintf("http://127.0.0.1:%d/metrics", agentHTTP), "floorpulse_agent_source_subscribed", agent, 30*time.Second)

	t0 := time.Now().UTC().Truncate(time.Millisecond)
	opc.Set(testenv.Value{Node: "Line1.M01.Run", Value: true, SourceTime: t0})
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	month := t0.In(loc).Format("2006-01")
	runSeconds := func() (float64, error) {
		var m struct {
			Equipment []struct {
				Line, Equipment string
				RunSeconds      float64 `json:"run_seconds"`
			}
		}
		if err := getJSON(fmt.Sprintf("http://127.0.0.1:%d/api/v1/months/%s", hubHTTP, month), token, &m); err != nil {
			return 0, err
		}
		for _, e := range m.Equipment {
			if e.Line == "L1" && e.Equipment == "M01" {
				return e.RunSeconds, nil
			}
		}
		return 0, nil
	}

	// keep-alive 5 s; the rest (publishing interval, the agent's commit
	// linger, the forwarder, the hub's batch) well under 1.5 s here.
	const bound = 6500 * time.Millisecond
	var worst time.Duration
	for end := time.Now().Add(25 * time.Second); time.Now().Before(end); time.Sleep(500 * time.Millisecond) {
		run, err := runSeconds()
		at := time.Now()
		if err != nil {
			t.Fatal(err)
		}
		lag := at.Sub(t0) - time.Duration(run*float64(time.Second))
		worst = max(worst, lag)
		if lag > bound {
			t.Fatalf("%.1f s after the machine started running, the hub counts %.3f s run: it lags by %s, more than %s",
				at.Sub(t0).Seconds(), run, lag.Round(time.Millisecond), bound)
		}
		if hub.Exited() || agent.Exited() {
			t.Fatal("hub or agent exited")
		}
	}
	t.Logf("live run time lagged the truth by at most %s over 25 s of a machine running with nothing changing", worst.Round(time.Millisecond))

	t1 := time.Now().UTC().Truncate(time.Millisecond)
	opc.Set(testenv.Value{Node: "Line1.M01.Run", Value: false, SourceTime: t1})
	want := t1.Sub(t0).Seconds()
	deadline := time.Now().Add(30 * time.Second)
	for {
		run, err := runSeconds()
		if err == nil && run == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the stop the hub counts %.3f s run (err %v), want %.3f", run, err, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
