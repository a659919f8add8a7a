// Package segment scores machines and operators each month by recency (days
// since they were last active), frequency (active days) and volume (run
// hours), puts each in a segment (new, core, steady, declining, at risk,
// dormant), says why in plain words built from the numbers, and counts the
// moves between segments from one month to the next.
//
// Everything here is pure: an entity's monthly history in, its assignment
// out. Days and months are cut in the plant's time zone, and recency counts
// calendar days, so a DST change moves no day boundary and no count.
package segment

import (
	"math"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
)

// Kinds of entity.
const (
	Equipment = "equipment"
	Operator  = "operator"
)

// Segments, in the order the rules try them (Assign) and pages list them.
const (
	New       = "new"
	Dormant   = "dormant"
	AtRisk    = "at_risk"
	Declining = "declining"
	Core      = "core"
	Steady    = "steady"
)

// Names lists the segments in display order.
var Names = []string{Core, Steady, New, Declining, AtRisk, Dormant}

// Rules are the cut-offs. Volume cut-offs are the site's tiers (equipment or
// operator), frequency and recency are in days; decline is judged against
// the entity's own history.
type Rules struct {
	// ActiveDay is the run time that makes a day active.
	ActiveDay time.Duration
	// History is how many months before the judged one are looked at.
	History int
	// RecentDays, GapDays, DormantDays: recency scores 3 when the entity
	// was last active at most RecentDays before the month's last day
	// counted, 2 within GapDays, 1 below DormantDays, and 0 from DormantDays
	// on (dormant).
	RecentDays, GapDays, DormantDays int
	// FrequentDays, RegularDays: frequency scores 3 from FrequentDays active
	// days in the month, 2 from RegularDays, 1 from one, else 0.
	FrequentDays, RegularDays int
	// Volume: run hours score 3 from the high tier, 2 medium, 1 low, else 0.
	Volume activity.Tiers
	// Drop: run hours falling at least this fraction below the mean of the
	// entity's earlier months (at least two with activity) is a decline.
	Drop float64
}

// DefaultRules are the documented defaults, with the site's tiers.
func DefaultRules(tiers activity.Tiers) Rules {
	return Rules{ActiveDay: time.Hour, History: 6, RecentDays: 2, GapDays: 7, DormantDays: 30,
		FrequentDays: 16, RegularDays: 8, Volume: tiers, Drop: 0.25}
}

// Month is one month of an entity's history.
type Month struct {
	Start      time.Time // local month start
	RunHours   float64
	ActiveDays int
}

// History is what the rules judge: an entity's months, oldest first, the
// last the month judged.
type History struct {
	Kind, Site, Line, ID string
	Months               []Month
	// Days is how many days of the judged month are counted (all of them
	// for a past month; up to today for the month in progress), and
	// MonthDays how many it has. Frequency and volume cut-offs and the
	// decline are taken pro rata when Days < MonthDays.
	Days, MonthDays int
	// AsOf is the last day counted (local midnight).
	AsOf time.Time
	// FirstActive and LastActive are the first and last active days in the
	// months looked at (zero: none).
	FirstActive, LastActive time.Time
	// FirstSeen is the first day with any data in the months looked at
	// (zero: not known; then FirstActive stands in for it).
	FirstSeen time.Time
	// InService is when the entity was put in service (zero: unknown).
	InService time.Time
	// Parts are the judged month's good parts (nil: no counter).
	Parts *float64
}

// Scores are the recency, frequency and volume scores, 0 to 3 each.
type Scores struct {
	Recency   int `json:"recency"`
	Frequency int `json:"frequency"`
	Volume    int `json:"volume"`
}

// Assignment is an entity's segment in a month, with its scores, the
// numbers they come from and the reason.
type Assignment struct {
	Kind       string  `json:"kind"`
	Site       string  `json:"site"`
	Line       string  `json:"line,omitempty"`
	ID         string  `json:"id"`
	Month      string  `json:"month"`
	Segment    string  `json:"segment"`
	Scores     Scores  `json:"scores"`
	RunHours   float64 `json:"run_hours"`
	ActiveDays int     `json:"active_days"`
	// DaysSinceActive counts calendar days from the last active day to the
	// last day counted; -1 when never active in the months looked at.
	DaysSinceActive int `json:"days_since_active"`
	// Parts are the month's good parts, for a machine with a counter
	// (shown beside the scores; not scored).
	Parts  *float64 `json:"parts,omitempty"`
	Reason Reason   `json:"reason"`
}

// DaysBetween counts the calendar days from a to b (local dates, so a
// 23 or 25 hour day is one day).
func DaysBetween(a, b time.Time) int {
	da := time.Date(a.Year(), a.Month(), a.Day(), 0, 0, 0, 0, time.UTC)
	db := time.Date(b.Year(), b.Month(), b.Day(), 0, 0, 0, 0, time.UTC)
	return int(db.Sub(da).Hours() / 24)
}

// Assign applies the rules to a history. The first rule that holds wins:
// new (in service, or first seen, or without that first active, this
// month or last), dormant (no active day in a whole month, or none for
// DormantDays), at risk (falling and not active for more than GapDays),
// declining (falling; in a month in progress only once more than GapDays
// of it are counted), core (every score 3), steady.
func (r Rules) Assign(h History) Assignment {
	n := len(h.Months)
	cur := h.Months[n-1]
	a := Assignment{Kind: h.Kind, Site: h.Site, Line: h.Line, ID: h.ID, Month: cur.Start.Format("2006-01"),
		RunHours: cur.RunHours, ActiveDays: cur.ActiveDays, DaysSinceActive: -1, Parts: h.Parts}
	share := 1.0
	inProgress := h.MonthDays > 0 && h.Days < h.MonthDays
	if inProgress {
		share = float64(h.Days) / float64(h.MonthDays)
	}
	if !h.LastActive.IsZero() {
		a.DaysSinceActive = DaysBetween(h.LastActive, h.AsOf)
	}
	a.Scores = Scores{Recency: r.recency(a.DaysSinceActive), Frequency: r.frequency(cur.ActiveDays, share),
		Volume: r.volume(cur.RunHours, share)}
	prevStart := cur.Start.AddDate(0, -1, 0)
	if n >= 2 {
		prevStart = h.Months[n-2].Start
	}
	within := func(t time.Time) bool { return !t.IsZero() && !t.Before(prevStart) && !t.After(h.AsOf) }
	switch {
	case within(h.InService):
		a.Segment, a.Reason = New, Reason{Code: ReasonInService, Date: day(h.InService)}
		return a
	case !h.FirstSeen.IsZero() && within(h.FirstSeen):
		a.Segment, a.Reason = New, Reason{Code: ReasonFirstSeen, Date: day(h.FirstSeen)}
		return a
	case h.FirstSeen.IsZero() && within(h.FirstActive):
		a.Segment, a.Reason = New, Reason{Code: ReasonFirstActive, Date: day(h.FirstActive)}
		return a
	case h.LastActive.IsZero():
		a.Segment, a.Reason = Dormant, Reason{Code: ReasonNeverActive, Months: n}
		return a
	case (cur.ActiveDays == 0 && !inProgress) || a.DaysSinceActive >= r.DormantDays:
		a.Segment, a.Reason = Dormant, Reason{Code: ReasonDormant, Date: day(h.LastActive), Days: a.DaysSinceActive}
		return a
	}
	// Early in a month in progress there is too little of it to call a
	// fall: no more days than a gap.
	early := inProgress && h.Days <= r.GapDays
	if fall, ok := r.falling(h.Months, share); ok && !early {
		if a.DaysSinceActive > r.GapDays {
			fall.Trend, fall.Code, fall.Days, fall.Date = fall.Code, ReasonAtRisk, a.DaysSinceActive, day(h.LastActive)
			a.Segment, a.Reason = AtRisk, fall
			return a
		}
		a.Segment, a.Reason = Declining, fall
		return a
	}
	a.Reason = Reason{Code: ReasonSteady, Hours: round1(cur.RunHours), ActiveDays: cur.ActiveDays, Date: day(h.LastActive)}
	a.Segment = Steady
	if a.Scores == (Scores{3, 3, 3}) {
		a.Segment, a.Reason.Code = Core, ReasonCore
	}
	return a
}

func (r Rules) recency(days int) int {
	switch {
	case days < 0 || days >= r.DormantDays:
		return 0
	case days <= r.RecentDays:
		return 3
	case days <= r.GapDays:
		return 2
	}
	return 1
}

func (r Rules) frequency(days int, share float64) int {
	switch d := float64(days); {
	case d >= math.Ceil(float64(r.FrequentDays)*share):
		return 3
	case d >= math.Ceil(float64(r.RegularDays)*share):
		return 2
	case days >= 1:
		return 1
	}
	return 0
}

func (r Rules) volume(hours, share float64) int {
	switch {
	case hours >= r.Volume.High.Hours()*share:
		return 3
	case hours >= r.Volume.Medium.Hours()*share:
		return 2
	case hours >= r.Volume.Low.Hours()*share && hours > 0:
		return 1
	}
	return 0
}

// falling reports whether the judged month's run hours (pro rata) are at
// least Drop below the mean of the earlier months, counted from the first
// with run time (at most History, at least two), and says by how much: over
// the months they fell in a row when that is two or more, else against the
// mean.
func (r Rules) falling(ms []Month, share float64) (Reason, bool) {
	n := len(ms)
	var base []float64
	for _, m := range ms[max(0, n-1-r.History) : n-1] {
		if len(base) > 0 || m.RunHours > 0 {
			base = append(base, m.RunHours)
		}
	}
	if len(base) < 2 {
		return Reason{}, false
	}
	var sum float64
	for _, h := range base {
		sum += h
	}
	mean := sum / float64(len(base))
	cur := ms[n-1].RunHours / share
	if mean <= 0 || cur > (1-r.Drop)*mean {
		return Reason{}, false
	}
	hours := func(i int) float64 {
		if i == n-1 {
			return cur
		}
		return ms[i].RunHours
	}
	fell := 0 // months in a row that fell, within the months of the mean
	for i := n - 1; i > n-1-len(base) && hours(i) < hours(i-1); i-- {
		fell++
	}
	if fell >= 2 {
		from := ms[n-1-fell].RunHours
		return Reason{Code: ReasonDeclining, Months: fell, FromHours: round1(from), Hours: round1(ms[n-1].RunHours),
			Change: round3(cur/from - 1)}, true
	}
	return Reason{Code: ReasonBelowMean, Months: len(base), FromHours: round1(mean), Hours: round1(ms[n-1].RunHours),
		Change: round3(cur/mean - 1)}, true
}

func day(t time.Time) string { return t.Format("2006-01-02") }

func round1(v float64) float64 { return math.Round(v*10) / 10 }

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }
