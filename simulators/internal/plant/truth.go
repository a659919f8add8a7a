package plant

import (
	"sort"
	"time"
)

// Truth is what the simulated plant really did: per machine its run time by
// local day and month within [Start, End), and per operator the machine run
// time while logged in (split equally among the operators logged in to a
// machine together), by local month. It is computed from exactly the events
// the plant emitted, so a consumer that counted every event right gets the
// same figures.
type Truth struct {
	Site      string           `json:"site"`
	Timezone  string           `json:"timezone"`
	Equipment []EquipmentTruth `json:"equipment"`
	Operators []OperatorTruth  `json:"operators"`
}

// EquipmentTruth is one machine's run time.
type EquipmentTruth struct {
	Line      string           `json:"line"`
	Equipment string           `json:"equipment"`
	Class     string           `json:"class"`
	Source    string           `json:"source"`
	Start     time.Time        `json:"start"`
	End       time.Time        `json:"end"`
	Months    map[string]RunMs `json:"months"`
	Days      map[string]RunMs `json:"days"`
}

// RunMs is run time in milliseconds.
type RunMs struct {
	RunMs int64 `json:"run_ms"`
}

// OperatorTruth is one operator's sessions and run time.
type OperatorTruth struct {
	Operator string                `json:"operator"`
	Sessions []Session             `json:"sessions"`
	Months   map[string]RunSeconds `json:"months"`
}

// Session is an operator logged in at a machine over [Start, End).
type Session struct {
	Line      string    `json:"line"`
	Equipment string    `json:"equipment"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
}

// RunSeconds is an operator's share of machine run time in seconds.
type RunSeconds struct {
	RunSeconds float64 `json:"run_seconds"`
}

// account accumulates one machine's truth from the values it published.
type account struct {
	loc      *time.Location
	line     string
	name     string
	start    time.Time
	last     time.Time
	run      bool
	ops      []string
	opSince  map[string]time.Time
	days     map[string]int64
	months   map[string]int64
	opMonths map[string]map[string]float64 // operator -> month -> ms
	sessions map[string][]Session          // operator -> sessions
}

func newAccount(loc *time.Location, line, name string, start time.Time, opMonths map[string]map[string]float64, sessions map[string][]Session) *account {
	return &account{loc: loc, line: line, name: name, start: start, last: start,
		opSince: map[string]time.Time{}, days: map[string]int64{}, months: map[string]int64{},
		opMonths: opMonths, sessions: sessions}
}

// observe books [last, t) with the previous values and takes the new ones.
func (a *account) observe(t time.Time, run bool, ops []string) {
	if a.run && t.After(a.last) {
		n := float64(len(a.ops))
		splitDays(a.last, t, a.loc, func(day, month string, ms int64) {
			a.days[day] += ms
			a.months[month] += ms
			for _, op := range a.ops {
				a.opMonths[op][month] += float64(ms) / n
			}
		})
	}
	now := map[string]bool{}
	for _, op := range ops {
		now[op] = true
		if _, ok := a.opSince[op]; !ok {
			a.opSince[op] = t
		}
	}
	for op, since := range a.opSince {
		if !now[op] {
			a.closeSession(op, since, t)
		}
	}
	a.last, a.run, a.ops = t, run, append(a.ops[:0], ops...)
}

func (a *account) closeSession(op string, since, t time.Time) {
	delete(a.opSince, op)
	if t.After(since) {
		a.sessions[op] = append(a.sessions[op], Session{Line: a.line, Equipment: a.name, Start: since.UTC(), End: t.UTC()})
	}
}

// finish closes the open sessions at end.
func (a *account) finish(end time.Time) {
	for op, since := range a.opSince {
		a.closeSession(op, since, end)
	}
}

// splitDays calls fn for the parts of [a, b) in each local day.
func splitDays(a, b time.Time, loc *time.Location, fn func(day, month string, ms int64)) {
	for a.Before(b) {
		l := a.In(loc)
		next := time.Date(l.Year(), l.Month(), l.Day()+1, 0, 0, 0, 0, loc)
		end := b
		if next.Before(end) {
			end = next
		}
		fn(l.Format("2006-01-02"), l.Format("2006-01"), end.Sub(a).Milliseconds())
		a = end
	}
}

// periods returns the local days and months intersecting [a, b).
func periods(a, b time.Time, loc *time.Location) (days, months []string) {
	seen := map[string]bool{}
	splitDays(a, b, loc, func(day, month string, _ int64) {
		days = append(days, day)
		if !seen[month] {
			seen[month] = true
			months = append(months, month)
		}
	})
	return days, months
}

func sortSessions(s []Session) {
	sort.Slice(s, func(i, j int) bool {
		if !s[i].Start.Equal(s[j].Start) {
			return s[i].Start.Before(s[j].Start)
		}
		if s[i].Line != s[j].Line {
			return s[i].Line < s[j].Line
		}
		return s[i].Equipment < s[j].Equipment
	})
}
