package activity

import (
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/state"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

func berlin(t *testing.T) *time.Location {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestMonthLengthsAcrossDST(t *testing.T) {
	loc := berlin(t)
	for name, want := range map[string]float64{"2026-03": 743, "2026-10": 745, "2026-02": 672, "2026-07": 744} {
		m, err := ParseMonth(name, loc)
		if err != nil {
			t.Fatal(err)
		}
		if m.Hours() != want {
			t.Errorf("%s: %v h, want %v", name, m.Hours(), want)
		}
	}
}

func TestMonthsBetween(t *testing.T) {
	loc := berlin(t)
	// 2026-09-30 23:30 UTC is already October 1st in Berlin.
	ms := MonthsBetween(time.Date(2026, 9, 30, 23, 30, 0, 0, time.UTC), time.Date(2026, 11, 1, 0, 0, 0, 0, loc), loc)
	if len(ms) != 2 || ms[0].Name() != "2026-10" || ms[1].Name() != "2026-11" {
		t.Fatalf("got %v", ms)
	}
}

func TestBreakdownAcrossMonthEndIsSplit(t *testing.T) {
	loc := berlin(t)
	oct, _ := ParseMonth("2026-10", loc)
	var tl state.Timeline
	// Runs from Oct 31 20:00 local to Nov 1 04:00 local: 4 h in October, 4 h in November.
	tl.SetRun(time.Date(2026, 10, 31, 20, 0, 0, 0, loc).UnixNano(), true)
	tl.SetRun(time.Date(2026, 11, 1, 4, 0, 0, 0, loc).UnixNano(), false)
	tl.Observe(time.Date(2026, 11, 2, 0, 0, 0, 0, loc).UnixNano())
	eq := Equipment{Key: signal.Key{Site: "s", Line: "L1", Equipment: "M1"}, Registered: true}
	a := ComputeEquipment(eq, &tl, oct, 80*time.Hour)
	b := ComputeEquipment(eq, &tl, MonthOf(oct.End, loc), 80*time.Hour)
	if a.RunHours() != 4 || b.RunHours() != 4 {
		t.Fatalf("october %v h, november %v h; want 4 and 4", a.RunHours(), b.RunHours())
	}
	if a.Active() {
		t.Fatal("4 h is not an active month")
	}
}

func TestRollUpCountsSilentEquipment(t *testing.T) {
	loc := berlin(t)
	m, _ := ParseMonth("2026-10", loc)
	var busy state.Timeline
	busy.SetRun(m.Start.UnixNano(), true)
	busy.Observe(m.Start.Add(100 * time.Hour).UnixNano())
	k := func(e string) Equipment {
		return Equipment{Key: signal.Key{Site: "s", Line: "L1", Equipment: e}, Registered: true}
	}
	ems := []EquipmentMonth{
		ComputeEquipment(k("M1"), &busy, m, 80*time.Hour),
		ComputeEquipment(k("M2"), nil, m, 80*time.Hour),
		ComputeEquipment(Equipment{Key: signal.Key{Site: "s", Line: "L1", Equipment: "X"}}, &busy, m, 80*time.Hour),
	}
	lines := RollUp(ems)
	if len(lines) != 1 || lines[0].Registered != 2 || lines[0].Active != 1 || lines[0].ActiveRate() != 0.5 {
		t.Fatalf("got %+v", lines)
	}
}
