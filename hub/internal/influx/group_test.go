package influx

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/engine"
	"github.com/floorpulse/floorpulse/hub/internal/state"
	"github.com/floorpulse/floorpulse/pkg/signal"
	"github.com/floorpulse/floorpulse/pkg/testenv"
)

// Ranges that start together share a statement when they end together or
// are Open (reaching past what is known; the statement ends at the latest
// end); others get their own; a statement names at most deleteKeys.
func TestDeleteGroups(t *testing.T) {
	t0 := time.Date(2026, 10, 5, 0, 0, 0, 0, time.UTC)
	key := func(i int) signal.Key { return signal.Key{Site: "s", Line: "L", Equipment: fmt.Sprintf("M%03d", i)} }
	var rs []engine.StateRange
	for i := 0; i < deleteKeys+1; i++ { // open, one start, different ends
		rs = append(rs, engine.StateRange{Key: key(i), From: t0, To: t0.Add(time.Duration(i) * time.Second), Open: true})
	}
	rs = append(rs,
		engine.StateRange{Key: key(200), From: t0, To: t0.Add(time.Hour)}, // closed: alone unless the same end
		engine.StateRange{Key: key(201), From: t0, To: t0.Add(time.Hour)},
		engine.StateRange{Key: key(202), From: t0, To: t0.Add(2 * time.Hour)},
		engine.StateRange{Key: key(203), From: t0.Add(time.Minute), To: t0.Add(time.Hour), Open: true},
	)
	got := deleteGroups(mergeRanges(rs))
	end := func(d time.Duration) string { return fmt.Sprintf("time <= %d", t0.Add(d).UnixNano()) }
	want := []struct {
		keys int
		end  string
	}{{deleteKeys, end(deleteKeys * time.Second)}, {1, end(deleteKeys * time.Second)}, {2, end(time.Hour)}, {1, end(2 * time.Hour)}, {1, end(time.Hour)}}
	if len(got) != len(want) {
		t.Fatalf("%d statements:\n%s", len(got), strings.Join(got, "\n"))
	}
	for i, w := range want {
		if n := strings.Count(got[i], `"equipment" =`); n != w.keys || !strings.HasSuffix(got[i], w.end) {
			t.Errorf("statement %d names %d equipment, ends %q: %.200s...", i, n, w.end, got[i])
		}
	}
}

// On a real InfluxDB 1.8, a grouped statement removes the points of the
// equipment it names in its range, and nothing else.
func TestGroupedDeleteOnInflux(t *testing.T) {
	in := testenv.StartInflux(t, "fp")
	w := New(Config{URL: in.URL, Bucket: "fp/autogen", Timeout: 10 * time.Second})
	defer w.Close()
	ctx := context.Background()
	t0 := time.Date(2026, 10, 5, 0, 0, 0, 0, time.UTC)
	var steps []engine.StateStep
	for e := 0; e < 5; e++ {
		for m := 0; m < 10; m++ {
			steps = append(steps, engine.StateStep{Key: signal.Key{Site: "s'1", Line: "L1", Equipment: fmt.Sprintf("M%d", e)},
				Start: t0.Add(time.Duration(m) * time.Minute), State: state.State(1 + m%2)})
		}
	}
	if err := w.Write(ctx, engine.Result{States: steps}); err != nil {
		t.Fatal(err)
	}
	// M0-M2 from minute 5, open (ends differ: the statement reaches minute
	// 7 for all three); M3 closed, minutes 2-3; M4 untouched.
	var rs []engine.StateRange
	for e := 0; e < 3; e++ {
		rs = append(rs, engine.StateRange{Key: steps[e*10].Key, From: t0.Add(5 * time.Minute), To: t0.Add(time.Duration(5+e) * time.Minute), Open: true})
	}
	rs = append(rs, engine.StateRange{Key: steps[30].Key, From: t0.Add(2 * time.Minute), To: t0.Add(3 * time.Minute)})
	if err := w.Write(ctx, engine.Result{StateRanges: rs}); err != nil {
		t.Fatal(err)
	}
	got := in.Query(t, `SELECT count(*) FROM fp.autogen.equipment_state GROUP BY equipment`)
	for e, n := range []int{7, 7, 7, 8, 10} {
		if !strings.Contains(got, fmt.Sprintf(`"tags":{"equipment":"M%d"},"columns":["time","count_code","count_state"],"values":[["1970-01-01T00:00:00Z",%d,%[2]d]]`, e, n)) {
			t.Errorf("M%d should keep %d points: %s", e, n, got)
		}
	}
}
