package engine

import (
	"fmt"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/calendar"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// Computed chunk by chunk, pending ranges give the figures Figures gives in
// one piece: the same points with the same values (a point in two chunks,
// such as a night shift, twice alike), and the same state steps.
func TestChunksMatchFigures(t *testing.T) {
	e, loc := reportEngine(t)
	at := func(d, h int) int64 { return time.Date(2026, 10, d, h, 0, 0, 0, loc).UnixNano() }
	keys := e.Keys()
	dirty := Dirty{}
	dirty.Mark(keys[0], at(23, 5), at(27, 3))
	dirty.Mark(keys[1], at(25, 23), at(26, 1))
	dirty.Mark(keys[2], at(26, 12), at(31, 23)) // across the month end
	dirty.Mark(keys[3], at(31, 22), at(33, 2))
	whole := e.Figures(dirty)
	want := resultKeys(whole)

	chunks := e.Chunks(dirty)
	var days, months int
	got := map[string]any{}
	var steps []StateStep
	for _, c := range chunks {
		if c.Month {
			months++
		} else {
			days++
		}
		r := e.ChunkFigures(dirty, c)
		for k, v := range resultKeys(r) {
			if prev, dup := got[k]; dup && !reflect.DeepEqual(prev, v) {
				t.Fatalf("%s differs between chunks", k)
			}
			got[k] = v
		}
		steps = append(steps, r.States...)
	}
	if days != 11 || months != 2 {
		t.Errorf("chunks: %d days, %d months; want 11 and 2", days, months)
	}
	if len(got) != len(want) {
		t.Errorf("%d points chunk by chunk, %d from Figures", len(got), len(want))
	}
	var names []string
	for k := range want {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if !reflect.DeepEqual(got[k], want[k]) {
			t.Errorf("%s:\n got %+v\nwant %+v", k, got[k], want[k])
		}
	}
	if a, b := stateList(whole.States), stateList(steps); a != b {
		t.Errorf("state steps differ:\nchunks %s\nwhole  %s", b, a)
	}
}

// The equipment_state steps of a range are the instants where the state
// changes (and the first observation), whatever pieces the range is computed
// in: one piece, two halves, day chunks, odd cuts. No range start or
// midnight makes a step of its own.
func TestStateStepsIndependentOfCuts(t *testing.T) {
	e, loc := reportEngine(t)
	at := func(d, h, m int) int64 { return time.Date(2026, 10, d, h, m, 0, 0, loc).UnixNano() }
	lo, hi := at(22, 0, 0), at(29, 0, 0)
	all := Dirty{}
	for _, k := range e.Keys() {
		all.Mark(k, lo, hi)
	}
	// The change instants, from the merged segments of the whole timeline
	// as it stands now (the open interval: the state at the latest
	// observation holds until the timeout, unknown from then).
	var want []StateStep
	for _, k := range e.Keys() {
		open, end := e.timelines[k].Open()
		top := hi
		if _, h, _ := e.timelines[k].Span(); hi >= h {
			top = end
		}
		var spans []calendar.Span
		if cal := e.opts.Calendar(k.Site, k.Line); cal != nil {
			spans = cal.Spans(lo-1, top+1)
		}
		for i, sg := range open.Segments(lo-1, top+1, spans) {
			if i > 0 && sg.Start <= top && sg.Start >= lo {
				want = append(want, StateStep{Key: k, Start: time.Unix(0, sg.Start).In(loc), State: sg.State})
			}
		}
	}
	wantList := stateList(want)
	if len(want) < 50 {
		t.Fatalf("only %d changes: the case is too plain", len(want))
	}
	pieces := func(cuts ...int64) []StateStep {
		var out []StateStep
		bounds := append(append([]int64{lo}, cuts...), hi+1)
		for i := 0; i+1 < len(bounds); i++ {
			d := Dirty{}
			for _, k := range e.Keys() {
				d.Mark(k, bounds[i], bounds[i+1]-1)
			}
			out = append(out, e.Figures(d).States...)
		}
		return out
	}
	var days []int64
	for d := 23; d <= 28; d++ {
		days = append(days, at(d, 0, 0))
	}
	var chunked []StateStep
	for _, c := range e.Chunks(all) {
		chunked = append(chunked, e.ChunkFigures(all, c).States...)
	}
	for name, got := range map[string][]StateStep{
		"one piece":  pieces(),
		"halves":     pieces(at(25, 12, 0)),
		"days":       pieces(days...),
		"day chunks": chunked,
		"odd cuts":   pieces(at(23, 6, 0), at(23, 6, 15), at(24, 12, 0), at(24, 12, 30), at(26, 7, 7)),
	} {
		if g := stateList(got); g != wantList {
			t.Errorf("%s: steps differ from the change instants:\n got %s\nwant %s", name, g, wantList)
		}
	}
}

// stateList lists steps in key and time order.
func stateList(steps []StateStep) string {
	steps = append([]StateStep(nil), steps...)
	sort.SliceStable(steps, func(i, j int) bool {
		if steps[i].Key != steps[j].Key {
			return steps[i].Key.String() < steps[j].Key.String()
		}
		return steps[i].Start.Before(steps[j].Start)
	})
	out := ""
	for _, s := range steps {
		out += fmt.Sprintf("%s %s %s\n", s.Key, s.Start.Format(time.RFC3339Nano), s.State)
	}
	return out
}

// The chunks of ranges decades apart are the days and months they touch,
// not the decades between; a range of fifty years is cut into days and
// months whose figures are each the size of a day's or a month's.
func TestChunksOfDistantRanges(t *testing.T) {
	e, loc := reportEngine(t)
	keys := e.Keys()
	dirty := Dirty{}
	dirty.Mark(keys[0], time.Date(2001, 1, 1, 0, 0, 0, 0, loc).UnixNano(), time.Date(2001, 1, 1, 1, 0, 0, 0, loc).UnixNano())
	dirty.Mark(keys[1], time.Date(2199, 6, 1, 0, 0, 0, 0, loc).UnixNano(), time.Date(2199, 6, 1, 1, 0, 0, 0, loc).UnixNano())
	if got := len(e.Chunks(dirty)); got != 4 {
		t.Fatalf("%d chunks for two hours decades apart, want 4", got)
	}
	wide := Dirty{}
	wide.Mark(keys[0], time.Date(1990, 1, 1, 0, 0, 0, 0, loc).UnixNano(), time.Date(2040, 1, 1, 0, 0, 0, 0, loc).UnixNano()-1)
	chunks := e.Chunks(wide)
	if len(chunks) != 18262+600 {
		t.Fatalf("%d chunks for fifty years, want %d days and %d months", len(chunks), 18262, 600)
	}
	lines := len(e.lines)
	for _, c := range []Chunk{chunks[0], chunks[len(chunks)/3], chunks[len(chunks)-1]} {
		r := e.ChunkFigures(wide, c)
		// A day: at most 25 hours, 3 shifts and the day, per equipment and
		// per line and site; a month: the month and its operators.
		if n := len(r.Equipment); n == 0 || n > 29 {
			t.Errorf("chunk %v: %d equipment figures", c, n)
		}
		if n := len(r.Rollups); n > 29*(lines+1) {
			t.Errorf("chunk %v: %d rollups", c, n)
		}
	}
}

// The registry policy: equipment missing from the registry is taken up to
// the limit per site, equipment already held always, and none under
// reject; counted either way.
func TestAdmitUnregistered(t *testing.T) {
	loc := time.UTC
	reg := []activity.Equipment{{Key: signal.Key{Site: "s", Line: "L1", Equipment: "M1"}}}
	t0 := time.Date(2026, 10, 1, 0, 0, 0, 0, loc)
	on := func(site, eq string) signal.Signal {
		return signal.Signal{Site: site, Line: "L1", Equipment: eq, Name: signal.Run, Value: signal.Bool(true), Time: t0}
	}
	e := New(Options{Location: loc, Registry: reg, MaxUnregistered: 2, Threshold: func(string) time.Duration { return time.Hour }}, nil)
	batch := []signal.Signal{on("s", "M1"), on("s", "X1"), on("s", "X2"), on("s", "X1"), on("s", "X3"), on("t", "X1")}
	kept, rejected := e.Admit(batch)
	if len(kept) != 5 || len(rejected) != 1 || rejected[0].Equipment != "X3" {
		t.Fatalf("kept %v, rejected %v", kept, rejected)
	}
	if st := e.Stats(); st.UnregisteredAccepted != 4 || st.UnregisteredRejected != 1 {
		t.Fatalf("stats %+v", st)
	}
	e.Apply(kept)
	kept, rejected = e.Admit([]signal.Signal{on("s", "X2"), on("s", "X4"), on("t", "X2"), on("t", "X3")})
	if len(kept) != 2 || len(rejected) != 2 || rejected[0].Equipment != "X4" || rejected[1].Equipment != "X3" {
		t.Fatalf("after apply: kept %v, rejected %v", kept, rejected)
	}
	// Held equipment goes on whatever the limit is now, as the hub restarted with it.
	e2 := New(Options{Location: loc, Registry: reg, MaxUnregistered: 1, Threshold: func(string) time.Duration { return time.Hour }}, nil)
	e2.Apply([]signal.Signal{on("s", "X1"), on("s", "X2")})
	if kept, rejected := e2.Admit([]signal.Signal{on("s", "X2"), on("s", "X9")}); len(kept) != 1 || len(rejected) != 1 {
		t.Fatalf("held equipment: kept %v, rejected %v", kept, rejected)
	}
	e3 := New(Options{Location: loc, Registry: reg, RejectUnregistered: true, Threshold: func(string) time.Duration { return time.Hour }}, nil)
	if kept, rejected := e3.Admit(batch); len(kept) != 1 || len(rejected) != 5 {
		t.Fatalf("reject: kept %v, rejected %v", kept, rejected)
	}
	// Nothing set aside: the batch itself.
	if kept, _ := e.Admit(batch[:1]); &kept[0] != &batch[0] {
		t.Fatal("a batch with nothing set aside is copied")
	}
}
