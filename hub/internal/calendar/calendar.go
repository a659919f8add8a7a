// Package calendar is the production calendar of a line: its shifts and its
// planned stops, in the plant's local time. It cuts any stretch of time into
// spans that are in a shift, in a planned stop (inside a shift), or outside
// every shift, so the state engine can tell planned from unplanned time.
//
// Shifts and recurring stops are given as local wall-clock times and week
// days, and are placed with time.Date in the plant's zone, so they stay at
// 06:00 local across DST changes (a shift that holds the change is an hour
// longer or shorter). A shift whose end is not after its start ends the next
// day. Closures are absolute local date-times (holidays, plant shutdowns)
// counted as planned stops. A calendar with no shifts means the line is
// scheduled around the clock. Everything here is pure: values in, values out.
package calendar

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Kind says whether time is scheduled.
type Kind uint8

const (
	// NoShift is outside every shift (outside planned operation time).
	NoShift Kind = iota
	// Shift is scheduled production time.
	Shift
	// PlannedStop is a planned stop inside a shift (break, maintenance, closure).
	PlannedStop
)

func (k Kind) String() string {
	switch k {
	case NoShift:
		return "no_shift"
	case Shift:
		return "shift"
	case PlannedStop:
		return "planned_stop"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Weekdays is a set of week days; the zero value means every day.
type Weekdays uint8

// Has reports whether d is in the set.
func (w Weekdays) Has(d time.Weekday) bool { return w == 0 || w&(1<<d) != 0 }

// ParseWeekdays parses names like "mon", "tue".."sun" and ranges "mon-fri".
func ParseWeekdays(names []string) (Weekdays, error) {
	idx := map[string]time.Weekday{"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}
	var w Weekdays
	for _, n := range names {
		n = strings.ToLower(strings.TrimSpace(n))
		lo, hi, isRange := strings.Cut(n, "-")
		a, ok1 := idx[lo]
		b, ok2 := a, true
		if isRange {
			b, ok2 = idx[hi]
		}
		if !ok1 || !ok2 {
			return 0, fmt.Errorf("unknown week day %q (want mon..sun or a range like mon-fri)", n)
		}
		for d := a; ; d = (d + 1) % 7 {
			w |= 1 << d
			if d == b {
				break
			}
		}
	}
	return w, nil
}

// Clock is a local wall-clock time of day in minutes after midnight.
type Clock int

// ParseClock parses "HH:MM" (00:00 to 24:00).
func ParseClock(s string) (Clock, error) {
	var h, m int
	if n, err := fmt.Sscanf(s, "%d:%d", &h, &m); err != nil || n != 2 || len(s) != 5 || h < 0 || h > 24 || m < 0 || m > 59 || (h == 24 && m != 0) {
		return 0, fmt.Errorf("invalid time of day %q (want HH:MM)", s)
	}
	return Clock(h*60 + m), nil
}

func (c Clock) String() string { return fmt.Sprintf("%02d:%02d", int(c)/60, int(c)%60) }

// Recurring is a daily window: a shift or a recurring planned stop.
type Recurring struct {
	Name       string
	Start, End Clock    // End <= Start: ends the next day
	Days       Weekdays // days on which the window starts
}

// Closure is an absolute planned stop.
type Closure struct {
	Name     string
	From, To time.Time
}

// Calendar is one line's production calendar.
type Calendar struct {
	Loc      *time.Location
	Shifts   []Recurring // none: scheduled around the clock
	Stops    []Recurring // recurring planned stops (count only inside shifts)
	Closures []Closure
	// Overrides replace the shifts on some days (override.go).
	Overrides []Override
	// StopOverrides replace the recurring planned stops on some days.
	StopOverrides []Override
}

// Span is a stretch of time of one kind, in Unix nanoseconds [Start, End).
// Shift names the shift instance the span belongs to and ShiftStart is when
// that instance started (zero for NoShift spans and around-the-clock calendars).
type Span struct {
	Start, End int64
	Kind       Kind
	Shift      string
	ShiftStart int64
}

// Instance is one occurrence of a recurring window.
type Instance struct {
	Name       string
	Start, End int64
}

// instances returns the occurrences of windows that overlap [a, b), ordered by start.
func instances(ws []Recurring, loc *time.Location, a, b int64) []Instance {
	var out []Instance
	if len(ws) == 0 || b <= a {
		return nil
	}
	la := time.Unix(0, a).In(loc)
	day := time.Date(la.Year(), la.Month(), la.Day()-1, 0, 0, 0, 0, loc)
	for ; day.UnixNano() < b; day = time.Date(day.Year(), day.Month(), day.Day()+1, 0, 0, 0, 0, loc) {
		for _, w := range ws {
			if !w.Days.Has(day.Weekday()) {
				continue
			}
			s := time.Date(day.Year(), day.Month(), day.Day(), 0, int(w.Start), 0, 0, loc)
			endDay := day.Day()
			if w.End <= w.Start {
				endDay++
			}
			e := time.Date(day.Year(), day.Month(), endDay, 0, int(w.End), 0, 0, loc)
			if e.UnixNano() > a && s.UnixNano() < b && e.After(s) {
				out = append(out, Instance{Name: w.Name, Start: s.UnixNano(), End: e.UnixNano()})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start < out[j].Start })
	return out
}

// ShiftInstances returns the shift occurrences overlapping [a, b), ordered by start.
func (c *Calendar) ShiftInstances(a, b int64) []Instance {
	return c.shiftInstances(a, b, false)
}

// Spans cuts [a, b) into spans of one kind and one shift instance, in order,
// covering [a, b) without gaps. Overlapping shifts: the earlier started wins.
func (c *Calendar) Spans(a, b int64) []Span {
	if b <= a {
		return nil
	}
	var shifts []Instance
	if len(c.Shifts) == 0 && len(c.Overrides) == 0 {
		shifts = []Instance{{Start: a, End: b}}
	} else {
		shifts = c.shiftInstances(a, b, true)
	}
	stops := c.stopInstances(a, b)
	for _, cl := range c.Closures {
		if cl.To.UnixNano() > a && cl.From.UnixNano() < b {
			stops = append(stops, Instance{Name: cl.Name, Start: cl.From.UnixNano(), End: cl.To.UnixNano()})
		}
	}
	// Elementary boundaries.
	cuts := []int64{a, b}
	for _, s := range shifts {
		cuts = append(cuts, s.Start, s.End)
	}
	for _, s := range stops {
		cuts = append(cuts, s.Start, s.End)
	}
	sort.Slice(cuts, func(i, j int) bool { return cuts[i] < cuts[j] })
	var out []Span
	for i := 0; i+1 < len(cuts); i++ {
		lo, hi := max(cuts[i], a), min(cuts[i+1], b)
		if hi <= lo {
			continue
		}
		sp := Span{Start: lo, End: hi, Kind: NoShift}
		for _, s := range shifts {
			if s.Start <= lo && lo < s.End {
				sp.Kind, sp.Shift, sp.ShiftStart = Shift, s.Name, s.Start
				break
			}
		}
		if sp.Kind == Shift {
			for _, s := range stops {
				if s.Start <= lo && lo < s.End {
					sp.Kind = PlannedStop
					break
				}
			}
		}
		if n := len(out); n > 0 && out[n-1].End == sp.Start && out[n-1].Kind == sp.Kind && out[n-1].Shift == sp.Shift && out[n-1].ShiftStart == sp.ShiftStart {
			out[n-1].End = sp.End
			continue
		}
		out = append(out, sp)
	}
	return out
}
