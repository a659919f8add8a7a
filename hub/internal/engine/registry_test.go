package engine

import (
	"fmt"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// A registry swapped at run time changes admission and the rates at once:
// added equipment counts from its start, retired equipment until its
// retirement, a reporting machine becomes registered, a dropped one
// reporting (or forgotten when it never reported).
func TestSetRegistry(t *testing.T) {
	e, loc := newEngine(t) // M1 and M2 on L1
	oct, _ := activity.ParseMonth("2026-10", loc)
	at := func(d int) time.Time { return time.Date(2026, 10, d, 0, 0, 0, 0, loc) }
	// M1 runs 100 h from the 2nd, with op1 logged in; M3 (not registered)
	// 100 h from the 20th.
	e.Apply([]signal.Signal{sig("M1", signal.Operator, signal.String("op1"), at(2)),
		sig("M1", signal.Run, signal.Bool(true), at(2)), sig("M1", signal.Run, signal.Bool(false), at(2).Add(100*time.Hour)),
		sig("M3", signal.Run, signal.Bool(true), at(20)), sig("M3", signal.Run, signal.Bool(false), at(20).Add(100*time.Hour))})
	rate := func() (int, int) {
		_, rs := e.Month(oct)
		for _, r := range rs {
			if r.Line == "L1" {
				return r.Active, r.Registered
			}
		}
		t.Fatal("no L1")
		return 0, 0
	}
	if a, r := rate(); a != 1 || r != 2 {
		t.Fatalf("before: %d of %d", a, r)
	}
	key := func(id string) signal.Key { return signal.Key{Site: "s", Line: "L1", Equipment: id} }
	// M1 retired on the 3rd (24 h in service, 24 h run: active on a
	// threshold of 80 h x 24/745); M2 dropped (never reported: forgotten);
	// M3 added on the 14th; M4 added, silent.
	e.SetRegistry([]activity.Equipment{
		{Key: key("M1"), Class: "cnc", InService: activity.Interval{Until: at(3)}},
		{Key: key("M3"), Class: "cnc", InService: activity.Interval{From: at(14)}},
		{Key: key("M4"), Class: "cnc"},
	})
	if a, r := rate(); a != 2 || r != 3 {
		t.Fatalf("after: %d of %d", a, r)
	}
	for _, k := range e.Keys() {
		if k == key("M2") {
			t.Fatal("M2 is still known")
		}
	}
	if eq := e.Equipment(key("M3")); !eq.Registered {
		t.Fatal("M3 is not registered")
	}
	// op1's October counts M1's run until its retirement only: 24 h, all
	// of the line's run time then (M3's from the 14th: 100 h).
	found := false
	for _, o := range e.Operators(oct) {
		if o.Operator == "op1" && o.Line == "L1" {
			found = true
			if o.RunSeconds != 24*3600 || o.GroupRunSeconds != 124*3600 {
				t.Fatalf("op1 in October: %v s of %v s", o.RunSeconds, o.GroupRunSeconds)
			}
		}
	}
	if !found {
		t.Fatal("no figures of op1 on L1 in October")
	}
	// November: M1 retired, so 0 of 2 (M3 and M4, silent).
	_, rs := e.Month(activity.MonthOf(oct.End, loc))
	for _, r := range rs {
		if r.Line == "L1" && (r.Registered != 2 || r.Active != 0) {
			t.Fatalf("november: %d of %d", r.Active, r.Registered)
		}
	}
	// The live board of a November day shows M3 and M4, not the retired M1.
	var board []string
	for _, n := range e.Line("s", "L1", time.Date(2026, 11, 2, 12, 0, 0, 0, loc)) {
		board = append(board, n.Equipment.Key.Equipment)
	}
	if fmt.Sprint(board) != "[M3 M4]" {
		t.Fatalf("board %v", board)
	}
	// Dropping M3 again leaves it as reporting equipment.
	e.SetRegistry([]activity.Equipment{{Key: key("M4"), Class: "cnc"}})
	if eq := e.Equipment(key("M3")); eq.Registered || len(e.Keys()) != 3 {
		t.Fatalf("M3 %+v, keys %v", eq, e.Keys())
	}
}
