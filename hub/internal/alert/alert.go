// Package alert decides who hears about a downtime, and when. It is pure:
// given an event record, the line's calendar, the roster and the current
// time, Step returns the alert state to keep and the notifications now due.
// The caller stores the state durably (its due times included) and delivers
// the notifications; nothing here does I/O, reads a clock or starts a
// goroutine.
//
// What always holds: a downtime is alerted at most once (the first Step
// decides and records it); the first alert goes to the leaders of the shift
// on duty when the downtime was detected, grouped into one message per
// channel; acknowledgement and resolution go to everyone alerted before;
// escalation to management happens at most once, and never after an
// acknowledgement; a downtime detected longer than MaxAge before it is first
// seen (history replay), outside every shift or in a planned stop is never
// alerted.
package alert

import (
	"slices"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/anomaly"
	"github.com/floorpulse/floorpulse/hub/internal/calendar"
)

// Roster wildcards: AnyLine is the roster of lines without their own entry,
// AnyShift the leaders of every shift (and of around-the-clock calendars).
const (
	AnyLine  = "*"
	AnyShift = "all"
)

// Person is someone alerts can reach.
type Person struct {
	// Channel names the webhook endpoint that reaches the person.
	Channel string
	// Mention is how messages name the person (e.g. "@alice"); empty: the id.
	Mention string
}

// Roster says who leads which shift of which line, and who manages.
type Roster struct {
	People map[string]Person
	// Lines maps line (or AnyLine) -> shift name (or AnyShift) -> people ids.
	Lines map[string]map[string][]string
	// Management hears about escalations.
	Management []string
	// Dated, when set, names the leaders of given dates first (LeadersOn).
	Dated *Dated
}

// Policy is the alerting configuration.
type Policy struct {
	Roster Roster
	// MaxAge: a downtime first seen longer than this after it was detected is
	// recorded but not alerted.
	MaxAge time.Duration
	// EscalateAfter: an alert not acknowledged this long after it was sent is
	// escalated to management (once). 0: never.
	EscalateAfter time.Duration
	// RepeatInterval: an alert is repeated this often while it is neither
	// acknowledged nor resolved. 0: never.
	RepeatInterval time.Duration
}

// Enabled reports whether anybody can be alerted at all.
func (p Policy) Enabled() bool { return len(p.Roster.People) > 0 }

// Notification kinds.
const (
	KindOpened       = "opened"
	KindRepeat       = "repeat"
	KindEscalation   = "escalation"
	KindAcknowledged = "acknowledged"
	KindResolved     = "resolved"
)

// Reasons for an escalation.
const (
	ReasonNoLeaders = "no_leaders"
	ReasonNotAcked  = "not_acknowledged"
)

// Notification is one message due on one channel.
type Notification struct {
	Kind    string
	Channel string
	// People are the recipients reached through Channel, sorted.
	People []string
	// Seq numbers repeats (1, 2, ...); 0 for the other kinds.
	Seq int
	// Reason says why an escalation happens (ReasonNoLeaders, ReasonNotAcked).
	Reason string
	// Shift is the shift on duty when the downtime was detected ("" around the clock).
	Shift string
	// Leaders are the shift's leaders (empty when none were on duty).
	Leaders []string
}

// Phases of an alert.
const (
	// PhaseNone: never seen (the zero State).
	PhaseNone = ""
	// PhaseActive: alerted; acknowledgement and resolution are still to report.
	PhaseActive = "active"
	// PhaseDone: everything reported.
	PhaseDone = "done"
	// PhaseSkipped: not alerted (too old, outside shifts, planned stop, not a downtime).
	PhaseSkipped = "skipped"
)

// State is what must be kept of one record's alert between Steps.
type State struct {
	Phase string `json:"phase"`
	// Skip says why a skipped record is not alerted.
	Skip       string    `json:"skip,omitempty"`
	Shift      string    `json:"shift,omitempty"`
	ShiftStart time.Time `json:"shift_start,omitzero"`
	Leaders    []string  `json:"leaders,omitempty"`
	Escalated  bool      `json:"escalated,omitempty"`
	Acked      bool      `json:"acked,omitempty"`
	Repeats    int       `json:"repeats,omitempty"`
	// EscalateAt and RepeatAt are the pending timers (zero: none).
	EscalateAt time.Time `json:"escalate_at,omitzero"`
	RepeatAt   time.Time `json:"repeat_at,omitzero"`
}

// Next is when Step must run again without a change of the record (zero: never).
func (s State) Next() time.Time {
	switch {
	case s.EscalateAt.IsZero():
		return s.RepeatAt
	case s.RepeatAt.IsZero() || s.EscalateAt.Before(s.RepeatAt):
		return s.EscalateAt
	}
	return s.RepeatAt
}

// Skip reasons.
const (
	SkipType      = "not_alerted_type"
	SkipStale     = "stale"
	SkipNoShift   = "outside_shifts"
	SkipPlanned   = "planned_stop"
	SkipDisabled  = "no_roster"
	SkipFirstSeen = "acknowledged_before_alert"
)

// OnDuty returns the shift on duty at t on a calendar: its name ("" when the
// calendar is around the clock or nil) and start, and the kind of time t is in.
func OnDuty(cal *calendar.Calendar, t time.Time) (shift string, start time.Time, kind calendar.Kind) {
	if cal == nil {
		return "", time.Time{}, calendar.Shift
	}
	sp := cal.Spans(t.UnixNano(), t.UnixNano()+1)
	if len(sp) == 0 {
		return "", time.Time{}, calendar.NoShift
	}
	if sp[0].ShiftStart != 0 {
		start = time.Unix(0, sp[0].ShiftStart).In(cal.Loc)
	}
	return sp[0].Shift, start, sp[0].Kind
}

// Leaders returns the people leading a line's shift: the line's entry for
// the shift, else the line's AnyShift entry, else the same from AnyLine.
func (r Roster) Leaders(line, shift string) []string {
	for _, l := range []string{line, AnyLine} {
		shifts := r.Lines[l]
		if shift != "" {
			if p := shifts[shift]; len(p) > 0 {
				return p
			}
		}
		if p := shifts[AnyShift]; len(p) > 0 {
			return p
		}
	}
	return nil
}

// Alerted reports whether records of an event type are alerted to the
// shift leaders: downtime, and failure warnings.
func Alerted(typ string) bool {
	return typ == anomaly.UnplannedDowntime || typ == anomaly.FailureRisk
}

// Step advances a record's alert: st is the state kept from the last Step
// (zero for a record never seen), rec the record as it is now, cal the
// calendar of the record's line (nil: around the clock). It returns the new
// state and the notifications due now.
func (p Policy) Step(st State, rec anomaly.Record, cal *calendar.Calendar, now time.Time) (State, []Notification) {
	switch st.Phase {
	case PhaseNone:
		return p.first(rec, cal, now)
	case PhaseActive:
		return p.active(st, rec, now)
	}
	return st, nil
}

func (p Policy) first(rec anomaly.Record, cal *calendar.Calendar, now time.Time) (State, []Notification) {
	skip := func(why string) (State, []Notification) { return State{Phase: PhaseSkipped, Skip: why}, nil }
	detected := rec.Detected
	if detected.IsZero() {
		detected = rec.Start
	}
	switch {
	case !Alerted(rec.Type):
		return skip(SkipType)
	case !p.Enabled():
		return skip(SkipDisabled)
	case p.MaxAge > 0 && now.Sub(detected) > p.MaxAge:
		return skip(SkipStale)
	case rec.Status == anomaly.Acknowledged:
		// Somebody knew before anybody was told.
		return skip(SkipFirstSeen)
	}
	shift, shiftStart, kind := OnDuty(cal, detected)
	switch kind {
	case calendar.NoShift:
		return skip(SkipNoShift)
	case calendar.PlannedStop:
		return skip(SkipPlanned)
	}
	st := State{Phase: PhaseActive, Shift: shift, ShiftStart: shiftStart, Leaders: p.known(p.Roster.LeadersOn(rec.Line, shift, shiftStart))}
	var out []Notification
	if len(st.Leaders) > 0 {
		out = p.group(st, KindOpened, st.Leaders, 0, "")
	} else {
		st.Escalated = true
		out = p.group(st, KindEscalation, p.known(p.Roster.Management), 0, ReasonNoLeaders)
	}
	if rec.Status == anomaly.Resolved {
		// Over before it was alerted: one message says both.
		st.Phase = PhaseDone
		return st, out
	}
	if !st.Escalated && p.EscalateAfter > 0 && len(p.known(p.Roster.Management)) > 0 {
		st.EscalateAt = now.Add(p.EscalateAfter)
	}
	if p.RepeatInterval > 0 {
		st.RepeatAt = now.Add(p.RepeatInterval)
	}
	return st, out
}

func (p Policy) active(st State, rec anomaly.Record, now time.Time) (State, []Notification) {
	var out []Notification
	switch rec.Status {
	case anomaly.Resolved:
		out = p.group(st, KindResolved, p.alerted(st), 0, "")
		st.Phase, st.EscalateAt, st.RepeatAt = PhaseDone, time.Time{}, time.Time{}
	case anomaly.Acknowledged:
		if !st.Acked {
			out = p.group(st, KindAcknowledged, p.alerted(st), 0, "")
			st.Acked, st.EscalateAt, st.RepeatAt = true, time.Time{}, time.Time{}
		}
	default:
		if !st.EscalateAt.IsZero() && !now.Before(st.EscalateAt) {
			st.EscalateAt = time.Time{}
			st.Escalated = true
			out = append(out, p.group(st, KindEscalation, p.known(p.Roster.Management), 0, ReasonNotAcked)...)
		}
		if !st.RepeatAt.IsZero() && !now.Before(st.RepeatAt) {
			st.Repeats++
			// Missed repeats (the hub was down) are not made up: one now, the next an interval later.
			st.RepeatAt = now.Add(p.RepeatInterval)
			out = append(out, p.group(st, KindRepeat, p.alerted(st), st.Repeats, "")...)
		}
	}
	return st, out
}

// alerted returns everybody alerted so far: the leaders, and management after an escalation.
func (p Policy) alerted(st State) []string {
	people := slices.Clone(st.Leaders)
	if st.Escalated {
		people = append(people, p.Roster.Management...)
	}
	return p.known(people)
}

// known keeps the people the roster can reach, once each.
func (p Policy) known(ids []string) []string {
	var out []string
	for _, id := range ids {
		if _, ok := p.Roster.People[id]; ok && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// group makes one notification per channel for people, ordered by channel.
func (p Policy) group(st State, kind string, people []string, seq int, reason string) []Notification {
	byChannel := map[string][]string{}
	var channels []string
	for _, id := range people {
		ch := p.Roster.People[id].Channel
		if _, ok := byChannel[ch]; !ok {
			channels = append(channels, ch)
		}
		byChannel[ch] = append(byChannel[ch], id)
	}
	slices.Sort(channels)
	out := make([]Notification, 0, len(channels))
	for _, ch := range channels {
		ps := byChannel[ch]
		slices.Sort(ps)
		out = append(out, Notification{Kind: kind, Channel: ch, People: ps, Seq: seq, Reason: reason,
			Shift: st.Shift, Leaders: slices.Clone(st.Leaders)})
	}
	return out
}
