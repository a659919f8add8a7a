// Package activity computes equipment, line, site and operator figures for
// periods (hour, shift, day, month) from state timelines and calendars.
// Periods are cut in the plant's time zone, so a day is 23-25 h and a month
// 671-745 h long when it holds a DST change, and the states of every
// equipment add up to the period's calendar length. Everything here is pure:
// values in, values out.
package activity

import (
	"fmt"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/calendar"
)

// Period kinds.
const (
	Hour  = "hour"
	Shift = "shift"
	Day   = "day"
	Month = "month"
)

// Kinds lists the period kinds, shortest first.
var Kinds = []string{Hour, Shift, Day, Month}

// Period is [Start, End) of one kind. Shift periods carry the shift's name.
type Period struct {
	Kind       string
	Start, End time.Time
	Shift      string
}

// Name is the period's label in the plant's zone: 2026-10 (month),
// 2026-10-05 (day), 2026-10-05T06+02:00 (hour, with its offset, so the
// repeated hour of a DST change has two names), 2026-10-05 early (shift).
func (p Period) Name() string {
	switch p.Kind {
	case Month:
		return p.Start.Format("2006-01")
	case Day:
		return p.Start.Format("2006-01-02")
	case Hour:
		return p.Start.Format("2006-01-02T15Z07:00")
	case Shift:
		return p.Start.Format("2006-01-02") + " " + p.Shift
	}
	return fmt.Sprintf("%s %s", p.Kind, p.Start)
}

// Hours is the calendar length of the period.
func (p Period) Hours() float64 { return p.End.Sub(p.Start).Hours() }

// Seconds is the calendar length of the period.
func (p Period) Seconds() float64 { return p.End.Sub(p.Start).Seconds() }

// MonthOf returns the month holding t in loc.
func MonthOf(t time.Time, loc *time.Location) Period {
	lt := t.In(loc)
	start := time.Date(lt.Year(), lt.Month(), 1, 0, 0, 0, 0, loc)
	return Period{Kind: Month, Start: start, End: start.AddDate(0, 1, 0)}
}

// DayOf returns the local day holding t.
func DayOf(t time.Time, loc *time.Location) Period {
	lt := t.In(loc)
	start := time.Date(lt.Year(), lt.Month(), lt.Day(), 0, 0, 0, 0, loc)
	return Period{Kind: Day, Start: start, End: time.Date(lt.Year(), lt.Month(), lt.Day()+1, 0, 0, 0, 0, loc)}
}

// HourOf returns the local clock hour holding t (an hour starts at local :00,
// which also holds for zones with half-hour offsets).
func HourOf(t time.Time, loc *time.Location) Period {
	lt := t.In(loc)
	start := lt.Add(-time.Duration(lt.Minute())*time.Minute - time.Duration(lt.Second())*time.Second - time.Duration(lt.Nanosecond()))
	return Period{Kind: Hour, Start: start, End: start.Add(time.Hour)}
}

// ParseMonth parses YYYY-MM in loc.
func ParseMonth(s string, loc *time.Location) (Period, error) {
	t, err := time.ParseInLocation("2006-01", s, loc)
	if err != nil {
		return Period{}, err
	}
	return MonthOf(t, loc), nil
}

// MonthsBetween returns the months touching [from, to] in order.
func MonthsBetween(from, to time.Time, loc *time.Location) []Period {
	return Between(Month, from, to, loc, nil)
}

// Between returns the periods of a kind touching [from, to] in order. Shift
// periods come from cal (none when cal has no shifts).
func Between(kind string, from, to time.Time, loc *time.Location, cal *calendar.Calendar) []Period {
	var out []Period
	switch kind {
	case Shift:
		if cal == nil {
			return nil
		}
		for _, in := range cal.ShiftInstances(from.UnixNano(), to.UnixNano()+1) {
			out = append(out, Period{Kind: Shift, Start: time.Unix(0, in.Start).In(loc), End: time.Unix(0, in.End).In(loc), Shift: in.Name})
		}
		return out
	case Hour, Day, Month:
		of := map[string]func(time.Time, *time.Location) Period{Hour: HourOf, Day: DayOf, Month: MonthOf}[kind]
		for p := of(from, loc); !p.Start.After(to); p = of(p.End, loc) {
			out = append(out, p)
		}
	}
	return out
}
