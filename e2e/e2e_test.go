// Package e2e runs the whole system as real processes: the plant simulator
// (publishing to a real mosquitto and serving OPC UA), the agent, the hub with
// its embedded NATS/JetStream, and InfluxDB 1.8. It checks the monthly figures
// read back from InfluxDB against the simulator's ground truth, to the
// millisecond, for every machine-month.
package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api"

	"github.com/floorpulse/floorpulse/pkg/testenv"
)

// truth is the simulator's ground truth file.
type truth struct {
	Site      string `json:"site"`
	Timezone  string `json:"timezone"`
	Equipment []struct {
		Line      string    `json:"line"`
		Equipment string    `json:"equipment"`
		Class     string    `json:"class"`
		Source    string    `json:"source"`
		Start     time.Time `json:"start"`
		End       time.Time `json:"end"`
		Months    map[string]struct {
			RunMS       int64            `json:"run_ms"`
			DownByAlarm map[string]int64 `json:"down_by_alarm_ms"`
		} `json:"months"`
		Days map[string]struct {
			RunMS int64 `json:"run_ms"`
		} `json:"days"`
	} `json:"equipment"`
	Operators []struct {
		Operator string `json:"operator"`
		Months   map[string]struct {
			RunSeconds float64 `json:"run_seconds"`
		} `json:"months"`
	} `json:"operators"`
}

const threshold = 80 * time.Hour

func TestEndToEndMonthlyRunHours(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	bin := binaries(t)

	influx := testenv.StartInflux(t, "floorpulse")
	mosq := testenv.StartMosquitto(t)
	dir := t.TempDir()
	natsPort, hubHTTP, agentHTTP, opcPort := testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t)

	write := writer(t, dir)
	hubCfg := write("hub.yaml", fmt.Sprintf(`site: plant1
timezone: Europe/Berlin
data_dir: %s/hub
http: 127.0.0.1:%d
nats: {listen: "127.0.0.1:%d"}
influx: {url: %q, bucket: floorpulse/autogen, create_database: true}
activity: {periods: [shift, day, month]}
calendar:
  shifts:
    - {name: early, start: "06:00", end: "14:00"}
    - {name: late,  start: "14:00", end: "22:00"}
    - {name: night, start: "22:00", end: "06:00"}
line_calendars:
  L1: {shifts: [{name: early, days: [mon-fri]}, {name: late, days: [mon-fri]}]}
equipment:
  - {line: L1, class: cnc, ids: [M01, M02, M03], ideal_cycle: 60s, rated_power: 45}
  - {line: L2, class: press, ids: [M01, M02, M03, M04], ideal_cycle: 12s}   # M04 never reports
  - {line: L3, class: assembly, ids: [M01, M02], ideal_cycle: 200ms}
`, dir, hubHTTP, natsPort, influx.URL))
	var nodes strings.Builder
	for _, m := range []string{"M01", "M02"} {
		sigs := []string{"run", "state", "count", "scrap", "power", "operator"}
		if m == "M01" {
			sigs = append(sigs, "energy") // the simulator meters every third machine
		}
		for _, s := range sigs {
			fmt.Fprintf(&nodes, "      - {node_id: \"ns=%d;s=plant1.L3.%s.%s\", line: L3, equipment: %s, signal: %s}\n", opcNamespace, m, s, m, s)
		}
	}
	// L2 is published as a Sparkplug B edge node whose primary host is the
	// agent: it holds its data while the agent is away and sends it,
	// historical, when the agent is back.
	agentYAML := agentConfig("e2e", dir, agentHTTP, natsPort, mosq.URL, opcPort, nodes.String())
	agentYAML = strings.Replace(agentYAML, "    qos: 1\n", "    qos: 1\n    sparkplug: {primary_host_id: floorpulse}\n", 1)
	agentYAML = strings.Replace(agentYAML, "    subscriptions:\n", `    subscriptions:
      - topic: spBv1.0/plant1/#
        format: sparkplug_b
        template: spBv1.0/{site}/+/{line}/{equipment}
`, 1)
	agentCfg := write("agent.yaml", agentYAML)
	addAgent(t, bin, hubCfg, dir, "e2e")
	simCfg := write("simulator.yaml", fmt.Sprintf(`site: plant1
timezone: Europe/Berlin
seed: 7
history: 1500h
live: 75s
sample_interval: 20m
mqtt:
  broker: %q
  topic_prefix: floorpulse
  qos: 1
  client_id: floorpulse-simulator-e2e
  sparkplug: [{line: L2, group: plant1, node: L2, primary_host_id: floorpulse, replay: 4000}]
opcua: {host: 127.0.0.1, port: %d}
shifts:
  - {name: early, start: "06:00", end: "14:00"}
  - {name: late,  start: "14:00", end: "22:00"}
  - {name: night, start: "22:00", end: "06:00"}
lines:
  - {name: L1, source: mqtt, machines: 3, class: cnc, shifts: [early, late], operators: 6}
  - {name: L2, source: mqtt, machines: 3, class: press, shifts: [early, late, night], weekend: true, operators: 8}
  - {name: L3, source: opcua, machines: 2, class: assembly, shifts: [early, late, night], weekend: true, operators: 6,
     mean_run: 4s, mean_idle: 2s, mean_setup: 3s, breakdowns_per_day: 500, mean_repair: 3s, ideal_cycle: 200ms}
`, mosq.URL, opcPort))

	token := apiToken(t, bin, hubCfg)
	hub := testenv.Start(t, "hub", exec.Command(bin+"/hub", "run", "-config", hubCfg))
	waitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/readyz", hubHTTP), hub, 60*time.Second)
	agent := testenv.Start(t, "agent", exec.Command(bin+"/agent", "run", "-config", agentCfg))
	// The agent's MQTT session must exist before the simulator publishes history.
	waitMetric(t, fmt.Sprintf("http://127.0.0.1:%d/metrics", agentHTTP), mqttConnectedMetric, agent, 30*time.Second)
	truthPath := filepath.Join(dir, "truth.json")
	sim := testenv.Start(t, "simulator", exec.Command(bin+"/simulator", "run", "-config", simCfg, "-truth", truthPath))

	// Kill the hub (and its embedded NATS) with SIGKILL while history flows,
	// then start it again: nothing may be lost or counted twice.
	hubMetrics := fmt.Sprintf("http://127.0.0.1:%d/metrics", hubHTTP)
	waitCounter(t, hubMetrics, "floorpulse_hub_signals_consumed_total", 15000, hub, 3*time.Minute)
	hub.Kill()
	t.Log("hub killed with SIGKILL during the history; restarting it")
	hub = testenv.Start(t, "hub (restarted)", exec.Command(bin+"/hub", "run", "-config", hubCfg))
	waitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/readyz", hubHTTP), hub, 60*time.Second)

	// Kill the agent with SIGKILL at a seeded random point of the history,
	// while the Sparkplug edge node of L2 publishes, for 10 s: the broker
	// publishes the agent's will (STATE offline), the node sends its
	// NDEATH and holds its data, and sends it, historical, after its new
	// births once the restarted agent says online.
	seed := time.Now().UnixNano()
	if v := os.Getenv("FLOORPULSE_E2E_SEED"); v != "" {
		fmt.Sscan(v, &seed)
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 1))
	at := 20000 + rng.IntN(25000)
	liveAt := time.Duration(5000+rng.IntN(15000)) * time.Millisecond
	t.Logf("seed %d (FLOORPULSE_E2E_SEED): the agent is killed after %d signals, and %s into the live phase", seed, at, liveAt)
	waitCounter(t, hubMetrics, "floorpulse_hub_signals_consumed_total", float64(at), hub, 3*time.Minute)
	agent.Kill()
	t.Log("agent killed with SIGKILL during the history; restarting it in 10 s")
	time.Sleep(10 * time.Second)
	agent = testenv.Start(t, "agent (restarted during the history)", exec.Command(bin+"/agent", "run", "-config", agentCfg))

	// Kill the agent with SIGKILL at a seeded point of the live phase (5-20 s
	// after its first OPC UA value), while every source publishes, for 10 s:
	// the broker keeps the MQTT messages of its persistent session, and the
	// OPC UA changes made meanwhile are read back from the server's history
	// (backfill, from the source time of the last value committed per node).
	agentMetrics := fmt.Sprintf("http://127.0.0.1:%d/metrics", agentHTTP)
	waitCounter(t, agentMetrics, fmt.Sprintf(`floorpulse_agent_signals_in_total{kind="opcua",source="opc.tcp://127.0.0.1:%d"}`, opcPort), 1, agent, 6*time.Minute)
	time.Sleep(liveAt)
	agent.Kill()
	t.Log("agent killed with SIGKILL during the live phase; restarting it in 10 s")
	time.Sleep(10 * time.Second)
	agent = testenv.Start(t, "agent (restarted)", exec.Command(bin+"/agent", "run", "-config", agentCfg))
	waitMetricLine(t, agentMetrics, "a backfill", agent, 30*time.Second, func(line string) bool {
		rest, ok := strings.CutPrefix(line, `floorpulse_agent_source_backfilled_total{kind="opcua"`)
		_, value, found := strings.Cut(rest, "} ")
		var v float64
		_, err := fmt.Sscan(value, &v)
		return ok && found && err == nil && v > 0
	})

	var tr truth
	deadline := time.Now().Add(6 * time.Minute)
	for {
		if b, err := os.ReadFile(truthPath); err == nil && json.Unmarshal(b, &tr) == nil {
			break
		}
		if sim.Exited() || time.Now().After(deadline) {
			t.Fatalf("simulator wrote no ground truth (exited: %v)", sim.Exited())
		}
		time.Sleep(200 * time.Millisecond)
	}
	loc, err := time.LoadLocation(tr.Timezone)
	if err != nil {
		t.Fatal(err)
	}

	// Expected figures from the ground truth.
	wantRun := map[em]float64{}
	wantActive := map[string]map[string]int{} // month -> line -> active
	registered := map[string]int{"L1": 3, "L2": 4, "L3": 2}
	sources := map[string]bool{}
	var opcRunMS int64
	for _, e := range tr.Equipment {
		sources[e.Source] = true
		for month, f := range e.Months {
			if e.Source == "opcua" {
				opcRunMS += f.RunMS
			}
			wantRun[em{e.Line, e.Equipment, month}] = float64(f.RunMS) / 1000
			if wantActive[month] == nil {
				wantActive[month] = map[string]int{}
			}
			if time.Duration(f.RunMS)*time.Millisecond >= threshold {
				wantActive[month][e.Line]++
			}
		}
	}
	wantDay := map[em]float64{}
	for _, e := range tr.Equipment {
		for day, f := range e.Days {
			wantDay[em{e.Line, e.Equipment, day}] = float64(f.RunMS) / 1000
		}
	}
	wantOp := map[string]float64{} // operator/month -> run seconds over the site
	for _, o := range tr.Operators {
		for month, f := range o.Months {
			wantOp[o.Operator+" "+month] = f.RunSeconds
		}
	}
	if !sources["mqtt"] || !sources["opcua"] || len(wantRun) < 3*6+2 || opcRunMS == 0 || len(wantDay) < 6*55 || len(wantOp) < 20 {
		t.Fatalf("ground truth too thin: sources %v, %d machine-months, %d ms of OPC UA run time", sources, len(wantRun), opcRunMS)
	}

	q := influxdb2.NewClient(influx.URL, "").QueryAPI("")
	var problems []string
	deadline = time.Now().Add(4 * time.Minute)
	for {
		problems = problems[:0]
		gotRun, gotActive, gotRate, gotDay, gotOp, err := readActivity(q, loc)
		if err != nil {
			problems = append(problems, err.Error())
		}
		for k, want := range wantDay {
			if got, ok := gotDay[k]; !ok || math.Abs(got-want) > 0.0005 {
				problems = append(problems, fmt.Sprintf("%s/%s day %s: run_seconds %.3f (present %v), want %.3f", k.line, k.eq, k.month, got, ok, want))
			}
		}
		for k, want := range wantOp {
			// The ground truth lists every operator of a line for every month of
			// the line, with 0 when never logged in; the hub knows operators only
			// from their logins, so it has no point for those.
			if got, ok := gotOp[k]; (!ok && want != 0) || math.Abs(got-want) > 0.001 {
				problems = append(problems, fmt.Sprintf("operator %s: run_seconds %.4f (present %v), want %.4f", k, got, ok, want))
			}
		}
		for k := range gotOp {
			if _, ok := wantOp[k]; !ok && gotOp[k] > 0.0005 {
				problems = append(problems, fmt.Sprintf("operator %s: %.3f run seconds the ground truth does not have", k, gotOp[k]))
			}
		}
		for k, want := range wantRun {
			got, ok := gotRun[em{k.line, k.eq, k.month}]
			if !ok {
				problems = append(problems, fmt.Sprintf("%s/%s %s: no equipment_activity point, want run_seconds %.3f", k.line, k.eq, k.month, want))
			} else if math.Abs(got-want) > 0.0005 {
				problems = append(problems, fmt.Sprintf("%s/%s %s: run_seconds %.3f, want %.3f (off by %.3f s)", k.line, k.eq, k.month, got, want, got-want))
			} else if gotActive[em{k.line, k.eq, k.month}] != (want >= threshold.Seconds()) {
				problems = append(problems, fmt.Sprintf("%s/%s %s: active flag wrong", k.line, k.eq, k.month))
			}
		}
		for month, lines := range wantActive {
			for line, n := range registered {
				want := float64(lines[line]) / float64(n)
				if got, ok := gotRate[[2]string{line, month}]; !ok || math.Abs(got-want) > 1e-9 {
					problems = append(problems, fmt.Sprintf("line %s %s: active_rate %v (present %v), want %v", line, month, got, ok, want))
				}
			}
		}
		if len(problems) == 0 {
			break
		}
		if time.Now().After(deadline) || hub.Exited() || agent.Exited() {
			sort.Strings(problems)
			if len(problems) > 30 {
				problems = append(problems[:30], fmt.Sprintf("... and %d more", len(problems)-30))
			}
			t.Fatalf("figures in InfluxDB differ from the ground truth:\n%s", strings.Join(problems, "\n"))
		}
		time.Sleep(time.Second)
	}
	t.Logf("%d machine-months, %d machine-days, %d line-months and %d operator-months match the ground truth",
		len(wantRun), len(wantDay), len(wantActive)*len(registered), len(wantOp))

	// Down time by alarm code of the MQTT lines (L1 plain, L2 Sparkplug B)
	// in the month API: the simulator raises a code exactly while a machine
	// is down, so every down second has a code, as in the truth.
	n := compareDownByAlarm(t, tr, fmt.Sprintf("http://127.0.0.1:%d", hubHTTP), token, "L1", "L2")
	t.Logf("%d machine-months of down time by alarm code match the ground truth", n)

	// Parts, OEE factors and energy per machine-month, and parts and OEE
	// per line-month.
	n = compareProduction(t, truthPath, q, loc, 20*time.Minute, func() bool { return !hub.Exited() && !agent.Exited() })
	t.Logf("%d machine-months of parts, OEE and energy match the ground truth", n)
}

// compareDownByAlarm compares the month API's downtime_by_alarm of the
// machines of lines with the truth's down_by_alarm_ms, to the millisecond,
// and returns how many machine-months had down time.
func compareDownByAlarm(t *testing.T, tr truth, hubURL, token string, lines ...string) int {
	t.Helper()
	type bucket struct {
		Code    string  `json:"code"`
		Seconds float64 `json:"seconds"`
		Stops   int     `json:"stops"`
	}
	var month struct {
		Equipment []struct {
			Line        string   `json:"line"`
			Equipment   string   `json:"equipment"`
			DownByAlarm []bucket `json:"downtime_by_alarm"`
		} `json:"equipment"`
	}
	got := map[em]map[string]float64{}
	want := map[em]map[string]float64{}
	months := map[string]bool{}
	for _, e := range tr.Equipment {
		if !slices.Contains(lines, e.Line) {
			continue
		}
		for mo, f := range e.Months {
			months[mo] = true
			w := map[string]float64{}
			for code, ms := range f.DownByAlarm {
				w[code] = float64(ms) / 1000
			}
			want[em{e.Line, e.Equipment, mo}] = w
		}
	}
	for mo := range months {
		if err := getJSON(hubURL+"/api/v1/months/"+mo, token, &month); err != nil {
			t.Fatal(err)
		}
		for _, e := range month.Equipment {
			g := map[string]float64{}
			for _, b := range e.DownByAlarm {
				g[b.Code] = b.Seconds
			}
			got[em{e.Line, e.Equipment, mo}] = g
		}
	}
	var problems []string
	withDown, codes := 0, map[string]bool{}
	for k, w := range want {
		g := got[k]
		if len(w) > 0 {
			withDown++
		}
		for code, sec := range w {
			codes[code] = true
			if code == "" || math.Abs(g[code]-sec) > 0.0005 {
				problems = append(problems, fmt.Sprintf("%s/%s %s alarm %q: %.3f s down, want %.3f", k.line, k.eq, k.month, code, g[code], sec))
			}
		}
		for code, sec := range g {
			if _, ok := w[code]; !ok && sec > 0.0005 {
				problems = append(problems, fmt.Sprintf("%s/%s %s alarm %q: %.3f s down the truth does not have", k.line, k.eq, k.month, code, sec))
			}
		}
	}
	if withDown < 3 || len(codes) < 3 {
		t.Fatalf("ground truth too thin for alarms: %d machine-months with down time, codes %v", withDown, codes)
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		t.Fatalf("down time by alarm code differs from the ground truth:\n%s", strings.Join(problems, "\n"))
	}
	return withDown
}

// em names one equipment month.
type em struct{ line, eq, month string }

// readActivity reads equipment_activity (months and days), line_activity
// and operator_activity back through Flux.
func readActivity(q api.QueryAPI, loc *time.Location) (run map[em]float64, active map[em]bool, rate map[[2]string]float64, day map[em]float64, op map[string]float64, err error) {
	run, active, rate, day, op = map[em]float64{}, map[em]bool{}, map[[2]string]float64{}, map[em]float64{}, map[string]float64{}
	res, err := q.Query(context.Background(), `from(bucket:"floorpulse/autogen")
		|> range(start: 2020-01-01T00:00:00Z, stop: 2100-01-01T00:00:00Z)
		|> filter(fn: (r) => (r._measurement == "equipment_activity" and (r.period == "month" or r.period == "day") and (r._field == "run_seconds" or r._field == "active"))
		                  or (r._measurement == "line_activity" and r.period == "month" and r._field == "active_rate")
		                  or (r._measurement == "operator_activity" and r.scope == "site" and r._field == "run_seconds"))`)
	if err != nil {
		return nil, nil, nil, nil, nil, fmt.Errorf("flux query: %w", err)
	}
	defer res.Close()
	for res.Next() {
		r := res.Record()
		month := r.Time().In(loc).Format("2006-01")
		line, _ := r.ValueByKey("line").(string)
		period, _ := r.ValueByKey("period").(string)
		switch r.Measurement() {
		case "equipment_activity":
			eq, _ := r.ValueByKey("equipment").(string)
			k := em{line, eq, month}
			if period == "day" {
				if v, ok := r.Value().(float64); ok {
					day[em{line, eq, r.Time().In(loc).Format("2006-01-02")}] = v
				}
				continue
			}
			switch v := r.Value().(type) {
			case float64:
				run[k] = v
			case bool:
				active[k] = v
			}
		case "line_activity":
			if v, ok := r.Value().(float64); ok {
				rate[[2]string{line, month}] = v
			}
		case "operator_activity":
			name, _ := r.ValueByKey("operator").(string)
			if v, ok := r.Value().(float64); ok {
				op[name+" "+month] = v
			}
		}
	}
	return run, active, rate, day, op, res.Err()
}

// waitCounter waits until the metric named name reaches at least min.
func waitCounter(t *testing.T, url, name string, min float64, p *testenv.Process, timeout time.Duration) {
	t.Helper()
	waitMetricLine(t, url, fmt.Sprintf("%s >= %v", name, min), p, timeout, func(line string) bool {
		var v float64
		rest, ok := strings.CutPrefix(line, name+" ")
		_, err := fmt.Sscan(rest, &v)
		return ok && err == nil && v >= min
	})
}

// waitMetric waits until the metrics page holds a line starting with prefix and ending in " 1".
func waitMetric(t *testing.T, url, prefix string, p *testenv.Process, timeout time.Duration) {
	t.Helper()
	waitMetricLine(t, url, prefix+"... 1", p, timeout, func(line string) bool {
		return strings.HasPrefix(line, prefix) && strings.HasSuffix(line, " 1")
	})
}

// waitMetricLine polls a metrics page until one of its lines satisfies ok.
func waitMetricLine(t *testing.T, url, what string, p *testenv.Process, timeout time.Duration, ok func(string) bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if resp, err := http.Get(url); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			for _, line := range strings.Split(string(b), "\n") {
				if ok(line) {
					return
				}
			}
		}
		if p.Exited() || time.Now().After(deadline) {
			t.Fatalf("%s never showed %s (exited: %v)", url, what, p.Exited())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitHTTP(t *testing.T, url string, p *testenv.Process, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if p.Exited() || time.Now().After(deadline) {
			t.Fatalf("%s not ready (exited: %v)", url, p.Exited())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Names that tie this test to the agent's and simulator's contracts.
const (
	// opcNamespace is the namespace index of the simulator's OPC UA nodes.
	opcNamespace = 1
	// mqttConnectedMetric prefixes the agent's metric for an MQTT source whose subscriptions are active.
	mqttConnectedMetric = `floorpulse_agent_source_subscribed{kind="mqtt"`
)
