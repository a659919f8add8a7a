package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"

	"github.com/floorpulse/floorpulse/pkg/testenv"
)

// The hub binary, fed by the plant simulator, takes a machine added in the
// middle of last month by CSV (`hub masterdata import`) and one retired by
// REST, and restates last month's active rate of their line in InfluxDB as
// the simulator's ground truth says under the in-service rule (docs/hub.md):
// a machine counts in a month it was in service in, with its run time and
// threshold for that part of the month only. This month, the retired one is
// no longer registered.
func TestMasterDataAgainstTruth(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	bin := binaries(t)
	influx := testenv.StartInflux(t, "floorpulse")
	dir := t.TempDir()
	natsPort, hubHTTP, agentHTTP, mqttPort, opcPort := testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t)
	write := writer(t, dir)
	// A threshold near what the machines run in a month, so the proration
	// decides; M03 reports but is not in the YAML registry.
	const thresholdHours = 250
	hubCfg := write("hub.yaml", fmt.Sprintf(`site: plant1
timezone: Europe/Berlin
data_dir: %s/hub
http: 127.0.0.1:%d
nats: {listen: "127.0.0.1:%d"}
influx: {url: %q, bucket: floorpulse/autogen, create_database: true}
activity: {periods: [day, month], active_threshold: %dh}
calendar:
  shifts:
    - {name: early, start: "06:00", end: "14:00"}
    - {name: late,  start: "14:00", end: "22:00"}
equipment:
  - {line: L1, class: cnc, ids: [M01, M02]}
`, dir, hubHTTP, natsPort, influx.URL, thresholdHours))
	addAgent(t, bin, hubCfg, dir, "md")
	out, err := exec.Command(bin+"/hub", "token", "add", "erp", "-role", "admin", "-config", hubCfg).Output()
	if err != nil {
		t.Fatalf("hub token add: %v", err)
	}
	admin := strings.TrimSpace(string(out))
	broker := fmt.Sprintf("tcp://127.0.0.1:%d", mqttPort)
	agentCfg := write("agent.yaml", agentConfig("md", dir, agentHTTP, natsPort, broker, opcPort, ""))
	simCfg := write("simulator.yaml", fmt.Sprintf(`site: plant1
timezone: Europe/Berlin
seed: 19
history: 1100h
live: 15s
sample_interval: 20m
mqtt: {listen: "127.0.0.1:%d", topic_prefix: floorpulse, qos: 1, client_id: floorpulse-simulator-md}
opcua: {host: 127.0.0.1, port: %d}
shifts:
  - {name: early, start: "06:00", end: "14:00"}
  - {name: late,  start: "14:00", end: "22:00"}
lines:
  - {name: L1, source: mqtt, machines: 3, class: cnc, shifts: [early, late], operators: 4}
`, mqttPort, opcPort))

	hub := testenv.Start(t, "hub", exec.Command(bin+"/hub", "run", "-config", hubCfg))
	base := fmt.Sprintf("http://127.0.0.1:%d", hubHTTP)
	waitHTTP(t, base+"/readyz", hub, 60*time.Second)
	truthPath := filepath.Join(dir, "truth.json")
	sim := testenv.Start(t, "simulator", exec.Command(bin+"/simulator", "run", "-config", simCfg, "-truth", truthPath))
	testenv.WaitPort(t, fmt.Sprintf("127.0.0.1:%d", mqttPort), 30*time.Second)
	testenv.Start(t, "agent", exec.Command(bin+"/agent", "run", "-config", agentCfg))
	deadline := time.Now().Add(3 * time.Minute)
	for !strings.Contains(sim.Output(), "history published") {
		if sim.Exited() || time.Now().After(deadline) {
			t.Fatalf("the simulator did not publish its history:\n%s", sim.Output())
		}
		time.Sleep(200 * time.Millisecond)
	}

	loc, _ := time.LoadLocation("Europe/Berlin")
	now := time.Now().In(loc)
	this := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, loc)
	last := this.AddDate(0, -1, 0)
	month := last.Format("2006-01")
	added, retired := last.AddDate(0, 0, 13), last.AddDate(0, 0, 9) // the 14th and the 10th

	// The ground truth (written when the short live phase ends): each
	// machine's run time per local day.
	var tr truth
	deadline = time.Now().Add(2 * time.Minute)
	for ; ; time.Sleep(time.Second) {
		b, err := os.ReadFile(truthPath)
		if err == nil && json.Unmarshal(b, &tr) == nil && len(tr.Equipment) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no truth: %v", err)
		}
	}
	runIn := func(eq string, from, until time.Time) time.Duration {
		var ms int64
		for _, e := range tr.Equipment {
			if e.Line != "L1" || e.Equipment != eq {
				continue
			}
			for d := from; d.Before(until); d = d.AddDate(0, 0, 1) {
				ms += e.Days[d.Format("2006-01-02")].RunMS
			}
		}
		return time.Duration(ms) * time.Millisecond
	}
	monthLen := this.Sub(last)
	// expect counts last month's registered and active machines of L1, each
	// in service over [from, until) of the month.
	expect := func(service map[string][2]time.Time) (active, registered int64, hours float64) {
		for eq, in := range service {
			from, until := in[0], in[1]
			registered++
			thr := time.Duration(float64(thresholdHours*time.Hour) * float64(until.Sub(from)) / float64(monthLen))
			run := runIn(eq, from, until)
			hours += run.Hours()
			t.Logf("%s: in service %s to %s, run %.2f h, threshold %.2f h", eq, from.Format("01-02"), until.Format("01-02"), run.Hours(), thr.Hours())
			if run >= thr {
				active++
			}
		}
		return active, registered, hours
	}
	q := influxdb2.NewClient(influx.URL, "").QueryAPI("")
	lineMonth := func(start time.Time) map[string]any {
		res, err := q.Query(context.Background(), fmt.Sprintf(`from(bucket:"floorpulse/autogen") |> range(start: %s, stop: %s)
			|> filter(fn: (r) => r._measurement == "line_activity" and r.period == "month" and r.line == "L1")`,
			start.UTC().Format(time.RFC3339), start.AddDate(0, 0, 1).UTC().Format(time.RFC3339)))
		got := map[string]any{}
		if err == nil {
			for res.Next() {
				got[res.Record().Field()] = res.Record().Value()
			}
		}
		return got
	}
	// wait waits for L1's month point: registered, active (< 0: not
	// checked), the rate and the run hours of the machines in service.
	wait := func(step string, start time.Time, active, registered int64, hours float64) {
		t.Helper()
		deadline := time.Now().Add(90 * time.Second)
		for {
			got := lineMonth(start)
			rate := float64(active) / float64(registered)
			run, _ := got["run_hours"].(float64)
			if got["registered"] == registered && (active < 0 || got["active"] == active && got["active_rate"] == rate && math.Abs(run-hours) < 0.002) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: L1 %s = active %v of %v (rate %v), %v h; want %d of %d, %.3f h", step, start.Format("2006-01"),
					got["active"], got["registered"], got["active_rate"], got["run_hours"], active, registered, hours)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	a, r, h := expect(map[string][2]time.Time{"M01": {last, this}, "M02": {last, this}})
	wait("the YAML registry", last, a, r, h)

	// M03 added on the 14th, by CSV with the hub's command.
	csvPath := write("equipment.csv", "id,line,class,in_service_from\nM03,L1,cnc,"+added.Format("2006-01-02")+"\n")
	cmd := exec.Command(bin+"/hub", "masterdata", "import", "-entity", "equipment", "-f", csvPath, "-url", base)
	cmd.Env = append(os.Environ(), "FLOORPULSE_TOKEN="+admin)
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "1 added") {
		t.Fatalf("hub masterdata import: %v\n%s", err, out)
	}
	// M02 retired on the 10th, by REST.
	req, _ := http.NewRequest("PUT", base+"/api/v1/masterdata/equipment",
		strings.NewReader(`[{"id": "M02", "line": "L1", "class": "cnc", "in_service_until": "`+retired.Format("2006-01-02")+`"}]`))
	req.Header.Set("Authorization", "Bearer "+admin)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"added":1`) {
		t.Fatalf("retire: %s %s", resp.Status, body)
	}
	a, r, h = expect(map[string][2]time.Time{"M01": {last, this}, "M02": {last, retired}, "M03": {added, this}})
	wait("after the imports, "+month, last, a, r, h)
	// This month M02 is retired: M01 and M03 are registered.
	wait("after the imports, this month", this, -1, 2, 0)
}
