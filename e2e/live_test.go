package e2e

import (
	"fmt"
	"os/exec"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/floorpulse/floorpulse/pkg/sparkplug"
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
	opc := testenv.StartNodeOPCUA(t, testenv.NodeOPCUAOptions{})
	r := startLiveRig(t, fmt.Sprintf(`opcua:
  - endpoint: %s
    publishing_interval: 50ms
    nodes:
      - {node_id: "ns=1;s=Line1.M01.Run", line: L1, equipment: M01, signal: run}
`, opc.URL), "floorpulse_agent_source_subscribed")
	lag := r.followRun(t, 6500*time.Millisecond,
		func(v bool, at time.Time) { opc.Set(testenv.Value{Node: "Line1.M01.Run", Value: v, SourceTime: at}) })
	t.Logf("live run time lagged the truth by at most %s over 25 s of a machine running with nothing changing", lag.Round(time.Millisecond))
}

// liveRig is a hub with L1/M01 registered and a 10 s signal timeout, and an
// agent reading the sources of a configuration section, both running.
type liveRig struct {
	hub, agent *testenv.Process
	hubHTTP    int
	token      string // a viewer's
}

// startLiveRig starts the rig; sources is the agent's opcua or mqtt
// section, and the agent is ready once its metrics show ready ... 1.
func startLiveRig(t *testing.T, sources, ready string) *liveRig {
	t.Helper()
	bin := binaries(t)
	influx := testenv.StartInflux(t, "floorpulse")
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
`, dir, agentHTTP, natsPort, agentSeed(dir, "live"))+sources)
	r := &liveRig{hubHTTP: hubHTTP, token: apiToken(t, bin, hubCfg)}
	r.hub = testenv.Start(t, "hub", exec.Command(bin+"/hub", "run", "-config", hubCfg))
	waitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/readyz", hubHTTP), r.hub, 60*time.Second)
	r.agent = testenv.Start(t, "agent", exec.Command(bin+"/agent", "run", "-config", agentCfg))
	waitMetric(t, fmt.Sprintf("http://127.0.0.1:%d/metrics", agentHTTP), ready, r.agent, 30*time.Second)
	return r
}

// followRun sets L1/M01 running (with set), then, while nothing changes for
// 25 s, checks every half second that the hub's run time of the month lags
// the time since by at most bound; then stops it and waits until the run
// time is exact. It returns the largest lag seen.
func (r *liveRig) followRun(t *testing.T, bound time.Duration, set func(run bool, at time.Time)) time.Duration {
	t.Helper()
	hub, agent, hubHTTP, token := r.hub, r.agent, r.hubHTTP, r.token
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	set(true, t0)
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
	t1 := time.Now().UTC().Truncate(time.Millisecond)
	set(false, t1)
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
	return worst
}

// The same for a machine read from a Sparkplug B edge node that reports
// only changes: the agent vouches for a born, live edge node up to now less
// sparkplug.liveness (here 3 s: the node's keep-alive of 2 s, times 1.5),
// every 2.5 s, so the hub's live run time lags by at most about 5.5 s (8 s
// allowed for the way through agent, NATS and hub); the final figure is
// exact.
func TestLiveFiguresFollowAQuietSparkplugNode(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	mosq := testenv.StartMosquitto(t)
	r := startLiveRig(t, fmt.Sprintf(`mqtt:
  - broker: %s
    client_id: floorpulse-agent-live
    qos: 1
    sparkplug: {liveness: 3s}
    subscriptions:
      - topic: spBv1.0/plant1/#
        format: sparkplug_b
        template: spBv1.0/{site}/+/{line}/{equipment}
`, mosq.URL), mqttConnectedMetric)

	// An edge node L1 with device M01, its run metric by alias after the birth.
	node := paho.NewClient(paho.NewClientOptions().AddBroker(mosq.URL).SetClientID("edge-L1").SetKeepAlive(2*time.Second).
		SetBinaryWill(sparkplug.Topic("plant1", "NDEATH", "L1", ""), sparkplug.Payload{Seq: -1, Metrics: []sparkplug.Metric{{Name: "bdSeq", DataType: sparkplug.Int64, Value: uint64(0)}}}.Marshal(), 1, false))
	if tok := node.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("edge node connect: %v", tok.Error())
	}
	defer node.Disconnect(0)
	seq := 0
	publish := func(typ, device string, ts time.Time, ms ...sparkplug.Metric) {
		t.Helper()
		p := sparkplug.Payload{Timestamp: uint64(ts.UnixMilli()), Seq: seq % 256, Metrics: ms}
		seq++
		if tok := node.Publish(sparkplug.Topic("plant1", typ, "L1", device), 0, false, p.Marshal()); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("publishing %s: %v", typ, tok.Error())
		}
	}
	born := time.Now().UTC().Truncate(time.Millisecond)
	publish("NBIRTH", "", born, sparkplug.Metric{Name: "bdSeq", DataType: sparkplug.Int64, Value: uint64(0)})
	publish("DBIRTH", "M01", born, sparkplug.Metric{Name: "run", Alias: 1, HasAlias: true, DataType: sparkplug.Boolean, Value: false})

	lag := r.followRun(t, 8*time.Second, func(v bool, at time.Time) {
		publish("DDATA", "M01", at, sparkplug.Metric{Alias: 1, HasAlias: true, Value: v, Timestamp: uint64(at.UnixMilli())})
	})
	t.Logf("live run time lagged the truth by at most %s over 25 s of a Sparkplug machine running with nothing changing", lag.Round(time.Millisecond))
}
