package segment

import (
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/calendar"
	"github.com/floorpulse/floorpulse/hub/internal/engine"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// BenchmarkReport assigns a month and the month before for 100 machines on
// two-shift calendars with 8 months of history (a state change about every
// two hours, operators at each change of shift).
func BenchmarkReport(b *testing.B) {
	loc, _ := time.LoadLocation("Europe/Berlin")
	var reg []activity.Equipment
	for l := range 4 {
		for m := range 25 {
			reg = append(reg, activity.Equipment{Key: signal.Key{Site: "s", Line: fmt.Sprintf("L%d", l), Equipment: fmt.Sprintf("M%02d", m)}})
		}
	}
	cal := &calendar.Calendar{Loc: loc, Shifts: []calendar.Recurring{{Name: "early", Start: 6 * 60, End: 14 * 60}, {Name: "late", Start: 14 * 60, End: 22 * 60}},
		Stops: []calendar.Recurring{{Name: "break", Start: 12 * 60, End: 12*60 + 30}}}
	eng := engine.New(engine.Options{Location: loc, Registry: reg, Threshold: func(string) time.Duration { return 80 * time.Hour },
		Calendar: func(string, string) *calendar.Calendar { return cal }}, nil)
	rng := rand.New(rand.NewSource(1))
	start, end := time.Date(2026, 3, 1, 0, 0, 0, 0, loc), time.Date(2026, 11, 1, 0, 0, 0, 0, loc)
	var sigs []signal.Signal
	for _, eq := range reg {
		k := eq.Key
		on := false
		for at := start; at.Before(end); at = at.Add(time.Duration(30+rng.Intn(180)) * time.Minute) {
			on = !on
			sigs = append(sigs, signal.Signal{Site: k.Site, Line: k.Line, Equipment: k.Equipment, Name: signal.Run, Value: signal.Bool(on), Time: at})
			if at.Hour() == 6 || at.Hour() == 14 {
				sigs = append(sigs, signal.Signal{Site: k.Site, Line: k.Line, Equipment: k.Equipment, Name: signal.Operator,
					Value: signal.String(fmt.Sprintf("op%d", rng.Intn(30))), Time: at})
			}
		}
	}
	eng.Apply(sigs)
	rules := DefaultRules(activity.Tiers{High: 400 * time.Hour, Medium: 200 * time.Hour, Low: 80 * time.Hour})
	src := Source{Engine: eng, Location: loc, Equipment: rules, Operators: rules}
	oct, _ := activity.ParseMonth("2026-10", loc)
	now := time.Date(2026, 11, 2, 0, 0, 0, 0, loc)
	for b.Loop() {
		src.Report(oct, now)
	}
}
