package e2e

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/floorpulse/floorpulse/pkg/testenv"
)

// The hub binary, fed by the plant simulator through an agent, serves its
// pages: each loads in a browser in both languages with no console error,
// the overview shows the API's figures of the last whole month, and the
// live board gets its first push from the stream. (The pages' behaviour in
// detail is tested in hub/internal/web.)
func TestDashboardOfARealHub(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	testenv.Chromium(t) // skips without a browser, before anything starts
	bin := binaries(t)
	influx := testenv.StartInflux(t, "floorpulse")
	dir := t.TempDir()
	natsPort, hubHTTP, agentHTTP, mqttPort, opcPort := testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t)
	write := writer(t, dir)
	hubCfg := write("hub.yaml", fmt.Sprintf(`site: plant1
timezone: Europe/Berlin
data_dir: %s/hub
http: 127.0.0.1:%d
nats: {listen: "127.0.0.1:%d"}
influx: {url: %q, bucket: floorpulse/autogen, create_database: true}
activity: {periods: [day, month]}
calendar:
  shifts:
    - {name: early, start: "06:00", end: "14:00"}
    - {name: late,  start: "14:00", end: "22:00"}
    - {name: night, start: "22:00", end: "06:00"}
equipment:
  - {line: L1, class: cnc, ids: [M01, M02, M03]}
  - {line: L2, class: press, ids: [M01, M02, M03, M04]}   # M04 never reports
`, dir, hubHTTP, natsPort, influx.URL))
	addAgent(t, bin, hubCfg, dir, "ui")
	add := exec.Command(bin+"/hub", "user", "add", "sam", "-role", "shift_leader", "-config", hubCfg)
	add.Stdin = strings.NewReader("a long enough password\n")
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("hub user add: %v\n%s", err, out)
	}
	token := apiToken(t, bin, hubCfg)
	broker := fmt.Sprintf("tcp://127.0.0.1:%d", mqttPort)
	agentCfg := write("agent.yaml", agentConfig("ui", dir, agentHTTP, natsPort, broker, opcPort, ""))
	simCfg := write("simulator.yaml", fmt.Sprintf(`site: plant1
timezone: Europe/Berlin
seed: 11
history: 1000h
live: 10m
sample_interval: 20m
mqtt: {listen: "127.0.0.1:%d", topic_prefix: floorpulse, qos: 1, client_id: floorpulse-simulator-ui}
opcua: {host: 127.0.0.1, port: %d}
shifts:
  - {name: early, start: "06:00", end: "14:00"}
  - {name: late,  start: "14:00", end: "22:00"}
  - {name: night, start: "22:00", end: "06:00"}
lines:
  - {name: L1, source: mqtt, machines: 3, class: cnc, shifts: [early, late], operators: 5}
  - {name: L2, source: mqtt, machines: 3, class: press, shifts: [early, late, night], weekend: true, operators: 6}
`, mqttPort, opcPort))

	hub := testenv.Start(t, "hub", exec.Command(bin+"/hub", "run", "-config", hubCfg))
	base := fmt.Sprintf("http://127.0.0.1:%d", hubHTTP)
	waitHTTP(t, base+"/readyz", hub, 60*time.Second)
	sim := testenv.Start(t, "simulator", exec.Command(bin+"/simulator", "run", "-config", simCfg, "-truth", filepath.Join(dir, "truth.json")))
	testenv.WaitPort(t, fmt.Sprintf("127.0.0.1:%d", mqttPort), 30*time.Second)
	testenv.Start(t, "agent", exec.Command(bin+"/agent", "run", "-config", agentCfg))
	deadline := time.Now().Add(3 * time.Minute)
	for !strings.Contains(sim.Output(), "history published") {
		if sim.Exited() || time.Now().After(deadline) {
			t.Fatalf("the simulator did not publish its history:\n%s", sim.Output())
		}
		time.Sleep(200 * time.Millisecond)
	}

	// The last whole month, once the hub has taken all of it.
	var months struct{ Months []string }
	type siteJSON struct {
		Site struct {
			RunHours   float64 `json:"run_hours"`
			ActiveRate float64 `json:"active_rate"`
		}
	}
	var month string
	var figures siteJSON
	for last := -1.0; ; time.Sleep(2 * time.Second) {
		if err := getJSON(base+"/api/v1/months", token, &months); err != nil || len(months.Months) < 2 {
			continue
		}
		month = months.Months[len(months.Months)-2]
		if err := getJSON(base+"/api/v1/months/"+month, token, &figures); err != nil {
			t.Fatal(err)
		}
		if figures.Site.RunHours > 0 && figures.Site.RunHours == last {
			break
		}
		last = figures.Site.RunHours
		if time.Now().After(deadline) {
			t.Fatalf("the figures of %s did not settle (%v)", month, last)
		}
	}

	tab := testenv.NewTab(t, 1280, 900, false)
	tab.Do(chromedp.Navigate(base+"/login"),
		chromedp.SendKeys(`input[name="name"]`, "sam"),
		chromedp.SendKeys(`input[name="password"]`, "a long enough password"),
		chromedp.Submit(`input[name="password"]`),
		chromedp.WaitReady(`body[data-ready="yes"]`))
	han := regexp.MustCompile(`\p{Han}`)
	for _, lang := range []string{"en", "zh-CN"} {
		for _, path := range []string{"/?month=" + month, "/lines/L1?month=" + month, "/machines/L2/M01?month=" + month,
			"/operators?month=" + month, "/events", "/actions?new=machine&line=L2&equipment=M01", "/lines/L2/live", "/wall"} {
			sep := "?"
			if strings.Contains(path, "?") {
				sep = "&"
			}
			tab.Do(chromedp.Navigate(base+path+sep+"lang="+lang), chromedp.WaitReady(`body[data-ready="yes"]`))
			if strings.HasPrefix(path, "/lines/L2/live") || path == "/wall" {
				if err := tab.Within(5*time.Second, `document.body.dataset.updates !== undefined`); err != nil {
					t.Errorf("%s: no push from the stream: %v", path, err)
				}
			}
			if errs := tab.Errors(); len(errs) > 0 {
				t.Errorf("%s (%s): console: %s", path, lang, strings.Join(errs, "\n"))
			}
			text := testenv.Eval[string](tab, `document.querySelector('main').innerText`)
			if han.MatchString(text) != (lang == "zh-CN") {
				t.Errorf("%s (%s): Chinese shown: %v", path, lang, han.MatchString(text))
			}
		}
	}
	tab.Do(chromedp.Navigate(base+"/?lang=en&month="+month), chromedp.WaitReady(`body[data-ready="yes"]`))
	got := testenv.Eval[string](tab, `document.querySelector('[data-fig="site.run_hours"]').innerText`)
	if want := fmt.Sprintf("%.1f", figures.Site.RunHours); strings.ReplaceAll(got, ",", "") != want {
		t.Errorf("overview of %s: site run hours %q, API %s", month, got, want)
	}

	// Segments: every registered machine has one (the silent L2/M04 dormant,
	// never active), the overview counts them as the API does, and the
	// hub wrote them to InfluxDB at the month's start.
	var segs struct {
		Assignments []struct {
			Kind, Line, ID, Segment string
			Reason                  struct{ Code string }
		}
	}
	if err := getJSON(base+"/api/v1/months/"+month+"/segments", token, &segs); err != nil {
		t.Fatal(err)
	}
	machines := 0
	for _, a := range segs.Assignments {
		if a.Kind != "equipment" {
			continue
		}
		machines++
		if a.Line == "L2" && a.ID == "M04" && (a.Segment != "dormant" || a.Reason.Code != "never_active") {
			t.Errorf("L2/M04: %s (%s), want dormant (never_active)", a.Segment, a.Reason.Code)
		}
	}
	if machines != 7 {
		t.Errorf("%d machines with a segment in %s, want 7", machines, month)
	}
	shown := testenv.Eval[int](tab, `[...document.querySelectorAll('#segments-equipment [data-fig="count"]')].reduce((n, e) => n + +e.innerText, 0)`)
	if shown != machines {
		t.Errorf("overview of %s: %d machines in the segment counts, API %d", month, shown, machines)
	}
	// The hub writes the month holding now and the month before.
	local := time.Now().In(mustZone(t, "Europe/Berlin"))
	start := time.Date(local.Year(), local.Month()-1, 1, 0, 0, 0, 0, local.Location())
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Second) {
		n := 0
		for _, s := range influxSeries(t, influx, fmt.Sprintf(`SELECT "reason" FROM "floorpulse"."autogen"."equipment_segment" WHERE time = %d GROUP BY "equipment", "line"`, start.UnixNano())) {
			n += len(s.Values)
		}
		if n == machines {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d segment points of %s in InfluxDB, want %d", n, start.Format("2006-01"), machines)
		}
	}
}

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}
