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

	"github.com/floorpulse/floorpulse/hub/internal/auth"
	"github.com/floorpulse/floorpulse/hub/internal/calendar"
	"github.com/floorpulse/floorpulse/hub/internal/config"
	"github.com/floorpulse/floorpulse/hub/internal/masterdata"
	"github.com/floorpulse/floorpulse/pkg/signal"
	"github.com/floorpulse/floorpulse/pkg/testenv"
)

// A closure of line L1 imported by CSV for a past day of October, and a
// daily planned stop imported by REST (JSON) over three days holding the
// DST change, turn that time of L1's machines into planned_stop and change
// their availability and planned-stop seconds in InfluxDB as hand-computed
// below; L2 keeps its figures. A malformed file changes nothing; the same
// file again changes nothing; a cancelled closure gives its time back; a
// closure of every line ('*') stops L2 too. No restart in between; the
// offline commands' calendars hold them too.
func TestImportedClosuresAndPlannedStops(t *testing.T) {
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
  - {line: L1, class: cnc, ids: [M01, M02]}
  - {line: L2, class: cnc, ids: [P01]}
`, filepath.Join(dir, "hub"), httpPort, natsPort, in.URL)))
	if err != nil {
		t.Fatal(err)
	}
	admin, err := auth.AddToken(cfg.Tokens(), "planner", auth.Admin, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	seed := addAgent(t, cfg, "test", "s1")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			if err := <-done; err != nil {
				t.Errorf("hub: %v", err)
			}
		}
	}
	t.Cleanup(stop)
	nc := connectAgent(t, fmt.Sprintf("nats://127.0.0.1:%d", natsPort), "test", seed)
	js, _ := jetstream.New(nc)
	loc := cfg.Location
	at := func(m time.Month, d, h int) time.Time { return time.Date(2026, m, d, h, 0, 0, 0, loc) }
	sig := func(eq, line string, t time.Time, on bool) signal.Signal {
		s := run(eq, t, on)
		s.Line = line
		return s
	}
	// October 2026 in Berlin is 745 h, the line works around the clock. M01
	// and P01 run 240 h, up to the 11th, and are idle after; M02 is idle all
	// month. Each is observed up to 1 November.
	publish(t, js, []signal.Signal{
		sig("M01", "L1", at(10, 1, 0), true), sig("M01", "L1", at(10, 11, 0), false), sig("M01", "L1", at(11, 1, 0), false),
		sig("M02", "L1", at(10, 1, 0), false), sig("M02", "L1", at(11, 1, 0), false),
		sig("P01", "L2", at(10, 1, 0), true), sig("P01", "L2", at(10, 11, 0), false), sig("P01", "L2", at(11, 1, 0), false),
	})
	base := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	q := influxdb2.NewClient(in.URL, "").QueryAPI("")
	// month reads an equipment's October availability and planned-stop seconds.
	month := func(eq string) (avail, planned any) {
		res, err := q.Query(context.Background(), `from(bucket:"floorpulse/autogen") |> range(start: 2026-09-01T00:00:00Z, stop: 2026-10-15T00:00:00Z)
			|> filter(fn: (r) => r._measurement == "equipment_activity" and r.period == "month" and r.equipment == "`+eq+`")
			|> filter(fn: (r) => r._field == "availability" or r._field == "planned_stop_seconds")`)
		if err != nil {
			return nil, nil
		}
		for res.Next() {
			if res.Record().Field() == "availability" {
				avail = res.Record().Value()
			} else {
				planned = res.Record().Value()
			}
		}
		return avail, planned
	}
	h := 3600.0
	// wait waits for each equipment's October figures: planned-stop hours
	// and availability = run / (745 h - planned stop).
	type want struct {
		eq           string
		run, planned float64
	}
	wait := func(step string, ws ...want) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for _, w := range ws {
			for {
				avail, planned := month(w.eq)
				if avail == w.run/(745-w.planned) && planned == w.planned*h {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s: %s availability %v, planned stop %v s; want %v, %v s", step, w.eq, avail, planned, w.run/(745-w.planned), w.planned*h)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
	}
	wait("YAML calendar", want{"M01", 240, 0}, want{"M02", 0, 0}, want{"P01", 240, 0})

	// L1 is closed on the 14th for the inventory (24 h), imported by CSV: M01
	// and M02 idle then, so 24 h of planned stop; L2 as before.
	closure := "line,name,from,to\nL1,Inventory,2026-10-14,2026-10-15\n"
	if code, body := send(t, "PUT", base+"/api/v1/masterdata/closures", admin, "text/csv", closure); code != http.StatusOK || !strings.Contains(body, `"added":1`) {
		t.Fatalf("closure: %d %s", code, body)
	}
	wait("closure imported", want{"M01", 240, 24}, want{"M02", 0, 24}, want{"P01", 240, 0})
	if code, body := send(t, "PUT", base+"/api/v1/masterdata/closures", admin, "text/csv", closure); code != http.StatusOK || !strings.Contains(body, `"unchanged":1`) {
		t.Fatalf("closure again: %d %s", code, body)
	}

	// Maintenance 01:00-04:00 every day from the 24th to the 26th, by REST:
	// 3 h, 4 h on the 25th (the clocks go back from 03:00 to 02:00), 3 h.
	stops := `[{"line":"L1","name":"maintenance","start":"01:00","end":"04:00","valid_from":"2026-10-24","valid_until":"2026-10-27"}]`
	if code, body := send(t, "PUT", base+"/api/v1/masterdata/planned_stops", admin, "application/json", stops); code != http.StatusOK || !strings.Contains(body, `"added":1`) {
		t.Fatalf("planned stops: %d %s", code, body)
	}
	wait("planned stop imported", want{"M01", 240, 34}, want{"M02", 0, 34}, want{"P01", 240, 0})

	// A malformed file: every bad row named, nothing applied.
	_, before := send(t, "GET", base+"/api/v1/masterdata/closures", admin, "", "")
	_, auditBefore := send(t, "GET", base+"/api/v1/masterdata/audit", admin, "", "")
	bad := "line,name,from,to\n" +
		"L1,Fire drill,2026-10-20T14:00,2026-10-20T16:00\n" + // good alone: would close 2 h
		"L9,Audit,2026-10-21,2026-10-22\n" + // unknown line
		"L1,Audit,2026-10-23,2026-10-22\n" + // ends before it starts
		"L1,Fire drill,2026-10-20T15:00,2026-10-20T17:00\n" // overlaps line 2
	code, body := send(t, "PUT", base+"/api/v1/masterdata/closures", admin, "text/csv", bad)
	var ans masterdata.ImportJSON
	if err := json.Unmarshal([]byte(body), &ans); code != http.StatusUnprocessableEntity || err != nil {
		t.Fatalf("malformed: %d %s", code, body)
	}
	var named []string
	for _, p := range ans.Problems {
		named = append(named, fmt.Sprintf("%d %s %s", p.Line, p.Column, p.Code))
	}
	if strings.Join(named, ",") != "3 line unknown_line,4 to not_after,5 from closure_overlap" {
		t.Fatalf("problems %+v", ans.Problems)
	}
	_, after := send(t, "GET", base+"/api/v1/masterdata/closures", admin, "", "")
	_, auditAfter := send(t, "GET", base+"/api/v1/masterdata/audit", admin, "", "")
	if after != before || auditAfter != auditBefore {
		t.Fatalf("a malformed file changed the records:\n%s\n%s\nor the audit:\n%s\n%s", before, after, auditBefore, auditAfter)
	}
	if want := "line,name,from,to,cancelled\nL1,Inventory,2026-10-14,2026-10-15,\n"; after != want {
		t.Fatalf("export:\n%s\nwant:\n%s", after, want)
	}
	time.Sleep(300 * time.Millisecond) // several flushes: the figures stay
	wait("after the malformed file", want{"M01", 240, 34}, want{"M02", 0, 34}, want{"P01", 240, 0})

	// The inventory is called off: the same row, cancelled. Its 24 h are
	// idle again.
	if code, body := send(t, "PUT", base+"/api/v1/masterdata/closures", admin, "text/csv", "line,name,from,to,cancelled\nL1,Inventory,2026-10-14,2026-10-15,yes\n"); code != http.StatusOK || !strings.Contains(body, `"changed":1`) {
		t.Fatalf("cancel: %d %s", code, body)
	}
	wait("closure cancelled", want{"M01", 240, 10}, want{"M02", 0, 10}, want{"P01", 240, 0})

	// A works holiday on the 20th for the whole site (line '*'): 24 h of
	// planned stop on both lines.
	if code, body := send(t, "PUT", base+"/api/v1/masterdata/closures", admin, "text/csv", "line,name,from,to\n*,Works holiday,2026-10-20,2026-10-21\n"); code != http.StatusOK || !strings.Contains(body, `"added":1`) {
		t.Fatalf("site closure: %d %s", code, body)
	}
	wait("site closure imported", want{"M01", 240, 34}, want{"M02", 0, 34}, want{"P01", 240, 24})

	// The offline commands compute with the same calendar.
	stop()
	opts, err := EngineOptions(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var planned time.Duration
	for _, s := range opts.Calendar("s1", "L1").Spans(at(10, 1, 0).UnixNano(), at(11, 1, 0).UnixNano()) {
		if s.Kind == calendar.PlannedStop {
			planned += time.Duration(s.End - s.Start)
		}
	}
	if planned != 34*time.Hour {
		t.Fatalf("offline: L1 planned stop %s", planned)
	}
	if cal := opts.Calendar("s1", "L2"); cal == nil || len(cal.Closures) != 1 || cal.Closures[0].Name != "Works holiday" {
		t.Fatalf("offline: L2 calendar %+v", cal)
	}
}
