package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/auth"
	"github.com/floorpulse/floorpulse/hub/internal/config"
	"github.com/floorpulse/floorpulse/pkg/signal"
	"github.com/floorpulse/floorpulse/pkg/testenv"
)

// The hub consumes signals from its embedded JetStream, writes monthly run
// hours to a real InfluxDB, and ignores duplicates and bad messages.
func TestHubWritesMonthlyActivity(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	in := testenv.StartInflux(t, "floorpulse")
	natsPort, httpPort := testenv.FreePort(t), testenv.FreePort(t)
	dir := t.TempDir()
	cfgText := fmt.Sprintf(`site: s1
timezone: Europe/Berlin
data_dir: %s
http: 127.0.0.1:%d
nats: {listen: "127.0.0.1:%d", batch: 50}
influx: {url: %q, bucket: floorpulse/autogen, create_database: true}
state: {signal_timeout: 0s, accept_age: 876000h}     # run changes only, no heartbeats; signals of fixed dates
activity: {flush_interval: 50ms}
segments: {refresh: 1s}
equipment:
  - {line: L1, class: cnc, ids: [M01, M02]}
`, filepath.Join(dir, "hub"), httpPort, natsPort, in.URL)
	cfg, err := config.Decode("hub.yaml", []byte(cfgText))
	if err != nil {
		t.Fatal(err)
	}
	token := addToken(t, cfg.Tokens())
	seed := addAgent(t, cfg, "test", "s1")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
	t.Cleanup(func() { cancel(); <-done })

	nc := connectAgent(t, fmt.Sprintf("nats://127.0.0.1:%d", natsPort), "test", seed)
	js, _ := jetstream.New(nc)
	loc := cfg.Location
	// M01 runs 100 h in October 2026 (active) with a stop across the month end,
	// including the 25 h day of the DST change.
	at := func(mon time.Month, d, h int) time.Time { return time.Date(2026, mon, d, h, 0, 0, 0, loc) }
	sigs := []signal.Signal{
		run("M01", at(10, 20, 0), true),
		run("M01", at(10, 24, 4), false), // 100 h
		run("M01", at(10, 31, 22), true),
		run("M01", at(11, 1, 3), false), // 2 h in October, 3 h in November... DST is Oct 25
		run("M01", at(11, 2, 0), false),
	}
	publish(t, js, sigs)
	publish(t, js, sigs[:3]) // duplicates change nothing
	if _, err := js.Publish(context.Background(), "floorpulse.signals.s1.L1.M01", []byte("not json")); err != nil {
		t.Fatal(err)
	}
	// M02 running, published on M01's subject: set aside, M02 stays silent.
	forged, _ := signal.Marshal(run("M02", at(10, 20, 0), true))
	if _, err := js.Publish(context.Background(), "floorpulse.signals.s1.L1.M01", forged); err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"2026-10-01": 102 * 3600, "2026-11-01": 3 * 3600}
	q := influxdb2.NewClient(in.URL, "").QueryAPI("")
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := map[string]float64{}
		// Up to November: the hub also writes the periods holding its
		// clock's now for every machine (checked below).
		res, err := q.Query(context.Background(), `from(bucket:"floorpulse/autogen") |> range(start: 2026-01-01T00:00:00Z, stop: 2026-11-30T00:00:00Z)
			|> filter(fn: (r) => r._measurement == "equipment_activity" and r.period == "month" and r.equipment == "M01" and r._field == "run_seconds")`)
		if err == nil {
			for res.Next() {
				got[res.Record().Time().In(loc).Format("2006-01-02")] = res.Record().Value().(float64)
			}
		}
		if fmt.Sprint(got) == fmt.Sprint(want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("run_seconds in InfluxDB = %v (err %v), want %v", got, err, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// M02 never reported: it has the point of the month holding now all the same.
	now := activity.MonthOf(time.Now(), loc)
	res, err := q.Query(context.Background(), fmt.Sprintf(`from(bucket:"floorpulse/autogen") |> range(start: %s, stop: %s)
		|> filter(fn: (r) => r._measurement == "equipment_activity" and r.period == "month" and r.equipment == "M02" and r._field == "run_seconds")`,
		now.Start.UTC().Format(time.RFC3339), now.End.UTC().Format(time.RFC3339)))
	if err != nil {
		t.Fatal(err)
	}
	var m02 []float64
	for res.Next() {
		m02 = append(m02, res.Record().Value().(float64))
	}
	if len(m02) != 1 || m02[0] != 0 {
		t.Fatalf("silent M02's month %s: %v", now.Name(), m02)
	}
	// The line's active rate counts the silent M02: 1 of 2.
	if code := status(t, fmt.Sprintf("http://127.0.0.1:%d/api/v1/months/2026-10", httpPort), ""); code != http.StatusUnauthorized {
		t.Fatalf("month API without a token: %d", code)
	}
	// The monthly report is served behind the guard (CSV here: no browser needed).
	if rep := get(t, fmt.Sprintf("http://127.0.0.1:%d/api/v1/months/2026-10/report?format=csv", httpPort), token); !strings.Contains(rep, "equipment,2026-10,s1,L1,M01,") {
		t.Fatalf("report csv: %s", rep)
	}
	body := get(t, fmt.Sprintf("http://127.0.0.1:%d/api/v1/months/2026-10", httpPort), token)
	if !strings.Contains(body, `"active_rate": 0.5`) || !strings.Contains(body, `"calendar_hours": 745`) {
		t.Fatalf("month API: %s", body)
	}
	m := get(t, fmt.Sprintf("http://127.0.0.1:%d/metrics", httpPort), "")
	if !strings.Contains(m, "floorpulse_hub_bad_messages_total 1") || !strings.Contains(m, "floorpulse_hub_subject_mismatch_total 1") {
		t.Fatalf("bad message or subject mismatch not counted: %s", m)
	}
	// The figures above came through InfluxDB writes that the metrics count.
	for _, want := range []string{"floorpulse_hub_nats_connected 1", "floorpulse_hub_influx_write_failures_total 0"} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(m, "floorpulse_hub_influx_writes_total 0") || !strings.Contains(m, "floorpulse_hub_influx_writes_total ") {
		t.Errorf("no InfluxDB write counted: %s", m)
	}
	// The segments of the month holding now: the silent M02 is dormant,
	// never active, in InfluxDB and in the API.
	deadline = time.Now().Add(30 * time.Second)
	for {
		res, err := q.Query(context.Background(), fmt.Sprintf(`from(bucket:"floorpulse/autogen") |> range(start: %s, stop: %s)
			|> filter(fn: (r) => r._measurement == "equipment_segment" and r.equipment == "M02" and r._field == "reason")`,
			now.Start.UTC().Format(time.RFC3339), now.End.UTC().Format(time.RFC3339)))
		var got []string
		if err == nil {
			for res.Next() {
				got = append(got, fmt.Sprint(res.Record().ValueByKey("segment"), " ", res.Record().Value()))
			}
		}
		if fmt.Sprint(got) == "[dormant never_active]" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("M02's segment point in %s: %v (err %v)", now.Name(), got, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if segs := get(t, fmt.Sprintf("http://127.0.0.1:%d/api/v1/months/%s/segments", httpPort, now.Name()), token); !strings.Contains(segs, `"id": "M02"`) ||
		!strings.Contains(segs, `"code": "never_active"`) {
		t.Fatalf("segments API: %s", segs)
	}
	// An action opened by a shift leader's token is in InfluxDB at once; a
	// viewer may not open one.
	leader, err := auth.AddToken(cfg.Tokens(), "lead", auth.ShiftLeader, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	body = `{"what":"check the spindle","owner":"tom","due":"2026-12-31","subject":{"kind":"machine","line":"L1","equipment":"M01"}}`
	post := func(token string) int {
		req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("http://127.0.0.1:%d/api/v1/actions", httpPort), strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(token); code != http.StatusForbidden {
		t.Errorf("a viewer opens an action: %d", code)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) { // the tokens file is read again
		code := post(leader)
		if code == http.StatusCreated {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a shift leader opens an action: %d", code)
		}
	}
	if got := in.Query(t, `SELECT "status", "what" FROM "floorpulse"."autogen"."action" WHERE "equipment" = 'M01'`); !strings.Contains(got, `"open","check the spindle"`) {
		t.Errorf("the action in InfluxDB: %s", got)
	}
}

func run(eq string, t time.Time, on bool) signal.Signal {
	return signal.Signal{Site: "s1", Line: "L1", Equipment: eq, Name: signal.Run, Value: signal.Bool(on), Time: t, Agent: "test"}
}

func connect(t *testing.T, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func publish(t *testing.T, js jetstream.JetStream, sigs []signal.Signal) {
	t.Helper()
	for _, s := range sigs {
		b, err := signal.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(20 * time.Second)
		for {
			_, err = js.Publish(context.Background(), s.Subject(signal.SubjectPrefix), b, jetstream.WithMsgID(s.ID()))
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("publishing: %v", err)
			}
			time.Sleep(50 * time.Millisecond) // the hub creates the stream at start
		}
	}
}

// get returns the body at url, asked with an API token ("": none).
func get(t *testing.T, url, token string) string {
	t.Helper()
	resp := do(t, url, token)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// status returns the status code of url, asked with an API token ("": none).
func status(t *testing.T, url, token string) int {
	t.Helper()
	resp := do(t, url, token)
	resp.Body.Close()
	return resp.StatusCode
}

func do(t *testing.T, url, token string) *http.Response {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// addToken adds a viewer's API token to the tokens file at path.
func addToken(t *testing.T, path string) string {
	t.Helper()
	token, err := auth.AddToken(path, "test", auth.Viewer, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return token
}
