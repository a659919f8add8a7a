package app

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/influx"
	"github.com/floorpulse/floorpulse/pkg/signal"
	"github.com/floorpulse/floorpulse/pkg/testenv"
)

// Late data that restates a machine's state leaves in InfluxDB exactly the
// equipment_state points an uninterrupted run writes: M01 is first written
// as unknown from the timeout after its data ends (and after midnight), then
// late data shows it running through the silence; after the flush its
// points equal those of all the data in one batch into a fresh database.
func TestRestatedStatesEqualUninterruptedRun(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	in := testenv.StartInflux(t, "restated")
	in.Query(t, "CREATE DATABASE uninterrupted")

	t0 := time.Date(2026, 10, 5, 20, 0, 0, 0, time.UTC)
	every := runEvery
	t1 := t0.Add(2 * time.Hour) // data ends: unknown from t1+30m
	t2 := t0.Add(8 * time.Hour) // the machine reports again
	early := append(every(t0, t1, true), every(t2, t2.Add(time.Hour), false)...)
	// Running through the silence, across midnight, reported off the
	// instant where the first run said unknown began.
	late := every(t1.Add(7*time.Minute), t2.Add(-3*time.Minute), true)

	// flushInto applies batches in turn to a fresh hub writing to db,
	// flushing after each, and returns db's points after each flush.
	flushInto := func(db string, batches ...[]signal.Signal) []string {
		t.Helper()
		w := influx.New(influx.Config{URL: in.URL, Bucket: db + "/autogen", Timeout: 10 * time.Second})
		defer w.Close()
		pt := testPart(t, w)
		var out []string
		for _, b := range batches {
			if err := pt.handle(context.Background(), b); err != nil {
				t.Fatal(err)
			}
			if err := pt.fl.flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			out = append(out, in.Query(t, `SELECT "state", "code" FROM "`+db+`"."autogen"."equipment_state" WHERE "equipment" = 'M01'`))
		}
		return out
	}

	restated := flushInto("restated", early, late)
	before := restated[0]
	got, want := restated[1], flushInto("uninterrupted", append(append([]signal.Signal(nil), early...), late...))[0]
	if got == before {
		t.Fatalf("late data changed no point: %s", got)
	}
	// The uninterrupted run: running from t0, idle from t2, unknown from the
	// signal timeout after the last report on (the open interval: idle holds
	// until then).
	for _, s := range []string{`"2026-10-05T20:00:00Z","running",1`, `"2026-10-06T04:00:00Z","idle",2`, `"2026-10-06T05:30:00Z","unknown",0`} {
		if !strings.Contains(want, s) {
			t.Errorf("uninterrupted run lacks %s: %s", s, want)
		}
	}
	if got != want {
		t.Fatalf("equipment_state after late data:\n got %s\nwant %s", got, want)
	}
}
