package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"

	"github.com/floorpulse/floorpulse/hub/internal/config"
	"github.com/floorpulse/floorpulse/hub/internal/detect"
	"github.com/floorpulse/floorpulse/hub/internal/engine"
	"github.com/floorpulse/floorpulse/hub/internal/influx"
	"github.com/floorpulse/floorpulse/hub/internal/store"
	"github.com/floorpulse/floorpulse/pkg/signal"
	"github.com/floorpulse/floorpulse/pkg/testenv"
)

// openPart is a partition over the store at path (made or reopened, as at a
// hub start) with M01 and M02 registered on L1, a 30-minute signal timeout,
// and a flusher whose clock is *now.
func openPart(t *testing.T, path string, w writer, now *time.Time) *part {
	t.Helper()
	cfg, err := config.Decode("hub.yaml", []byte("site: s1\ntimezone: UTC\nequipment: [{line: L1, ids: [M01, M02]}]\nstate: {signal_timeout: 30m}\n"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	saved, err := st.Load()
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	eng := engine.New(cfg.EngineOptions(), saved)
	pt := &part{partSpec: partSpec{path: path}, log: log, st: st, state: st, eng: eng, every: time.Hour}
	pt.fl = newFlusher(eng, st, w, 10*time.Second, log)
	pt.fl.clock = func() time.Time { return *now }
	pt.runner = detect.New(detect.Options{Engine: eng, Sink: noSink{}, Log: log})
	pt.adm = newAdmission(cfg, func() time.Time { return *now }, eng, newAgentCounts(), log)
	return pt
}

// influxSeries returns the rows of an InfluxQL answer, each as its values
// joined by spaces.
func influxSeries(t *testing.T, answer string) []string {
	t.Helper()
	var r struct {
		Results []struct {
			Series []struct {
				Values [][]any `json:"values"`
			} `json:"series"`
			Error string `json:"error"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(answer), &r); err != nil || len(r.Results) != 1 || r.Results[0].Error != "" {
		t.Fatalf("influx answer %s: %v", answer, err)
	}
	var out []string
	for _, s := range r.Results[0].Series {
		for _, v := range s.Values {
			parts := make([]string, len(v))
			for i, x := range v {
				parts[i] = fmt.Sprint(x)
			}
			out = append(out, strings.Join(parts, " "))
		}
	}
	return out
}

// The state that holds now is in InfluxDB: a machine running at its latest
// observation has its running point and the change to unknown where the
// signal timeout will have passed, not an unknown point at its latest
// observation. When the machine reports again, when late data restates
// its past, and when the hub restarts, equipment_state holds exactly the
// points of the whole data written at once into a fresh database: no
// stale open interval stays beside the new one. A registered machine that
// never reports has its period points from the first flush on.
func TestOpenIntervalInInflux(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	in := testenv.StartInflux(t, "live")
	in.Query(t, "CREATE DATABASE fresh")
	t0 := time.Date(2026, 10, 5, 8, 0, 0, 0, time.UTC)
	run := runEvery
	states := func(db string) []string {
		t.Helper()
		return influxSeries(t, in.Query(t, `SELECT "state" FROM "`+db+`"."autogen"."equipment_state" WHERE "equipment" = 'M01'`))
	}
	newWriter := func(db string) *influx.Writer {
		w := influx.New(influx.Config{URL: in.URL, Bucket: db + "/autogen", Timeout: 10 * time.Second})
		t.Cleanup(w.Close)
		return w
	}
	step := func(pt *part, sigs []signal.Signal) {
		t.Helper()
		if err := pt.handle(context.Background(), sigs); err != nil {
			t.Fatal(err)
		}
		if err := pt.fl.flush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "state.db")
	now := t0.Add(2*time.Hour + 5*time.Minute)
	live := newWriter("live")
	pt := openPart(t, path, live, &now)

	// Idle from 08:00, running from 09:00, last observed at 10:00.
	step(pt, append(run(t0, t0.Add(50*time.Minute), false), run(t0.Add(time.Hour), t0.Add(2*time.Hour), true)...))
	want := []string{"2026-10-05T08:00:00Z idle", "2026-10-05T09:00:00Z running", "2026-10-05T10:30:00Z unknown"}
	if got := states("live"); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("after the first batch:\n got %v\nwant %v", got, want)
	}

	// It reports again: running to 11:00, idle from 11:10 on.
	now = t0.Add(3*time.Hour + 15*time.Minute)
	more := append(run(t0.Add(2*time.Hour+10*time.Minute), t0.Add(3*time.Hour), true), run(t0.Add(3*time.Hour+10*time.Minute), t0.Add(3*time.Hour+10*time.Minute), false)...)
	step(pt, more)
	want = []string{"2026-10-05T08:00:00Z idle", "2026-10-05T09:00:00Z running", "2026-10-05T11:10:00Z idle", "2026-10-05T11:40:00Z unknown"}
	if got := states("live"); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("after it reported again:\n got %v\nwant %v", got, want)
	}

	// Late data: it stopped from 09:35 to 09:40.
	late := run(t0.Add(95*time.Minute), t0.Add(95*time.Minute), false)
	step(pt, late)
	fresh := openPart(t, filepath.Join(t.TempDir(), "fresh.db"), newWriter("fresh"), &now)
	step(fresh, append(append(append(run(t0, t0.Add(50*time.Minute), false), run(t0.Add(time.Hour), t0.Add(2*time.Hour), true)...), more...), late...))
	want = states("fresh")
	if got := states("live"); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("after late data:\n got %v\nwant (all data at once) %v", got, want)
	}
	if n := strings.Count(strings.Join(want, "|"), "unknown"); n != 1 || !strings.Contains(strings.Join(want, "|"), "09:35:00Z idle") {
		t.Fatalf("all data at once: %v", want)
	}

	// A restart: the store reopened, the current periods written again.
	now = now.Add(20 * time.Minute)
	pt.st.Close()
	again := openPart(t, path, live, &now)
	if err := again.fl.flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := states("live"); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("after a restart:\n got %v\nwant %v", got, want)
	}

	// M02 never reported: its periods holding the flushes' instants are
	// written, with no run and unknown throughout; it has no state point.
	m02 := influxSeries(t, in.Query(t, `SELECT "run_hours", "unknown_seconds", "calendar_hours" FROM "live"."autogen"."equipment_activity" WHERE "equipment" = 'M02' AND "period" = 'month'`))
	if len(m02) != 1 || m02[0] != "2026-10-01T00:00:00Z 0 2.6784e+06 744" {
		t.Fatalf("M02's month: %v", m02)
	}
	days := influxSeries(t, in.Query(t, `SELECT "run_hours" FROM "live"."autogen"."equipment_activity" WHERE "equipment" = 'M02' AND "period" = 'hour'`))
	if len(days) != 2 { // 10:00 (the first flush), 11:00 (later ones)
		t.Fatalf("M02's hours: %v", days)
	}
	if s := influxSeries(t, in.Query(t, `SELECT "state" FROM "live"."autogen"."equipment_state" WHERE "equipment" = 'M02'`)); len(s) != 0 {
		t.Fatalf("M02's states: %v", s)
	}

	// The InfluxQL queries of the Grafana guide run on what the hub wrote.
	for _, q := range guideQueries(t) {
		resp, err := http.PostForm(in.URL+"/query", url.Values{"db": {"live"}, "q": {q}})
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || strings.Contains(string(body), `"error"`) {
			t.Errorf("guide query %s: %s %s", q, resp.Status, body)
		}
	}
	// The demo's query gives one month point per machine.
	qs := guideQueries(t)
	demo := qs[len(qs)-1]
	rows := influxSeries(t, in.Query(t, strings.Replace(demo, "FROM equipment_activity", `FROM "live"."autogen"."equipment_activity"`, 1)))
	sort.Strings(rows)
	if len(rows) != 2 || !strings.HasPrefix(rows[0], "2026-10-01T00:00:00Z 0 false") || !strings.HasPrefix(rows[1], "2026-10-01T00:00:00Z 2.08") {
		t.Errorf("the demo's query %s: %v, want the October point of M01 and M02", demo, rows)
	}
	flux := influxdb2.NewClient(in.URL, "").QueryAPI("")
	for _, q := range guideFlux(t, "live") {
		res, err := flux.Query(context.Background(), q)
		if err == nil {
			for res.Next() {
			}
			err = res.Err()
		}
		if err != nil {
			t.Errorf("guide Flux query\n%s\n: %v", q, err)
		}
	}
}

// guideFlux returns the Flux queries of docs/grafana.md with Grafana's
// variables filled in for s1/L1 in October 2026 and the bucket db.
func guideFlux(t *testing.T, db string) []string {
	t.Helper()
	guide, err := os.ReadFile("../../../docs/grafana.md")
	if err != nil {
		t.Fatal(err)
	}
	vars := strings.NewReplacer(`"${site}"`, `"s1"`, `"${line}"`, `"L1"`, `"floorpulse/autogen"`, `"`+db+`/autogen"`)
	const v = "v = {timeRangeStart: 2026-10-01T00:00:00Z, timeRangeStop: 2026-10-06T00:00:00Z}\n"
	var out []string
	for _, b := range regexp.MustCompile("(?s)```flux\n(.*?)```").FindAllStringSubmatch(string(guide), -1) {
		q := vars.Replace(b[1])
		var imports, body []string
		for _, line := range strings.Split(q, "\n") {
			if strings.HasPrefix(line, "import ") {
				imports = append(imports, line)
			} else {
				body = append(body, line)
			}
		}
		out = append(out, strings.Join(imports, "\n")+"\n"+v+strings.Join(body, "\n"))
	}
	if len(out) < 5 {
		t.Fatalf("only %d Flux queries in the guide", len(out))
	}
	return out
}

// guideQueries returns the InfluxQL statements of docs/grafana.md (code
// blocks and inline ones) with the dashboard variables filled in for s1/L1/M01
// in October 2026.
func guideQueries(t *testing.T) []string {
	t.Helper()
	guide, err := os.ReadFile("../../../docs/grafana.md")
	if err != nil {
		t.Fatal(err)
	}
	vars := strings.NewReplacer("$site", "s1", "$line", "L1", "$equipment", "M01", "$operator", "a",
		"$timeFilter", "time >= '2026-10-01T00:00:00Z' AND time <= '2026-10-06T00:00:00Z'", "${__from}", "1790812800000")
	var out []string
	for _, b := range regexp.MustCompile("(?s)```sql\n(.*?)```").FindAllStringSubmatch(string(guide), -1) {
		for _, line := range strings.Split(strings.TrimSpace(b[1]), "\n") {
			if n := len(out); n > 0 && !strings.HasPrefix(line, "SELECT") && !strings.HasPrefix(line, "SHOW") {
				out[n-1] += " " + strings.TrimSpace(line)
				continue
			}
			out = append(out, line)
		}
	}
	for _, m := range regexp.MustCompile("`(SELECT[^`]+)`").FindAllStringSubmatch(string(guide), -1) {
		out = append(out, strings.Join(strings.Fields(m[1]), " "))
	}
	// And the query the README and the demo print.
	for _, doc := range []string{"../../../README.md", "../../../deploy/demo.sh"} {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`"q=(SELECT [^"]+)"`).FindStringSubmatch(string(b))
		if m == nil {
			t.Fatalf("%s prints no InfluxQL query", doc)
		}
		out = append(out, m[1])
	}
	if len(out) < 15 {
		t.Fatalf("only %d queries in the guide", len(out))
	}
	for i, q := range out {
		out[i] = vars.Replace(q)
	}
	return out
}

// results is a writer that keeps what it is given.
type results struct{ got []engine.Result }

func (r *results) Write(_ context.Context, res engine.Result) error {
	r.got = append(r.got, res)
	return nil
}

// The current periods of every equipment are written at the first flush
// and once per quarter hour, as figures only: no state point is deleted
// or written for them.
func TestFlushWritesCurrentPeriods(t *testing.T) {
	now := time.Date(2026, 10, 5, 10, 7, 0, 0, time.UTC)
	w := &results{}
	pt := openPart(t, filepath.Join(t.TempDir(), "state.db"), w, &now)
	if err := pt.handle(context.Background(), []signal.Signal{runSignal(now.Add(-time.Hour))}); err != nil {
		t.Fatal(err)
	}
	flush := func() {
		t.Helper()
		if err := pt.fl.flush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	flush()
	// The current periods (M01 and the silent M02), then M01's pending range.
	if len(w.got) != 2 || len(w.got[0].StateRanges) != 0 || len(w.got[0].States) != 0 || len(w.got[1].StateRanges) != 1 {
		t.Fatalf("first flush wrote %d results: %+v", len(w.got), w.got)
	}
	periods := map[string]int{}
	for _, f := range w.got[0].Equipment {
		if !f.Period.Start.After(now) && f.Period.End.After(now) {
			periods[f.Key.Equipment+" "+f.Period.Kind]++
		}
	}
	for _, k := range []string{"M01 hour", "M01 day", "M01 month", "M02 hour", "M02 day", "M02 month"} {
		if periods[k] != 1 {
			t.Errorf("current periods: %s written %d times (%v)", k, periods[k], periods)
		}
	}
	now = now.Add(5 * time.Minute) // same quarter hour: nothing due, nothing pending
	flush()
	if len(w.got) != 2 {
		t.Fatalf("a flush in the same quarter hour wrote %d results", len(w.got)-2)
	}
	now = now.Add(5 * time.Minute) // 10:17, the next quarter hour
	flush()
	if len(w.got) != 3 || len(w.got[2].Equipment) == 0 || len(w.got[2].StateRanges) != 0 {
		t.Fatalf("the next quarter hour: %d results", len(w.got))
	}
}
