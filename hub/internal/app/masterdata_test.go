package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/floorpulse/floorpulse/hub/internal/alert"
	"github.com/floorpulse/floorpulse/hub/internal/auth"
	"github.com/floorpulse/floorpulse/hub/internal/config"
	"github.com/floorpulse/floorpulse/hub/internal/masterdata"
	"github.com/floorpulse/floorpulse/pkg/signal"
	"github.com/floorpulse/floorpulse/pkg/testenv"
)

// A machine added in the middle of October by CSV and one retired by REST
// change October's active rate of their line in InfluxDB as the rule says
// (docs/hub.md, "In service"): hand-computed below. A malformed CSV names
// every bad row and changes nothing: not the records, not the audit log,
// not the figures. No restart in between.
func TestMasterDataChangesTheActiveRate(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	in := testenv.StartInflux(t, "floorpulse")
	natsPort, httpPort := testenv.FreePort(t), testenv.FreePort(t)
	dir := t.TempDir()
	cfg, err := config.Decode("hub.yaml", []byte(fmt.Sprintf(`site: s1
timezone: Europe/Berlin
data_dir: %s
http: 127.0.0.1:%d
nats: {listen: "127.0.0.1:%d", batch: 50}
influx: {url: %q, bucket: floorpulse/autogen, create_database: true}
state: {signal_timeout: 0s, accept_age: 876000h}
activity: {flush_interval: 50ms}
equipment:
  - {line: L1, class: cnc, ids: [M01, M02, M03]}
`, filepath.Join(dir, "hub"), httpPort, natsPort, in.URL)))
	if err != nil {
		t.Fatal(err)
	}
	admin, err := auth.AddToken(cfg.Tokens(), "erp", auth.Admin, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	viewer := addToken(t, cfg.Tokens())
	seed := addAgent(t, cfg, "test", "s1")
	start := func() (stop func()) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- Run(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
		var once bool
		stop = func() {
			if !once {
				once = true
				cancel()
				if err := <-done; err != nil {
					t.Errorf("hub: %v", err)
				}
			}
		}
		t.Cleanup(stop)
		return stop
	}
	stop := start()
	nc := connectAgent(t, fmt.Sprintf("nats://127.0.0.1:%d", natsPort), "test", seed)
	js, _ := jetstream.New(nc)
	loc := cfg.Location
	at := func(d, h int) time.Time { return time.Date(2026, 10, d, h, 0, 0, 0, loc) }
	// October 2026 in Berlin is 745 h. M01 runs 100 h; M02 30 h, by the 4th;
	// M03 is silent; M09, not in the YAML, runs 50 h from the 20th.
	publish(t, js, []signal.Signal{
		run("M01", at(2, 0), true), run("M01", at(6, 4), false),
		run("M02", at(3, 0), true), run("M02", at(4, 6), false),
		run("M09", at(20, 0), true), run("M09", at(22, 2), false),
	})
	base := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	q := influxdb2.NewClient(in.URL, "").QueryAPI("")
	// line reads L1's October point of line_activity.
	line := func() map[string]any {
		res, err := q.Query(context.Background(), `from(bucket:"floorpulse/autogen") |> range(start: 2026-09-01T00:00:00Z, stop: 2026-10-15T00:00:00Z)
			|> filter(fn: (r) => r._measurement == "line_activity" and r.period == "month" and r.line == "L1")`)
		got := map[string]any{}
		if err != nil {
			return got
		}
		for res.Next() {
			got[res.Record().Field()] = res.Record().Value()
		}
		return got
	}
	waitRate := func(step string, active, registered int64) map[string]any {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			got := line()
			if got["active"] == active && got["registered"] == registered && got["active_rate"] == float64(active)/float64(registered) {
				return got
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: L1 October = active %v, registered %v, rate %v; want %d of %d", step, got["active"], got["registered"], got["active_rate"], active, registered)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// Before: M01 of M01, M02, M03.
	waitRate("YAML registry", 1, 3)

	// M09 added on the 14th by CSV: 433 h in service (the 25 h day of the
	// DST change included), threshold 80 h x 433/745 = 46.5 h, 50 h run:
	// active. 2 of 4. A dry run first changes nothing.
	csv := "id,line,class,ideal_cycle_s,rated_power_kw,criticality,in_service_from\nM09,L1,cnc,42,7.5,B,2026-10-14\n"
	if code, body := send(t, "PUT", base+"/api/v1/masterdata/equipment", viewer, "text/csv", csv); code != http.StatusForbidden {
		t.Fatalf("viewer import: %d %s", code, body)
	}
	code, body := send(t, "PUT", base+"/api/v1/masterdata/equipment?dry_run=1", admin, "text/csv", csv)
	if code != http.StatusOK || !strings.Contains(body, `"added":1`) || !strings.Contains(body, `"dry_run":true`) {
		t.Fatalf("dry run: %d %s", code, body)
	}
	if _, exp := send(t, "GET", base+"/api/v1/masterdata/equipment", admin, "", ""); strings.Count(exp, "\n") != 1 {
		t.Fatalf("a dry run imported: %s", exp)
	}
	if code, body = send(t, "PUT", base+"/api/v1/masterdata/equipment", admin, "text/csv", csv); code != http.StatusOK || !strings.Contains(body, `"added":1`) {
		t.Fatalf("import: %d %s", code, body)
	}
	waitRate("M09 added on the 14th", 2, 4)
	// Its segment is new from its in-service date, not from its first data
	// (the 20th).
	code, body = send(t, "GET", base+"/api/v1/months/2026-10/segments", viewer, "", "")
	var segs struct {
		Assignments []struct {
			ID, Segment string
			Reason      struct{ Code, Date string }
		}
	}
	if err := json.Unmarshal([]byte(body), &segs); code != http.StatusOK || err != nil {
		t.Fatalf("segments: %d %v %s", code, err, body)
	}
	found := false
	for _, a := range segs.Assignments {
		if a.ID == "M09" {
			found = true
			if a.Segment != "new" || a.Reason.Code != "in_service" || a.Reason.Date != "2026-10-14" {
				t.Fatalf("M09's segment after the import: %+v, want new, in service since 2026-10-14", a)
			}
		}
	}
	if !found {
		t.Fatalf("M09 has no segment after the import: %s", body)
	}

	// M02 retired on the 5th by REST (JSON): 96 h in service, threshold
	// 80 h x 96/745 = 10.3 h, 30 h run: active. 3 of 4.
	retire := `[{"id":"M02","line":"L1","class":"cnc","in_service_until":"2026-10-05"}]`
	if code, body = send(t, "PUT", base+"/api/v1/masterdata/equipment", admin, "application/json", retire); code != http.StatusOK || !strings.Contains(body, `"added":1`) {
		t.Fatalf("retire: %d %s", code, body)
	}
	got := waitRate("M02 retired on the 5th", 3, 4)
	if u := got["utilization"].(float64); u != (100+30+50)/(745+96+433+745.0) {
		t.Fatalf("utilization %v over the time in service", u)
	}
	// The same import again changes nothing and audits nothing.
	if code, body = send(t, "PUT", base+"/api/v1/masterdata/equipment", admin, "application/json", retire); code != http.StatusOK || !strings.Contains(body, `"unchanged":1`) {
		t.Fatalf("again: %d %s", code, body)
	}

	// A malformed file: every bad row named, nothing applied.
	_, before := send(t, "GET", base+"/api/v1/masterdata/equipment", admin, "", "")
	_, auditBefore := send(t, "GET", base+"/api/v1/masterdata/audit", admin, "", "")
	bad := "id,line,class,in_service_from,in_service_until\n" +
		"M03,L1,cnc,,2026-10-01\n" + // good alone: would retire M03
		"M04,L7,cnc,,\n" + // unknown line
		"M05,L1,cnc,2026-10-32,\n" + // bad date
		"M03,L1,cnc,,\n" // duplicate id
	code, body = send(t, "PUT", base+"/api/v1/masterdata/equipment", admin, "text/csv", bad)
	var ans masterdata.ImportJSON
	if err := json.Unmarshal([]byte(body), &ans); code != http.StatusUnprocessableEntity || err != nil {
		t.Fatalf("malformed: %d %s", code, body)
	}
	var lines []string
	for _, p := range ans.Problems {
		lines = append(lines, fmt.Sprintf("%d %s", p.Line, p.Column))
	}
	if strings.Join(lines, ",") != "3 line,4 in_service_from,5 id" {
		t.Fatalf("problems %v", ans.Problems)
	}
	code, body = send(t, "PUT", base+"/api/v1/masterdata/equipment", admin, "text/csv", "id,line,klass\nM03,L1,cnc\n")
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, `"column":"klass"`) {
		t.Fatalf("wrong column: %d %s", code, body)
	}
	_, after := send(t, "GET", base+"/api/v1/masterdata/equipment", admin, "", "")
	_, auditAfter := send(t, "GET", base+"/api/v1/masterdata/audit", admin, "", "")
	if after != before || auditAfter != auditBefore {
		t.Fatalf("a malformed file changed the records:\n%s\n%s\nor the audit:\n%s\n%s", before, after, auditBefore, auditAfter)
	}
	want := "id,site,line,class,ideal_cycle_s,rated_power_kw,criticality,in_service_from,in_service_until\n" +
		"M02,s1,L1,cnc,,,,,2026-10-05\nM09,s1,L1,cnc,42,7.5,B,2026-10-14,\n"
	if after != want {
		t.Fatalf("export:\n%s\nwant:\n%s", after, want)
	}
	var audit struct{ Changes []masterdata.Change }
	if err := json.Unmarshal([]byte(auditAfter), &audit); err != nil || len(audit.Changes) != 2 || audit.Changes[1].By != "erp" ||
		audit.Changes[1].Key != "s1/M02" || audit.Changes[1].After["in_service_until"] != "2026-10-05" {
		t.Fatalf("audit: %s", auditAfter)
	}
	time.Sleep(300 * time.Millisecond) // several flushes: the rate stays
	waitRate("after the malformed files", 3, 4)

	// L1, around the clock in the YAML, works one day shift from the 20th to
	// the 22nd: the shift figures appear, restated. M09 ran from the 20th
	// 00:00 to the 22nd 02:00: 12 h, 12 h and 0 h of its day shifts.
	dayShifts := func(measurement, filter string) string {
		res, err := q.Query(context.Background(), `from(bucket:"floorpulse/autogen") |> range(start: 2026-10-01T00:00:00Z, stop: 2026-11-01T00:00:00Z)
			|> filter(fn: (r) => r._measurement == "`+measurement+`" and r.period == "shift" and r.shift == "day" and r._field == "running_seconds"`+filter+`)`)
		var got []string
		if err == nil {
			for res.Next() {
				got = append(got, fmt.Sprintf("%s %v", res.Record().Time().In(loc).Format("01-02T15:04"), res.Record().Value()))
			}
		}
		return strings.Join(got, ", ")
	}
	waitShifts := func(step, measurement, filter, want string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			got := dayShifts(measurement, filter)
			if got == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: day shifts %q, want %q", step, got, want)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if got := dayShifts("equipment_activity", ` and r.equipment == "M09"`); got != "" {
		t.Fatalf("day shifts before the import: %s", got)
	}
	shifts := "line,name,start,end,valid_from,valid_until\nL1,day,06:00,18:00,2026-10-20,2026-10-23\n"
	if code, body = send(t, "PUT", base+"/api/v1/masterdata/shifts", admin, "text/csv", shifts); code != http.StatusOK || !strings.Contains(body, `"added":1`) {
		t.Fatalf("shifts: %d %s", code, body)
	}
	waitShifts("shift calendar imported", "equipment_activity", ` and r.equipment == "M09"`, "10-20T06:00 43200, 10-21T06:00 43200, 10-22T06:00 0")
	waitShifts("shift calendar imported", "line_activity", ` and r.line == "L1"`, "10-20T06:00 43200, 10-21T06:00 43200, 10-22T06:00 0")

	// A restarted hub computes with the imported equipment: its October
	// line figures, dropped from InfluxDB, come back the same from a recompute.
	stop()
	resp, err := http.PostForm(in.URL+"/query", map[string][]string{"db": {"floorpulse"}, "q": {`DROP MEASUREMENT "line_activity"`}})
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("dropping line_activity: %v %v", resp, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if got := line(); len(got) != 0 {
		t.Fatalf("line_activity still there after %s: %v", b, got)
	}
	start()
	deadline := time.Now().Add(20 * time.Second)
	for {
		req, _ := http.NewRequest("POST", base+"/api/v1/recompute?from=2026-10&to=2026-10", nil)
		req.Header.Set("Authorization", "Bearer "+admin)
		resp, err := http.DefaultClient.Do(req) // refused until the hub listens
		if err == nil {
			resp.Body.Close()
			if code = resp.StatusCode; code == http.StatusAccepted {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("recompute after the restart: %d %v", code, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	waitRate("recomputed after a restart", 3, 4)
	// The restarted hub has the imported shifts too: the line's day shifts
	// (run time of M01, M02, M03 and M09) are recomputed.
	waitShifts("recomputed after a restart", "line_activity", ` and r.line == "L1"`, "10-20T06:00 43200, 10-21T06:00 43200, 10-22T06:00 0")
}

// send makes a request with a bearer token and returns its status and body.
func send(t *testing.T, method, url, token, contentType, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// An imported roster reaches the alerts at once, and again after a restart.
func TestImportedRosterReachesAlerts(t *testing.T) {
	cfg, err := config.Decode("hub.yaml", []byte(fmt.Sprintf(`site: s1
timezone: Europe/Berlin
data_dir: %s
calendar: {shifts: [{name: early, start: "06:00", end: "14:00"}, {name: late, start: "14:00", end: "22:00"}]}
equipment: [{line: L1, ids: [M01]}]
events:
  webhooks: [{name: leaders, url: "http://127.0.0.1:1/hook", secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}]
  alerts:
    people: {alice: {channel: leaders}, bob: {channel: leaders}}
    roster: {L1: {early: [alice], late: [alice]}}
`, t.TempDir())))
	if err != nil {
		t.Fatal(err)
	}
	open := func() (*hub, func()) {
		h := &hub{cfg: cfg, dated: &alert.Dated{}, cals: newCalendars(cfg)}
		st, err := h.openMasterData()
		if err != nil {
			t.Fatal(err)
		}
		h.md.SetHooks(masterdata.Hooks{Rosters: h.dated.Set})
		return h, func() { st.Close() }
	}
	h, closeStore := open()
	roster := alert.Roster{Lines: cfg.Events.Alerts.Roster, Dated: h.dated}
	start := time.Date(2026, 10, 14, 6, 0, 0, 0, cfg.Location)
	if got := roster.LeadersOn("L1", "early", start); fmt.Sprint(got) != "[alice]" {
		t.Fatalf("before: %v", got)
	}
	recs, err := h.md.Parse(masterdata.Rosters, "text/csv", strings.NewReader("date,line,shift,leaders\n2026-10-14,L1,early,bob\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.md.Import(masterdata.Rosters, recs, "hr", false); err != nil {
		t.Fatal(err)
	}
	if got := roster.LeadersOn("L1", "early", start); fmt.Sprint(got) != "[bob]" {
		t.Fatalf("after the import: %v", got)
	}
	if _, err := h.md.Parse(masterdata.Rosters, "text/csv", strings.NewReader("date,line,shift,leaders\n2026-10-14,L1,night,carol\n")); err == nil ||
		!strings.Contains(err.Error(), `no shift "night"`) || !strings.Contains(err.Error(), `"carol" is not in events.alerts.people`) {
		t.Fatalf("bad roster: %v", err)
	}
	closeStore()
	h, closeStore = open()
	defer closeStore()
	roster.Dated = h.dated
	if got := roster.LeadersOn("L1", "early", start); fmt.Sprint(got) != "[bob]" {
		t.Fatalf("after a restart: %v", got)
	}
	if got := roster.LeadersOn("L1", "late", start.Add(8*time.Hour)); fmt.Sprint(got) != "[alice]" {
		t.Fatalf("another shift: %v", got)
	}
}
