// Package activity computes monthly equipment activity and line active rates
// from state timelines. Months are calendar months in the plant's time zone,
// so a month is 672-744 h long, an hour shorter or longer when it holds a DST
// change. Everything here is pure: values in, values out.
package activity

import (
	"sort"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/state"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// Month is one calendar month in a time zone: [Start, End).
type Month struct {
	Start, End time.Time
}

// Name is the month as YYYY-MM.
func (m Month) Name() string { return m.Start.Format("2006-01") }

// Hours is the calendar length of the month.
func (m Month) Hours() float64 { return m.End.Sub(m.Start).Hours() }

// MonthOf returns the month holding t in loc.
func MonthOf(t time.Time, loc *time.Location) Month {
	lt := t.In(loc)
	start := time.Date(lt.Year(), lt.Month(), 1, 0, 0, 0, 0, loc)
	return Month{Start: start, End: start.AddDate(0, 1, 0)}
}

// ParseMonth parses YYYY-MM in loc.
func ParseMonth(s string, loc *time.Location) (Month, error) {
	t, err := time.ParseInLocation("2006-01", s, loc)
	if err != nil {
		return Month{}, err
	}
	return MonthOf(t, loc), nil
}

// MonthsBetween returns the months touching [from, to] in order.
func MonthsBetween(from, to time.Time, loc *time.Location) []Month {
	var out []Month
	for m := MonthOf(from, loc); !m.Start.After(to); m = MonthOf(m.End, loc) {
		out = append(out, m)
	}
	return out
}

// Equipment is one registered (or reporting) piece of equipment.
type Equipment struct {
	Key        signal.Key
	Class      string
	Registered bool
}

// EquipmentMonth holds the monthly figures of one equipment.
type EquipmentMonth struct {
	Equipment
	Month        Month
	RunSeconds   float64 // APT in the month
	KnownSeconds float64 // time covered by data (not unknown)
	Threshold    time.Duration
}

// RunHours is the run time in hours.
func (e EquipmentMonth) RunHours() float64 { return e.RunSeconds / 3600 }

// Active reports whether the equipment ran at least its threshold.
func (e EquipmentMonth) Active() bool { return e.RunSeconds >= e.Threshold.Seconds() }

// Utilization is run time over calendar time.
func (e EquipmentMonth) Utilization() float64 { return e.RunSeconds / (e.Month.Hours() * 3600) }

// Coverage is the share of the month covered by data.
func (e EquipmentMonth) Coverage() float64 { return e.KnownSeconds / (e.Month.Hours() * 3600) }

// ComputeEquipment returns the month's figures of one equipment. tl may be nil
// (registered equipment that never reported: unknown all month, not active).
func ComputeEquipment(eq Equipment, tl *state.Timeline, m Month, threshold time.Duration) EquipmentMonth {
	out := EquipmentMonth{Equipment: eq, Month: m, Threshold: threshold}
	if tl != nil {
		run, known := tl.Within(m.Start.UnixNano(), m.End.UnixNano())
		out.RunSeconds = float64(run) / 1e9
		out.KnownSeconds = float64(known) / 1e9
	}
	return out
}

// LineMonth holds the monthly figures of one line.
type LineMonth struct {
	Site, Line string
	Month      Month
	Registered int     // registered equipment on the line
	Active     int     // registered equipment active this month
	RunSeconds float64 // run time of the line's registered equipment
}

// ActiveRate is active over registered equipment (0 when none is registered).
func (l LineMonth) ActiveRate() float64 {
	if l.Registered == 0 {
		return 0
	}
	return float64(l.Active) / float64(l.Registered)
}

// RollUp aggregates registered equipment months into line months, sorted by
// site, line and month. Unregistered equipment is left out.
func RollUp(ems []EquipmentMonth) []LineMonth {
	type key struct {
		site, line string
		month      int64
	}
	acc := map[key]*LineMonth{}
	for _, e := range ems {
		if !e.Registered {
			continue
		}
		k := key{e.Key.Site, e.Key.Line, e.Month.Start.UnixNano()}
		l := acc[k]
		if l == nil {
			l = &LineMonth{Site: e.Key.Site, Line: e.Key.Line, Month: e.Month}
			acc[k] = l
		}
		l.Registered++
		if e.Active() {
			l.Active++
		}
		l.RunSeconds += e.RunSeconds
	}
	out := make([]LineMonth, 0, len(acc))
	for _, l := range acc {
		out = append(out, *l)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Site != b.Site {
			return a.Site < b.Site
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Month.Start.Before(b.Month.Start)
	})
	return out
}
