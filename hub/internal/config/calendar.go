package config

import (
	"fmt"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/calendar"
	"github.com/floorpulse/floorpulse/hub/internal/state"
)

// State configures the state engine.
type State struct {
	// SignalTimeout: an equipment silent for longer is unknown from then on
	// until it reports again (0 disables).
	SignalTimeout time.Duration `yaml:"signal_timeout"`
	// Codes maps state signal values (PLC codes or texts) to states.
	Codes map[string]string `yaml:"codes"`
	// MaxLateness: signals older than their equipment's latest by more are
	// set aside and counted (0: any lateness is placed).
	MaxLateness time.Duration `yaml:"max_lateness"`
	// AcceptAge is how far back the hub accepts data: a signal whose source
	// time is older than now minus this is set aside and counted (at least
	// nats.max_age, which the stream replays).
	AcceptAge time.Duration `yaml:"accept_age"`
	// MaxClockSkew is how far ahead of the hub's clock a source time may be:
	// a signal further in the future is set aside and counted.
	MaxClockSkew time.Duration `yaml:"max_clock_skew"`
}

// Calendar is a production calendar in plant local time.
type Calendar struct {
	// Shifts are the named daily working windows.
	Shifts []Window `yaml:"shifts"`
	// PlannedStops are recurring daily planned stops (breaks, maintenance).
	PlannedStops []Window `yaml:"planned_stops"`
	// Closures are absolute planned stops (holidays, shutdowns).
	Closures []Closure `yaml:"closures"`
}

// Window is a daily window: a shift or a recurring planned stop. In a line
// calendar, a shift given by name only takes its times from the plant's.
type Window struct {
	// Name of the shift (required for shifts, unique) or stop.
	Name string `yaml:"name"`
	// Start is HH:MM local.
	Start string `yaml:"start"`
	// End is HH:MM local; not after start: the next day.
	End string `yaml:"end"`
	// Days are mon..sun or ranges (mon-fri); empty: every day.
	Days []string `yaml:"days"`
}

// Closure is an absolute planned stop (holiday, shutdown), local date-times.
type Closure struct {
	// Name of the closure (e.g. a holiday's).
	Name string `yaml:"name"`
	// From is when it starts: local 2006-01-02, 2006-01-02T15:04[:05.000],
	// or RFC 3339 with an offset.
	From string `yaml:"from"`
	// To is when it ends (after from), in the same forms.
	To string `yaml:"to"`
}

// Operators configures operator figures.
type Operators struct {
	// ActiveThreshold is the monthly run time that makes an operator active.
	ActiveThreshold time.Duration `yaml:"active_threshold"`
	// Tiers are the monthly run-hour cut-offs of the operator tiers.
	Tiers TierCuts `yaml:"tiers"`
	// Attrition is the attrition-risk rule.
	Attrition Attrition `yaml:"attrition"`
}

// TierCuts are monthly run-hour cut-offs; below low is inactive.
type TierCuts struct {
	// High is the run time from which the tier is high.
	High time.Duration `yaml:"high"`
	// Medium is the run time from which the tier is medium.
	Medium time.Duration `yaml:"medium"`
	// Low is the run time from which the tier is low; below it, inactive.
	Low time.Duration `yaml:"low"`
}

// Attrition is the attrition-risk rule.
type Attrition struct {
	// Months: an operator is at risk when run hours fell in each of the
	// last this many months (at least 1)...
	Months int `yaml:"months"`
	// Drop: ...and the latest is this fraction below the earlier mean (0 to 1).
	Drop float64 `yaml:"drop"`
	// History is the number of months the mean is taken over (at least 2).
	History int `yaml:"history"`
}

func (t TierCuts) tiers() activity.Tiers {
	return activity.Tiers{High: t.High, Medium: t.Medium, Low: t.Low}
}

func (t TierCuts) validate(path string, add func(string, string, ...any)) {
	if t.Low <= 0 || t.Medium < t.Low || t.High < t.Medium {
		add(path, "want 0 < low <= medium <= high (got low %s, medium %s, high %s)", t.Low, t.Medium, t.High)
	}
}

func parseLocal(s string, loc *time.Location) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil // with an explicit offset
	}
	for _, layout := range []string{"2006-01-02T15:04:05.999999999", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid date-time %q (want local 2006-01-02, 2006-01-02T15:04[:05.000], or RFC 3339 with an offset)", s)
}

// build turns a configured calendar into a calendar.Calendar; plant, when
// set, supplies the times of shifts given by name only.
func (c Calendar) build(path string, loc *time.Location, plant *calendar.Calendar, add func(string, string, ...any)) *calendar.Calendar {
	out := &calendar.Calendar{Loc: loc}
	window := func(p string, w Window, named bool) (calendar.Recurring, bool) {
		r := calendar.Recurring{Name: w.Name}
		days, err := calendar.ParseWeekdays(w.Days)
		if err != nil {
			add(p+".days", "%v", err)
		}
		r.Days = days
		if named && w.Start == "" && w.End == "" && plant != nil {
			for _, s := range plant.Shifts {
				if s.Name == w.Name {
					r.Start, r.End = s.Start, s.End
					if len(w.Days) == 0 {
						r.Days = s.Days
					}
					return r, true
				}
			}
			add(p+".name", "no plant shift named %q to take the times from", w.Name)
			return r, false
		}
		if r.Start, err = calendar.ParseClock(w.Start); err != nil {
			add(p+".start", "%v", err)
		}
		if r.End, err = calendar.ParseClock(w.End); err != nil {
			add(p+".end", "%v", err)
		}
		if r.Start == r.End {
			add(p+".end", "a window of zero length")
		}
		return r, true
	}
	names := map[string]bool{}
	for i, w := range c.Shifts {
		p := fmt.Sprintf("%s.shifts[%d]", path, i)
		if w.Name == "" {
			add(p+".name", "required")
		} else if names[w.Name] {
			add(p+".name", "shift %q defined twice", w.Name)
		}
		names[w.Name] = true
		if r, ok := window(p, w, true); ok {
			out.Shifts = append(out.Shifts, r)
		}
	}
	for i, w := range c.PlannedStops {
		if r, ok := window(fmt.Sprintf("%s.planned_stops[%d]", path, i), w, false); ok {
			out.Stops = append(out.Stops, r)
		}
	}
	for i, cl := range c.Closures {
		p := fmt.Sprintf("%s.closures[%d]", path, i)
		from, err1 := parseLocal(cl.From, loc)
		if err1 != nil {
			add(p+".from", "%v", err1)
		}
		to, err2 := parseLocal(cl.To, loc)
		if err2 != nil {
			add(p+".to", "%v", err2)
		}
		if err1 == nil && err2 == nil && !to.After(from) {
			add(p+".to", "must be after from")
		}
		out.Closures = append(out.Closures, calendar.Closure{Name: cl.Name, From: from, To: to})
	}
	return out
}

// buildCalendars checks the plant and line calendars and builds them (in
// the plant time zone, once it is known).
func (c *Config) buildCalendars(add func(string, string, ...any)) {
	if c.Location == nil {
		return
	}
	if len(c.Calendar.Shifts)+len(c.Calendar.PlannedStops)+len(c.Calendar.Closures) > 0 {
		c.plantCalendar = c.Calendar.build("calendar", c.Location, nil, add)
	}
	c.lineCalendars = map[string]*calendar.Calendar{}
	for line, lc := range c.LineCalendars {
		c.lineCalendars[line] = lc.build("line_calendars."+line, c.Location, c.plantCalendar, add)
	}
}

// validateState checks the state section and builds the code map.
func (c *Config) validateState(add func(string, string, ...any)) {
	if c.State.SignalTimeout < 0 {
		add("state.signal_timeout", "must not be negative")
	}
	if c.State.MaxLateness < 0 {
		add("state.max_lateness", "must not be negative")
	}
	if c.State.AcceptAge < c.NATS.MaxAge {
		add("state.accept_age", "must be at least nats.max_age (%s), which the stream replays (got %s)", c.NATS.MaxAge, c.State.AcceptAge)
	}
	if c.State.MaxClockSkew < 0 || c.State.MaxClockSkew > 24*time.Hour {
		add("state.max_clock_skew", "must be between 0 and 24h (got %s)", c.State.MaxClockSkew)
	}
	c.stateCodes = map[string]state.State{}
	for code, name := range c.State.Codes {
		s, ok := state.ParseState(name)
		if !ok || s == state.Unknown || s == state.NoShift {
			add("state.codes."+code, "unknown state %q (want running, idle, setup, down or planned_stop)", name)
			continue
		}
		c.stateCodes[code] = s
	}
}

// StateCodes returns the state code map (valid after Validate).
func (c *Config) StateCodes() map[string]state.State { return c.stateCodes }

// CalendarOf returns a line's calendar: its own, the plant's, or nil (around the clock).
func (c *Config) CalendarOf(site, line string) *calendar.Calendar {
	if cal, ok := c.lineCalendars[line]; ok {
		return cal
	}
	return c.plantCalendar
}

// Tiers returns the equipment tier cut-offs.
func (c *Config) Tiers() activity.Tiers { return c.Activity.Tiers.tiers() }

// OperatorTiers returns the operator tier cut-offs.
func (c *Config) OperatorTiers() activity.Tiers { return c.Operators.Tiers.tiers() }

// AttritionRule returns the attrition rule.
func (c *Config) AttritionRule() activity.AttritionRule {
	a := c.Operators.Attrition
	return activity.AttritionRule{Months: a.Months, Drop: a.Drop, History: a.History}
}
