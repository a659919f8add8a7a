package app

import (
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/engine"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// Ranges whose starts lie within stateSlack of a group's first share the
// group's range, cut to the chunk; the others keep their own.
func TestAligned(t *testing.T) {
	day := time.Date(2026, 10, 5, 0, 0, 0, 0, time.UTC)
	at := func(h, m int) int64 {
		return day.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute).UnixNano()
	}
	k := func(e string) signal.Key { return signal.Key{Site: "s", Line: "L", Equipment: e} }
	d := engine.Dirty{
		k("A"): {From: at(10, 0), To: at(10, 30)},
		k("B"): {From: at(10, 10), To: at(11, 0)},
		k("C"): {From: at(10, 15), To: at(10, 20)},
		k("D"): {From: at(10, 16), To: at(10, 40)}, // more than 15 min after A: a group of its own
		k("E"): {From: at(-5, 0), To: at(1, 0)},    // from the day before
		k("F"): {From: at(25, 0), To: at(26, 0)},   // the next day: not in the chunk
	}
	got := aligned(d, engine.Chunk{From: day, To: day.AddDate(0, 0, 1)})
	want := engine.Dirty{
		k("A"): {From: at(10, 0), To: at(11, 0)},
		k("B"): {From: at(10, 0), To: at(11, 0)},
		k("C"): {From: at(10, 0), To: at(11, 0)},
		k("D"): {From: at(10, 16), To: at(10, 40)},
		k("E"): {From: at(0, 0), To: at(1, 0)},
	}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for key, r := range want {
		if got[key] != r {
			t.Errorf("%s: got %v, want %v", key, got[key], r)
		}
	}
}
