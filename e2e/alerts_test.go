package e2e

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/floorpulse/floorpulse/pkg/testenv"
)

const webhookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// alertMsg is one alert webhook as received.
type alertMsg struct {
	Kind      string
	To        []string
	Shift     string
	ID        string // record id
	Equipment string
	Line      string
	Start     time.Time
	WebhookID string
	// AckLinks are the signed acknowledge links, by recipient.
	AckLinks map[string]string
}

// receiver is a real HTTP endpoint that verifies Standard Webhooks signatures.
// Deliveries are at least once: a hub killed after a webhook was answered
// but before it noted that sends it again with the same webhook-id, which
// receivers dedupe on (Standard Webhooks); so does this one.
type receiver struct {
	mu     sync.Mutex
	alerts []alertMsg
	bad    []string
	seen   map[string]bool
	dups   int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(webhookSecret, "whsec_"))
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(r.Header.Get("webhook-id") + "." + r.Header.Get("webhook-timestamp") + "."))
	mac.Write(body)
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if !strings.Contains(" "+r.Header.Get("webhook-signature")+" ", " "+want+" ") {
		rc.bad = append(rc.bad, "bad signature on "+r.Header.Get("webhook-id"))
	}
	var p struct {
		Type string `json:"type"`
		Data struct {
			Kind     string            `json:"kind"`
			To       []string          `json:"to"`
			Shift    string            `json:"shift"`
			AckLinks map[string]string `json:"ack_links"`
			Record   struct {
				ID        string    `json:"id"`
				Line      string    `json:"line"`
				Equipment string    `json:"equipment"`
				Start     time.Time `json:"start"`
			} `json:"record"`
		} `json:"data"`
	}
	if id := r.Header.Get("webhook-id"); rc.seen[id] {
		rc.dups++
		w.WriteHeader(http.StatusNoContent)
		return
	} else {
		rc.seen[id] = true
	}
	if err := json.Unmarshal(body, &p); err != nil || !strings.HasPrefix(p.Type, "floorpulse.alert.") {
		rc.bad = append(rc.bad, fmt.Sprintf("unexpected payload %s", body))
	} else {
		rc.alerts = append(rc.alerts, alertMsg{Kind: p.Data.Kind, To: p.Data.To, Shift: p.Data.Shift, ID: p.Data.Record.ID,
			Equipment: p.Data.Record.Equipment, Line: p.Data.Record.Line, Start: p.Data.Record.Start, WebhookID: r.Header.Get("webhook-id"),
			AckLinks: p.Data.AckLinks})
	}
	w.WriteHeader(http.StatusNoContent)
}

func (rc *receiver) snapshot() ([]alertMsg, []string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]alertMsg(nil), rc.alerts...), append([]string(nil), rc.bad...)
}

// TestEndToEndDowntimeAlerts runs simulator, agent and hub as real processes.
// The simulator injects known faults and a planned stop while live; every
// injected stop above the threshold inside a shift must give exactly one
// signed alert, to the leader of the shift on duty, at a real HTTP endpoint;
// none for the planned stop or for the line outside its shifts. An alert
// acknowledged over REST does not escalate; an unacknowledged one escalates
// once. The hub is SIGKILLed between alerts and restarted: no alert is lost
// or repeated, and a durable consumer on the events stream sees every event.
func TestEndToEndDowntimeAlerts(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	bin := binaries(t)
	influx := testenv.StartInflux(t, "floorpulse")
	mosq := testenv.StartMosquitto(t)
	dir := t.TempDir()
	natsPort, hubHTTP, agentHTTP := testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t)
	rc := &receiver{seen: map[string]bool{}}
	hook := httptest.NewServer(rc)
	defer hook.Close()

	// Shifts around now: L1 is in its "day" shift for the whole run (its
	// "night" shift is the rest of the day); L2 works only a "late" shift
	// that starts hours from now.
	loc, _ := time.LoadLocation("Europe/Berlin")
	now := time.Now().In(loc)
	hh := func(t time.Time) string { return t.Format("15:04") }
	dayStart, dayEnd := now.Add(-2*time.Hour).Truncate(time.Hour), now.Add(3*time.Hour).Truncate(time.Hour)
	lateStart, lateEnd := now.Add(5*time.Hour).Truncate(time.Hour), now.Add(6*time.Hour).Truncate(time.Hour)

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
    - {name: day, start: %q, end: %q}
    - {name: night, start: %q, end: %q}
line_calendars:
  L2: {shifts: [{name: late, start: %q, end: %q}]}
events:
  public_url: http://127.0.0.1:%d
  detectors: {downtime_min: 3s, micro_stop_max: 0s, activity_drop: 0, flatline_min: 0s, out_of_shift_min: 0s, idle_running_min: 0s, gauge_threshold: 1}
  retry: {min: 100ms, max: 1s}
  webhooks:
    - {name: leaders, url: %q, secret: %s, format: json, events: false}
  alerts:
    escalate_after: 8s
    management: [manager]
    people: {alice: {channel: leaders}, bob: {channel: leaders}, carol: {channel: leaders}, manager: {channel: leaders}}
    roster:
      L1: {day: [alice], night: [bob]}
      L2: {late: [carol]}
equipment:
  - {line: L1, class: cnc, ids: [M01, M02, M03]}
  - {line: L2, class: press, ids: [M01, M02]}
`, dir, hubHTTP, natsPort, influx.URL, hh(dayStart), hh(dayEnd), hh(dayEnd), hh(dayStart), hh(lateStart), hh(lateEnd), hubHTTP, hook.URL, webhookSecret))
	agentCfg := write("agent.yaml", agentConfig("e2e-alerts", dir, agentHTTP, natsPort, mosq.URL, 0, ""))
	addAgent(t, bin, hubCfg, dir, "e2e-alerts")
	cmmsSeed := addReader(t, bin, hubCfg, dir, "cmms")
	// Calm machines (long runs, one-second idles and setups, no random
	// breakdowns): the only stops above 3 s are the injected ones.
	simCfg := write("simulator.yaml", fmt.Sprintf(`site: plant1
timezone: Europe/Berlin
seed: 11
history: 30m
live: 55s
sample_interval: 2s
mqtt: {broker: %q, topic_prefix: floorpulse, qos: 1, client_id: floorpulse-simulator-e2e-alerts}
shifts:
  - {name: day, start: %q, end: %q}
  - {name: night, start: %q, end: %q}
  - {name: late, start: %q, end: %q}
lines:
  - {name: L1, source: mqtt, machines: 3, class: cnc, shifts: [day, night], weekend: true, operators: 3,
     mean_run: 100h, mean_idle: 1s, mean_setup: 1s, breakdowns_per_day: 0}
  - {name: L2, source: mqtt, machines: 2, class: press, shifts: [late], weekend: true, operators: 2,
     mean_run: 100h, mean_idle: 1s, mean_setup: 1s, breakdowns_per_day: 0}
faults:
  - {line: L1, machine: 1, at: 6s, duration: 16s, state: down}   # alert to alice; not acknowledged in 8 s: escalates
  - {line: L1, machine: 2, at: 8s, duration: 6s, state: idle}    # alert to alice; acknowledged: no escalation
  - {line: L2, machine: 1, at: 6s, duration: 9s, state: down}    # outside L2's shifts: no alert
  - {line: L1, machine: 3, at: 40s, duration: 6s, state: down}   # after the hub's restart: alert to alice
planned_stops:
  - {line: L1, at: 27s, duration: 8s}                            # planned: no alert
`, mosq.URL, hh(dayStart), hh(dayEnd), hh(dayEnd), hh(dayStart), hh(lateStart), hh(lateEnd)))

	token := apiToken(t, bin, hubCfg)
	hub := testenv.Start(t, "hub", exec.Command(bin+"/hub", "run", "-config", hubCfg))
	hubURL := fmt.Sprintf("http://127.0.0.1:%d", hubHTTP)
	waitHTTP(t, hubURL+"/readyz", hub, 60*time.Second)
	agent := testenv.Start(t, "agent", exec.Command(bin+"/agent", "run", "-config", agentCfg))
	waitMetric(t, fmt.Sprintf("http://127.0.0.1:%d/metrics", agentHTTP), mqttConnectedMetric, agent, 30*time.Second)

	// A maintenance system's durable consumer on the events stream, with
	// its own identity.
	cmmsKey, err := nats.NkeyOptionFromSeed(cmmsSeed)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(fmt.Sprintf("nats://127.0.0.1:%d", natsPort), cmmsKey, nats.CustomInboxPrefix("_INBOX.cmms"),
		nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	var cmu sync.Mutex
	cloud := map[string]map[uint64]bool{} // CloudEvent id (record-revision) -> stream sequences holding it
	recordRevs := map[string]uint64{}     // record id -> highest revision seen
	var cons jetstream.Consumer
	deadline := time.Now().Add(30 * time.Second)
	for {
		cons, err = js.CreateOrUpdateConsumer(context.Background(), "FLOORPULSE_EVENTS", jetstream.ConsumerConfig{
			Durable: "cmms", AckPolicy: jetstream.AckExplicitPolicy, DeliverPolicy: jetstream.DeliverAllPolicy})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("events stream: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		var ce struct {
			ID       string `json:"id"`
			EventID  string `json:"eventid"`
			Revision uint64 `json:"revision"`
		}
		md, _ := m.Metadata()
		if json.Unmarshal(m.Data(), &ce) == nil && md != nil {
			cmu.Lock()
			if cloud[ce.ID] == nil {
				cloud[ce.ID] = map[uint64]bool{}
			}
			// A redelivery of one stream message (its ack lost when the hub's
			// embedded server was killed) is at-least-once, not a duplicate.
			cloud[ce.ID][md.Sequence.Stream] = true
			if ce.Revision > recordRevs[ce.EventID] {
				recordRevs[ce.EventID] = ce.Revision
			}
			cmu.Unlock()
		}
		m.Ack()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Stop()

	truthPath := filepath.Join(dir, "truth.json")
	sim := testenv.Start(t, "simulator", exec.Command(bin+"/simulator", "run", "-config", simCfg, "-truth", truthPath))

	// The second alert (L1/M02): acknowledge it over REST, then SIGKILL the
	// hub and start it again while the run goes on.
	var acked alertMsg
	deadline = time.Now().Add(3 * time.Minute)
	for acked.ID == "" {
		alerts, _ := rc.snapshot()
		for _, a := range alerts {
			if a.Kind == "opened" && a.Equipment == "M02" && a.Line == "L1" {
				acked = a
			}
		}
		if time.Now().After(deadline) || sim.Exited() || hub.Exited() {
			t.Fatalf("no alert for L1/M02's injected idle stop; alerts so far: %+v", alerts)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// alice follows the link signed for her in the alert: no login, and
	// the acknowledgement is hers.
	link := acked.AckLinks["alice"]
	if !strings.HasPrefix(link, hubURL+"/api/v1/events/"+acked.ID+"/ack?link=") {
		t.Fatalf("alert without alice's acknowledge link: %+v", acked)
	}
	resp, err := http.Post(link, "application/x-www-form-urlencoded", strings.NewReader("note=on+my+way"))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("acknowledging %s: %v %v", acked.ID, err, resp)
	}
	resp.Body.Close()
	var rec struct {
		AcknowledgedBy string `json:"acknowledged_by"`
	}
	if err := getJSON(hubURL+"/api/v1/events/"+acked.ID, token, &rec); err != nil || rec.AcknowledgedBy != "alice" {
		t.Fatalf("acknowledged by %q (%v), want alice", rec.AcknowledgedBy, err)
	}
	if resp, err := http.Post(link, "application/x-www-form-urlencoded", strings.NewReader("note=again")); err != nil || resp.StatusCode == http.StatusOK {
		t.Fatalf("the link worked twice: %v %v", err, resp)
	} else {
		resp.Body.Close()
	}
	hub.Kill()
	t.Log("hub killed with SIGKILL after the first alerts; restarting it")
	hub = testenv.Start(t, "hub (restarted)", exec.Command(bin+"/hub", "run", "-config", hubCfg))
	waitHTTP(t, hubURL+"/readyz", hub, 60*time.Second)

	var tr struct {
		Faults []struct {
			Line, Equipment, State, Shift string
			Start, End                    time.Time
		} `json:"faults"`
		PlannedStops []struct {
			Line       string
			Start, End time.Time
		} `json:"planned_stops"`
	}
	deadline = time.Now().Add(3 * time.Minute)
	for {
		if b, err := os.ReadFile(truthPath); err == nil && json.Unmarshal(b, &tr) == nil {
			break
		}
		if sim.Exited() || time.Now().After(deadline) {
			t.Fatalf("simulator wrote no ground truth (exited: %v)", sim.Exited())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(tr.Faults) != 4 || len(tr.PlannedStops) != 1 {
		t.Fatalf("truth lists %d faults and %d planned stops, want 4 and 1", len(tr.Faults), len(tr.PlannedStops))
	}
	type want struct {
		line, eq string
		start    time.Time
	}
	var expected []want
	for _, f := range tr.Faults {
		if f.Line == "L1" {
			if f.Shift != "day" {
				t.Fatalf("fault %+v: the truth's shift on duty is %q, want day", f, f.Shift)
			}
			expected = append(expected, want{f.Line, f.Equipment, f.Start})
		}
	}

	// Every expected alert arrives once, to alice, in the day shift; the
	// unacknowledged M01 escalates once to the manager; nothing else.
	var problems []string
	deadline = time.Now().Add(90 * time.Second)
	for {
		problems = problems[:0]
		alerts, bad := rc.snapshot()
		problems = append(problems, bad...)
		opened := map[string][]alertMsg{}
		escalated := map[string]int{}
		for _, a := range alerts {
			switch a.Kind {
			case "opened":
				opened[a.Line+"/"+a.Equipment] = append(opened[a.Line+"/"+a.Equipment], a)
			case "escalation":
				escalated[a.Line+"/"+a.Equipment]++
				if len(a.To) != 1 || a.To[0] != "manager" {
					problems = append(problems, fmt.Sprintf("escalation of %s/%s to %v, want [manager]", a.Line, a.Equipment, a.To))
				}
			}
		}
		for _, w := range expected {
			got := opened[w.line+"/"+w.eq]
			n := 0
			for _, a := range got {
				if d := a.Start.Sub(w.start); d > -2*time.Second && d < 2*time.Second {
					n++
					if len(a.To) != 1 || a.To[0] != "alice" || a.Shift != "day" {
						problems = append(problems, fmt.Sprintf("alert for %s/%s went to %v in shift %q, want alice in day", w.line, w.eq, a.To, a.Shift))
					}
				}
			}
			if n != 1 {
				problems = append(problems, fmt.Sprintf("%d alerts for the stop of %s/%s at %s, want exactly 1", n, w.line, w.eq, w.start.Format("15:04:05.000")))
			}
		}
		total := 0
		for k, v := range opened {
			total += len(v)
			if strings.HasPrefix(k, "L2/") {
				problems = append(problems, fmt.Sprintf("alert for %s outside its shifts: %+v", k, v))
			}
		}
		if total != len(expected) {
			problems = append(problems, fmt.Sprintf("%d opened alerts, want %d (one per injected in-shift stop; none for the planned stop)", total, len(expected)))
		}
		if escalated["L1/M01"] != 1 {
			problems = append(problems, fmt.Sprintf("L1/M01 escalated %d times, want once", escalated["L1/M01"]))
		}
		if escalated["L1/M02"] != 0 {
			problems = append(problems, "L1/M02 escalated although acknowledged")
		}
		if len(problems) == 0 {
			break
		}
		if time.Now().After(deadline) {
			sort.Strings(problems)
			t.Fatalf("alerts differ from the injected faults:\n%s\nalerts: %+v", strings.Join(problems, "\n"), alerts)
		}
		time.Sleep(250 * time.Millisecond)
	}

	// The durable consumer saw every record's latest revision, each CloudEvent once.
	var list struct {
		Events []struct {
			ID       string `json:"id"`
			Revision uint64 `json:"revision"`
			Type     string `json:"type"`
		} `json:"events"`
	}
	deadline = time.Now().Add(30 * time.Second)
	for {
		problems = problems[:0]
		_ = getJSON(hubURL+"/api/v1/events?limit=500", token, &list)
		cmu.Lock()
		for _, e := range list.Events {
			if recordRevs[e.ID] != e.Revision {
				problems = append(problems, fmt.Sprintf("event %s (%s): stream has revision %d, store %d", e.ID, e.Type, recordRevs[e.ID], e.Revision))
			}
		}
		for id, seqs := range cloud {
			if len(seqs) != 1 {
				problems = append(problems, fmt.Sprintf("CloudEvent %s stored %d times in the stream", id, len(seqs)))
			}
		}
		cmu.Unlock()
		if len(list.Events) > 0 && len(problems) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("events stream vs store:\n%s", strings.Join(problems, "\n"))
		}
		time.Sleep(250 * time.Millisecond)
	}
	types := map[string]int{}
	for _, e := range list.Events {
		types[e.Type]++
	}
	rc.mu.Lock()
	t.Logf("%d alerts as injected; events on the stream by type: %v; %d webhook deliveries repeated with the same id after the kill", len(expected), types, rc.dups)
	rc.mu.Unlock()
}
