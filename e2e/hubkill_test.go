package e2e

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/pkg/signal"
	"github.com/floorpulse/floorpulse/pkg/testenv"
)

// A hub killed with SIGKILL twice, at seeded random points, while it
// consumes a plant's signals, ends with the same equipment_state series in
// InfluxDB, point for point, and the same events (ids, times, evidence,
// status) as a hub that consumed them without interruption.
func TestHubKillKeepsStatesAndEvents(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	bin := binaries(t)
	in := testenv.StartInflux(t, "clean")
	in.Query(t, "CREATE DATABASE killed")
	anchor := time.Now().Truncate(time.Hour).Add(-time.Hour)
	sigs := eventfulSignals(anchor)

	// Small batches, so that the kills fall between many commits.
	const batch = 20
	clean := startBoundedHubBatch(t, bin, in.URL, "clean", batch)
	clean.publish(t, sigs)
	clean.settle(t, len(sigs))
	wantStates, wantEvents := stateSeries(t, in, "clean"), eventSet(t, clean)
	clean.stop(t)
	if strings.Count(wantStates, "\n") < 50 || strings.Count(wantEvents, "\n") < 3 {
		t.Fatalf("the uninterrupted run is too thin to compare: %d state points, events:\n%s", strings.Count(wantStates, "\n"), wantEvents)
	}

	seed := time.Now().UnixNano()
	if v := os.Getenv("FLOORPULSE_E2E_SEED"); v != "" {
		fmt.Sscan(v, &seed)
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 2))
	first := 1 + rng.IntN(len(sigs)/2)
	second := 1 + rng.IntN(len(sigs)/2)
	t.Logf("seed %d (FLOORPULSE_E2E_SEED): the hub is killed after %d signals, and after %d more", seed, first, second)

	hub := startBoundedHubBatch(t, bin, in.URL, "killed", batch)
	hub.publish(t, sigs)
	for _, at := range []int{first, second} {
		waitConsumed(t, hub, at)
		hub.p.Kill()
		hub.start(t)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		gotStates, gotEvents := stateSeries(t, in, "killed"), eventSet(t, hub)
		if gotStates == wantStates && gotEvents == wantEvents {
			break
		}
		if time.Now().After(deadline) || hub.p.Exited() {
			if gotStates != wantStates {
				t.Errorf("equipment_state after the kills differs from the uninterrupted run's:\n%s", lineDiff(wantStates, gotStates))
			}
			if gotEvents != wantEvents {
				t.Errorf("events after the kills differ from the uninterrupted run's:\n%s", lineDiff(wantEvents, gotEvents))
			}
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("%d equipment_state points and %d events identical after two kills", strings.Count(wantStates, "\n"), strings.Count(wantEvents, "\n"))
}

// eventfulSignals are goodSignals plus what raises events: a temperature
// gauge on M01 every 5 minutes that jumps for an hour, a machine (M02) down
// with an alarm for two hours of a shift, and a machine (M03) silent for
// longer than the signal timeout.
func eventfulSignals(anchor time.Time) []signal.Signal {
	var out []signal.Signal
	for _, s := range goodSignals(anchor) {
		if s.Equipment == "M03" && s.Time.After(anchor.Add(-30*time.Hour)) && s.Time.Before(anchor.Add(-28*time.Hour)) {
			continue // silent
		}
		out = append(out, s)
	}
	from := anchor.Add(-48 * time.Hour)
	for i := 0; ; i++ {
		at := from.Add(time.Duration(i) * 5 * time.Minute)
		if !at.Before(anchor) {
			break
		}
		v := 60 + float64(i%7)*0.3
		if at.After(anchor.Add(-20*time.Hour)) && at.Before(anchor.Add(-19*time.Hour)) {
			v += 40
		}
		out = append(out, sig("M01", "temp", signal.Number(v), at))
	}
	// The first working day's morning shift of the two days, from 08:00.
	loc, _ := time.LoadLocation("Europe/Berlin")
	day := from.In(loc)
	for {
		d := time.Date(day.Year(), day.Month(), day.Day(), 8, 0, 0, 0, loc)
		if d.After(from) && d.Add(3*time.Hour).Before(anchor) && d.Weekday() != time.Saturday && d.Weekday() != time.Sunday {
			out = append(out,
				sig("M02", signal.State, signal.String("down"), d),
				sig("M02", signal.Alarm, signal.String("E42"), d),
				sig("M02", signal.State, signal.String("idle"), d.Add(2*time.Hour)),
				sig("M02", signal.Alarm, signal.String(""), d.Add(2*time.Hour)))
			break
		}
		day = day.AddDate(0, 0, 1)
		if day.After(anchor) {
			break
		}
	}
	slices.SortStableFunc(out, func(a, b signal.Signal) int { return a.Time.Compare(b.Time) })
	return out
}

// waitConsumed waits until the hub consumed n signals since it started.
func waitConsumed(t *testing.T, h *boundedHub, n int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for h.metrics()["floorpulse_hub_signals_consumed_total"] < float64(n) {
		if time.Now().After(deadline) || h.p.Exited() {
			t.Fatalf("the hub consumed %v signals, waiting for %d (exited: %v)", h.metrics()["floorpulse_hub_signals_consumed_total"], n, h.p.Exited())
		}
		time.Sleep(time.Millisecond)
	}
}

// stateSeries lists every equipment_state point of db, one per line.
func stateSeries(t *testing.T, in *testenv.Influx, db string) string {
	t.Helper()
	var b strings.Builder
	for _, s := range influxSeries(t, in, "SELECT * FROM "+db+".autogen.equipment_state GROUP BY *") {
		tags := make([]string, 0, len(s.Tags))
		for k, v := range s.Tags {
			tags = append(tags, k+"="+v)
		}
		slices.Sort(tags)
		for _, v := range s.Values {
			b.WriteString(strings.Join(tags, ","))
			for i, c := range s.Columns {
				fmt.Fprintf(&b, " %s=%v", c, v[i])
			}
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// eventSet lists the hub's events (all of them, every page), one per line,
// by id.
func eventSet(t *testing.T, h *boundedHub) string {
	t.Helper()
	var lines []string
	cursor := ""
	for {
		var page struct {
			Events []map[string]any `json:"events"`
			Next   string           `json:"next"`
			More   bool             `json:"more"`
		}
		url := "http://" + h.http + "/api/v1/events?limit=500"
		if cursor != "" {
			url += "&cursor=" + cursor
		}
		req, err := http.NewRequest("GET", url, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+h.token)
		resp, err := metricsClient.Do(req)
		if err != nil {
			return "error: " + err.Error()
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil {
			return "error: " + err.Error()
		}
		for _, e := range page.Events {
			// When the hub noted the record is its own clock's, and how many
			// lifecycle updates it delivered depends on how the data came in
			// (an event seen open, then ended, is two; seen ended, one); the
			// rest is the data's.
			delete(e, "updated")
			delete(e, "revision")
			b, _ := json.Marshal(e)
			lines = append(lines, string(b))
		}
		if !page.More {
			break
		}
		cursor = page.Next
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n") + "\n"
}

// lineDiff shows the lines only one of a and b has (at most 20 of each).
func lineDiff(a, b string) string {
	as, bs := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out []string
	for _, pair := range []struct {
		sign     string
		from, in []string
	}{{"-", as, bs}, {"+", bs, as}} {
		n := 0
		for _, l := range pair.from {
			if l != "" && !slices.Contains(pair.in, l) {
				if n++; n <= 20 {
					out = append(out, pair.sign+" "+l)
				}
			}
		}
		if n > 20 {
			out = append(out, fmt.Sprintf("%s ... and %d more", pair.sign, n-20))
		}
	}
	return strings.Join(out, "\n")
}
