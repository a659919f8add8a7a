package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api"

	"github.com/floorpulse/floorpulse/pkg/testenv"
)

// scaleTruth is the part of the ground truth this test reads: run time and
// states per machine-day and machine-month, operator months and faults.
type scaleTruth struct {
	Timezone  string `json:"timezone"`
	Equipment []struct {
		Line      string                 `json:"line"`
		Equipment string                 `json:"equipment"`
		Source    string                 `json:"source"`
		Start     time.Time              `json:"start"`
		End       time.Time              `json:"end"`
		Months    map[string]truthPeriod `json:"months"`
		Days      map[string]truthPeriod `json:"days"`
	} `json:"equipment"`
	Operators []struct {
		Operator string `json:"operator"`
		Months   map[string]struct {
			RunSeconds float64 `json:"run_seconds"`
		} `json:"months"`
	} `json:"operators"`
	Faults []struct {
		Line      string    `json:"line"`
		Equipment string    `json:"equipment"`
		State     string    `json:"state"`
		Start     time.Time `json:"start"`
		End       time.Time `json:"end"`
	} `json:"faults"`
}

type truthPeriod struct {
	RunMS  int64            `json:"run_ms"`
	States map[string]int64 `json:"states"` // <state>_ms
}

// hubStates are the states the hub writes as <state>_seconds fields.
var hubStates = []string{"running", "idle", "setup", "down", "planned_stop", "no_shift", "unknown"}

// scaleLine is one line of the simulated plant and its calendar in the hub.
type scaleLine struct {
	name, source, class string
	machines, operators int
	shifts              []string
	weekend             bool
	extra               string // more simulator keys
}

// Fifty machines on five lines (four over MQTT, one over OPC UA), thirty
// operators, 40 days of history across the autumn DST change, faults
// injected live on an MQTT and the OPC UA line; the hub's calendar matches
// the simulator's shifts. Every machine-day's and machine-month's run time
// and time in each state, every line's active rate and every operator-month
// read back from InfluxDB equal the ground truth.
func TestEndToEndFiftyMachines(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	began := time.Now()
	bin := binaries(t)

	lines := []scaleLine{
		{name: "L1", source: "mqtt", class: "cnc", machines: 12, operators: 9, shifts: []string{"early", "late"}},
		{name: "L2", source: "mqtt", class: "press", machines: 12, operators: 8, shifts: []string{"early", "late", "night"}, weekend: true},
		{name: "L3", source: "mqtt", class: "assembly", machines: 10, operators: 5, shifts: []string{"early"}, extra: "mean_run: 60m, mean_idle: 15m"},
		{name: "L4", source: "mqtt", class: "weld", machines: 12, operators: 5, shifts: []string{"early", "late", "night"}, extra: "breakdowns_per_day: 1, mean_repair: 3h"},
		{name: "L5", source: "opcua", class: "mill", machines: 4, operators: 3, shifts: []string{"early", "late", "night"}, weekend: true,
			extra: "mean_run: 4s, mean_idle: 2s, mean_setup: 3s, breakdowns_per_day: 500, mean_repair: 3s"},
	}
	var nMachines, nOperators int
	for _, l := range lines {
		nMachines += l.machines
		nOperators += l.operators
	}
	if nMachines != 50 || nOperators != 30 {
		t.Fatalf("plant of %d machines and %d operators, want 50 and 30", nMachines, nOperators)
	}

	influx := testenv.StartInflux(t, "floorpulse")
	mosq := testenv.StartMosquitto(t)
	dir := t.TempDir()
	natsPort, hubHTTP, agentHTTP, opcPort := testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t)
	write := writer(t, dir)

	var simLines, lineCals, registry, nodes strings.Builder
	registered := map[string]int{}
	for _, l := range lines {
		registered[l.name] = l.machines
		fmt.Fprintf(&simLines, "  - {name: %s, source: %s, machines: %d, class: %s, shifts: [%s], weekend: %v, operators: %d", l.name, l.source, l.machines, l.class, strings.Join(l.shifts, ", "), l.weekend, l.operators)
		if l.extra != "" {
			simLines.WriteString(", " + l.extra)
		}
		simLines.WriteString("}\n")
		var ids, shifts []string
		for i := 1; i <= l.machines; i++ {
			ids = append(ids, fmt.Sprintf("M%02d", i))
		}
		days := ""
		if !l.weekend {
			days = ", days: [mon-fri]"
		}
		for _, s := range l.shifts {
			shifts = append(shifts, fmt.Sprintf("{name: %s%s}", s, days))
		}
		fmt.Fprintf(&lineCals, "  %s: {shifts: [%s]}\n", l.name, strings.Join(shifts, ", "))
		fmt.Fprintf(&registry, "  - {line: %s, class: %s, ids: [%s]}\n", l.name, l.class, strings.Join(ids, ", "))
		if l.source == "opcua" {
			for _, m := range ids {
				for _, s := range []string{"run", "state", "count", "power", "operator"} {
					fmt.Fprintf(&nodes, "      - {node_id: \"ns=%d;s=plant1.%s.%s.%s\", line: %s, equipment: %s, signal: %s}\n", opcNamespace, l.name, m, s, l.name, m, s)
				}
			}
		}
	}
	const shifts = `    - {name: early, start: "06:00", end: "14:00"}
    - {name: late,  start: "14:00", end: "22:00"}
    - {name: night, start: "22:00", end: "06:00"}
`
	hubCfg := write("hub.yaml", fmt.Sprintf(`site: plant1
timezone: Europe/Berlin
data_dir: %s/hub
http: 127.0.0.1:%d
nats: {listen: "127.0.0.1:%d"}
influx: {url: %q, bucket: floorpulse/autogen, create_database: true}
activity: {periods: [day, month]}
calendar:
  shifts:
%sline_calendars:
%sequipment:
%s`, dir, hubHTTP, natsPort, influx.URL, shifts, lineCals.String(), registry.String()))
	agentCfg := write("agent.yaml", agentConfig("e2e-scale", dir, agentHTTP, natsPort, mosq.URL, opcPort, nodes.String()))
	addAgent(t, bin, hubCfg, dir, "e2e-scale")
	simCfg := write("simulator.yaml", fmt.Sprintf(`site: plant1
timezone: Europe/Berlin
seed: 11
history: 960h
live: 12s
sample_interval: 20m
mqtt: {broker: %q, topic_prefix: floorpulse, qos: 1, client_id: floorpulse-simulator-e2e-scale}
opcua: {host: 127.0.0.1, port: %d}
shifts:
%slines:
%sfaults:
  - {line: L1, machine: 3, at: 2s, duration: 6s, state: down}
  - {line: L2, machine: 5, at: 1s, duration: 5s, state: idle}
  - {line: L5, machine: 2, at: 3s, duration: 5s, state: down}
`, mosq.URL, opcPort, shifts, simLines.String()))

	hub := testenv.Start(t, "hub", exec.Command(bin+"/hub", "run", "-config", hubCfg))
	waitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/readyz", hubHTTP), hub, 60*time.Second)
	agent := testenv.Start(t, "agent", exec.Command(bin+"/agent", "run", "-config", agentCfg))
	// The agent's MQTT session must exist before the simulator publishes history.
	waitMetric(t, fmt.Sprintf("http://127.0.0.1:%d/metrics", agentHTTP), mqttConnectedMetric, agent, 30*time.Second)
	truthPath := filepath.Join(dir, "truth.json")
	sim := testenv.Start(t, "simulator", exec.Command(bin+"/simulator", "run", "-config", simCfg, "-truth", truthPath))

	var tr scaleTruth
	deadline := time.Now().Add(4 * time.Minute)
	for {
		if b, err := os.ReadFile(truthPath); err == nil && json.Unmarshal(b, &tr) == nil {
			break
		}
		if sim.Exited() || time.Now().After(deadline) {
			t.Fatalf("simulator wrote no ground truth (exited: %v)", sim.Exited())
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("ground truth written after %s", time.Since(began).Round(100*time.Millisecond))
	loc, err := time.LoadLocation(tr.Timezone)
	if err != nil {
		t.Fatal(err)
	}

	// Expected figures from the ground truth. A figure is keyed by line,
	// equipment, period start (local "2006-01" or "2006-01-02") and field.
	want := map[fig]float64{}
	tol := map[fig]float64{}
	wantActive := map[em]bool{}
	activeCount := map[[2]string]int{} // line, month
	months := map[string]bool{}
	var opcRunMS int64
	for _, e := range tr.Equipment {
		add := func(period string, p truthPeriod, runTol float64) {
			k := fig{e.Line, e.Equipment, period, "run_seconds"}
			want[k], tol[k] = float64(p.RunMS)/1000, runTol
			for _, s := range hubStates {
				v, ok := p.States[s+"_ms"]
				if !ok {
					t.Fatalf("%s/%s %s: ground truth has no %s_ms", e.Line, e.Equipment, period, s)
				}
				k := fig{e.Line, e.Equipment, period, s + "_seconds"}
				want[k], tol[k] = float64(v)/1000, 0.001
			}
		}
		for month, p := range e.Months {
			months[month] = true
			add(month, p, 0.0005)
			active := time.Duration(p.RunMS)*time.Millisecond >= threshold
			wantActive[em{e.Line, e.Equipment, month}] = active
			if active {
				activeCount[[2]string{e.Line, month}]++
			}
			if e.Source == "opcua" {
				opcRunMS += p.RunMS
			}
		}
		for day, p := range e.Days {
			add(day, p, 0.0005)
		}
	}
	wantOp := map[string]float64{} // operator month -> run seconds over the site
	for _, o := range tr.Operators {
		for month, f := range o.Months {
			wantOp[o.Operator+" "+month] = f.RunSeconds
		}
	}
	var nDays, nMonths int
	for _, e := range tr.Equipment {
		nDays += len(e.Days)
		nMonths += len(e.Months)
	}
	if len(tr.Equipment) != 50 || len(tr.Operators) != 30 || nDays < 46*40 || opcRunMS == 0 || len(tr.Faults) != 3 {
		t.Fatalf("ground truth too thin: %d machines, %d operators, %d machine-days, %d ms of OPC UA run time, %d faults",
			len(tr.Equipment), len(tr.Operators), nDays, opcRunMS, len(tr.Faults))
	}

	q := influxdb2.NewClient(influx.URL, "").QueryAPI("")
	var problems []string
	var points int
	deadline = time.Now().Add(4 * time.Minute)
	for {
		problems = problems[:0]
		got, gotActive, gotRate, gotOp, err := readScale(q, loc)
		points = len(got)
		if err != nil {
			problems = append(problems, err.Error())
		}
		for k, w := range want {
			if g, ok := got[k]; !ok {
				problems = append(problems, fmt.Sprintf("%s/%s %s %s: no value, want %.3f", k.line, k.eq, k.period, k.field, w))
			} else if math.Abs(g-w) > tol[k] {
				problems = append(problems, fmt.Sprintf("%s/%s %s %s: %.3f, want %.3f (off by %.3f s)", k.line, k.eq, k.period, k.field, g, w, g-w))
			}
		}
		for k, w := range wantActive {
			if g, ok := gotActive[k]; !ok || g != w {
				problems = append(problems, fmt.Sprintf("%s/%s %s: active %v (present %v), want %v", k.line, k.eq, k.month, g, ok, w))
			}
		}
		for month := range months {
			for line, n := range registered {
				w := float64(activeCount[[2]string{line, month}]) / float64(n)
				if g, ok := gotRate[[2]string{line, month}]; !ok || math.Abs(g-w) > 1e-9 {
					problems = append(problems, fmt.Sprintf("line %s %s: active_rate %v (present %v), want %v", line, month, g, ok, w))
				}
			}
		}
		for k, w := range wantOp {
			// An operator never logged in during a month has no point; the
			// ground truth lists the month with 0.
			if g, ok := gotOp[k]; (!ok && w != 0) || math.Abs(g-w) > 0.001 {
				problems = append(problems, fmt.Sprintf("operator %s: run_seconds %.4f (present %v), want %.4f", k, g, ok, w))
			}
		}
		for k, g := range gotOp {
			if _, ok := wantOp[k]; !ok && g > 0.0005 {
				problems = append(problems, fmt.Sprintf("operator %s: %.3f run seconds the ground truth does not have", k, g))
			}
		}
		if len(problems) == 0 {
			break
		}
		if time.Now().After(deadline) || hub.Exited() || agent.Exited() {
			sort.Strings(problems)
			n := len(problems)
			if n > 40 {
				problems = append(problems[:40], fmt.Sprintf("... and %d more", n-40))
			}
			t.Fatalf("%d figures in InfluxDB differ from the ground truth:\n%s", n, strings.Join(problems, "\n"))
		}
		time.Sleep(2 * time.Second)
	}
	var nStates int
	for k := range want {
		if k.field != "run_seconds" {
			nStates++
		}
	}
	t.Logf("after %s: %d machine-months and %d machine-days (run seconds and %d state durations, %d injected faults), %d line-months and %d operator-months match the ground truth (%d figures read)",
		time.Since(began).Round(100*time.Millisecond), nMonths, nDays, nStates, len(tr.Faults), len(months)*len(registered), len(wantOp), points)
}

// fig names one figure of one equipment period.
type fig struct{ line, eq, period, field string }

// readScale reads equipment_activity (days and months: run and state
// seconds, active), line_activity active rates and site-wide operator run
// seconds back through Flux.
func readScale(q api.QueryAPI, loc *time.Location) (figs map[fig]float64, active map[em]bool, rate map[[2]string]float64, op map[string]float64, err error) {
	figs, active, rate, op = map[fig]float64{}, map[em]bool{}, map[[2]string]float64{}, map[string]float64{}
	res, err := q.Query(context.Background(), `from(bucket:"floorpulse/autogen")
		|> range(start: 2020-01-01T00:00:00Z, stop: 2100-01-01T00:00:00Z)
		|> filter(fn: (r) => (r._measurement == "equipment_activity" and (r.period == "month" or r.period == "day") and
		                      (r._field == "run_seconds" or r._field == "active" or r._field =~ /^(running|idle|setup|down|planned_stop|no_shift|unknown)_seconds$/))
		                  or (r._measurement == "line_activity" and r.period == "month" and r._field == "active_rate")
		                  or (r._measurement == "operator_activity" and r.scope == "site" and r._field == "run_seconds"))`)
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("flux query: %w", err)
	}
	defer res.Close()
	for res.Next() {
		r := res.Record()
		month := r.Time().In(loc).Format("2006-01")
		line, _ := r.ValueByKey("line").(string)
		switch r.Measurement() {
		case "equipment_activity":
			eq, _ := r.ValueByKey("equipment").(string)
			period := month
			if p, _ := r.ValueByKey("period").(string); p == "day" {
				period = r.Time().In(loc).Format("2006-01-02")
			}
			switch v := r.Value().(type) {
			case float64:
				figs[fig{line, eq, period, r.Field()}] = v
			case bool:
				active[em{line, eq, month}] = v
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
	return figs, active, rate, op, res.Err()
}
