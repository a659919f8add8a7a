package activity

import (
	"math"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/state"
)

// Equipment in service for part of a month counts over that part only: the
// rest is out of service (not unknown), its threshold is prorated, and
// equipment not in service in the month is left out of the line's rate.
func TestInServiceClipsThePeriod(t *testing.T) {
	loc := berlin(t)
	oct, _ := ParseMonth("2026-10", loc) // 745 h
	at := func(d, h int) time.Time { return time.Date(2026, 10, d, h, 0, 0, 0, loc) }
	runs := func(spans ...[2]time.Time) *state.Timeline {
		var tl state.Timeline
		for _, s := range spans {
			tl.Observe(s[0].UnixNano())
			tl.SetRun(s[0].UnixNano(), state.True)
			tl.SetRun(s[1].UnixNano(), state.False)
		}
		tl.Observe(oct.End.UnixNano())
		return &tl
	}
	// Added on the 14th: 433 h in service (the 25 h day of the DST change
	// included); 50 h run after it, 30 h before it (not counted).
	added := eq("L1", "NEW")
	added.InService.From = at(14, 0)
	fa := Compute(added, runs([2]time.Time{at(2, 0), at(3, 6)}, [2]time.Time{at(20, 0), at(22, 2)}), nil, oct, 80*time.Hour)
	if fa.RunHours() != 50 || fa.OutOfService != (745-433)*3600 || fa.CalendarSeconds() != 433*3600 {
		t.Fatalf("added: run %v h, out of service %v s, calendar %v s", fa.RunHours(), fa.OutOfService, fa.CalendarSeconds())
	}
	if want := 80 * time.Hour * 433 / 745; fa.Threshold != want || !fa.Active() {
		t.Fatalf("added: threshold %v (want %v), active %v", fa.Threshold, want, fa.Active())
	}
	var sum float64
	for _, s := range fa.Seconds {
		sum += s
	}
	if sum != 433*3600 || math.Abs(fa.Utilization()-50.0/433) > 1e-12 {
		t.Fatalf("added: states add up to %v s, utilization %v", sum, fa.Utilization())
	}
	// Retired on the 10th (216 h in service): 20 h before, 40 h after.
	retired := eq("L1", "OLD")
	retired.InService.Until = at(10, 0)
	fr := Compute(retired, runs([2]time.Time{at(5, 0), at(5, 20)}, [2]time.Time{at(12, 0), at(13, 16)}), nil, oct, 80*time.Hour)
	if fr.RunHours() != 20 || fr.Active() || fr.Threshold != 80*time.Hour*216/745 {
		t.Fatalf("retired: run %v h, threshold %v, active %v", fr.RunHours(), fr.Threshold, fr.Active())
	}
	// Retired before October: not registered in it.
	gone := eq("L1", "GONE")
	gone.InService.Until = at(1, 0)
	fg := Compute(gone, nil, nil, oct, 80*time.Hour)
	// Always in service, silent.
	fs := Compute(eq("L1", "SILENT"), nil, nil, oct, 80*time.Hour)
	if fg.Registered || fg.OutOfService != 0 || fs.OutOfService != 0 {
		t.Fatalf("gone registered %v, out of service %v / %v", fg.Registered, fg.OutOfService, fs.OutOfService)
	}
	rs := RollUp([]Figures{fa, fr, fg, fs}, tiers)
	var line Rollup
	for _, r := range rs {
		if r.Line == "L1" {
			line = r
		}
	}
	if line.Registered != 3 || line.Active != 1 || line.ActiveRate() != 1.0/3 {
		t.Fatalf("line: %+v", line)
	}
	if line.CalendarSeconds != (433+216+745)*3600 {
		t.Fatalf("line calendar %v s", line.CalendarSeconds)
	}
	if u, _ := line.Utilization(); math.Abs(u-70.0/(433+216+745)) > 1e-12 {
		t.Fatalf("line utilization %v", u)
	}
}
