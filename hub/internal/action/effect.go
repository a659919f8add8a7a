package action

import (
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
)

// Day is a subject's figures for one local day.
type Day struct {
	RunSeconds  float64 // APT
	BusySeconds float64 // known planned busy time (availability's denominator)
	DownSeconds float64
	Failures    int
	Events      int // anomaly events that began that day
}

// Window is a subject's figures summed over whole local days.
type Window struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Days counts the days of the window that have ended; the per-day
	// figures are over those.
	Days           int     `json:"days"`
	RunHoursPerDay float64 `json:"run_hours_per_day"`
	// Availability is run time over busy time; absent when there was none.
	Availability    *float64 `json:"availability,omitempty"`
	DownHoursPerDay float64  `json:"downtime_hours_per_day"`
	Failures        int      `json:"failures"`
	Events          int      `json:"events"`
	FailuresPerDay  float64  `json:"failures_per_day"`
	EventsPerDay    float64  `json:"events_per_day"`
}

// Delta is after minus before, per day (availability in its own units, a
// fraction); Availability is absent when a window has none.
type Delta struct {
	RunHoursPerDay  float64  `json:"run_hours_per_day"`
	Availability    *float64 `json:"availability,omitempty"`
	DownHoursPerDay float64  `json:"downtime_hours_per_day"`
	FailuresPerDay  float64  `json:"failures_per_day"`
	EventsPerDay    float64  `json:"events_per_day"`
}

// Effect compares a done action's subject before and after.
type Effect struct {
	WindowDays int    `json:"window_days"`
	Before     Window `json:"before"`
	After      Window `json:"after"`
	// Complete: every day of the after window has ended.
	Complete bool `json:"complete"`
	// Delta is absent until a day of the after window has ended.
	Delta *Delta `json:"delta,omitempty"`
}

// Windows returns the n whole local days before the day an action was
// opened and the n whole local days after the day it was done.
func Windows(opened, done time.Time, n int, loc *time.Location) (before, after []activity.Period) {
	d := activity.DayOf(opened, loc)
	for i := n; i >= 1; i-- {
		before = append(before, dayAt(d.Start, -i, loc))
	}
	d = activity.DayOf(done, loc)
	for i := 1; i <= n; i++ {
		after = append(after, dayAt(d.Start, i, loc))
	}
	return before, after
}

// dayAt is the local day n days from the day starting at start (DST-safe).
func dayAt(start time.Time, n int, loc *time.Location) activity.Period {
	s := time.Date(start.Year(), start.Month(), start.Day()+n, 0, 0, 0, 0, loc)
	return activity.Period{Kind: activity.Day, Start: s, End: time.Date(s.Year(), s.Month(), s.Day()+1, 0, 0, 0, 0, loc)}
}

// Compare measures the effect of an action opened at opened and done at
// done, n days each side, as of now: fig gives the subject's figures of a
// day. Days of the after window that have not ended are left out, and the
// effect is not Complete until they all have.
func Compare(opened, done, now time.Time, n int, loc *time.Location, fig func(activity.Period) Day) Effect {
	before, after := Windows(opened, done, n, loc)
	e := Effect{WindowDays: n, Before: sum(before, now, fig), After: sum(after, now, fig)}
	e.Complete = !now.Before(after[len(after)-1].End)
	if e.Before.Days == 0 || e.After.Days == 0 {
		return e
	}
	e.Delta = &Delta{RunHoursPerDay: e.After.RunHoursPerDay - e.Before.RunHoursPerDay,
		DownHoursPerDay: e.After.DownHoursPerDay - e.Before.DownHoursPerDay,
		FailuresPerDay:  e.After.FailuresPerDay - e.Before.FailuresPerDay,
		EventsPerDay:    e.After.EventsPerDay - e.Before.EventsPerDay}
	if e.Before.Availability != nil && e.After.Availability != nil {
		v := *e.After.Availability - *e.Before.Availability
		e.Delta.Availability = &v
	}
	return e
}

func sum(days []activity.Period, now time.Time, fig func(activity.Period) Day) Window {
	w := Window{From: days[0].Start, To: days[len(days)-1].End}
	var run, busy, down float64
	for _, d := range days {
		if now.Before(d.End) {
			break
		}
		f := fig(d)
		w.Days++
		run, busy, down = run+f.RunSeconds, busy+f.BusySeconds, down+f.DownSeconds
		w.Failures += f.Failures
		w.Events += f.Events
	}
	if w.Days == 0 {
		return w
	}
	n := float64(w.Days)
	w.RunHoursPerDay, w.DownHoursPerDay = run/3600/n, down/3600/n
	w.FailuresPerDay, w.EventsPerDay = float64(w.Failures)/n, float64(w.Events)/n
	if busy > 0 {
		v := run / busy
		w.Availability = &v
	}
	return w
}
