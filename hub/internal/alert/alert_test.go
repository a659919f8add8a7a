package alert

import (
	"slices"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/anomaly"
	"github.com/floorpulse/floorpulse/hub/internal/calendar"
)

var berlin = mustLoad("Europe/Berlin")

func mustLoad(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// threeShifts is early 06-14, late 14-22, night 22-06 with a break 10:00-10:30.
func threeShifts() *calendar.Calendar {
	c := func(s string) calendar.Clock { v, _ := calendar.ParseClock(s); return v }
	return &calendar.Calendar{Loc: berlin,
		Shifts: []calendar.Recurring{{Name: "early", Start: c("06:00"), End: c("14:00")},
			{Name: "late", Start: c("14:00"), End: c("22:00")}, {Name: "night", Start: c("22:00"), End: c("06:00")}},
		Stops: []calendar.Recurring{{Name: "break", Start: c("10:00"), End: c("10:30")}},
	}
}

func policy() Policy {
	return Policy{
		Roster: Roster{
			People: map[string]Person{
				"alice": {Channel: "leaders"}, "bob": {Channel: "leaders"}, "carol": {Channel: "night-chat", Mention: "@carol"},
				"dave": {Channel: "leaders"}, "boss": {Channel: "mgmt"}, "deputy": {Channel: "mgmt"},
			},
			Lines: map[string]map[string][]string{
				"L1":    {"early": {"alice"}, "late": {"bob"}, "night": {"carol"}},
				"L2":    {"early": {"alice", "dave", "carol"}},
				AnyLine: {AnyShift: {"dave"}},
			},
			Management: []string{"boss", "deputy"},
		},
		MaxAge: 15 * time.Minute, EscalateAfter: 10 * time.Minute,
	}
}

func downtime(line string, detected time.Time) anomaly.Record {
	return anomaly.Record{Event: anomaly.Event{ID: "e1", Type: anomaly.UnplannedDowntime, Site: "p", Line: line, Equipment: "M1",
		Start: detected.Add(-5 * time.Minute), Detected: detected}, Status: anomaly.Opened, Revision: 1}
}

func local(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, berlin)
	if err != nil {
		panic(err)
	}
	return t
}

// The shift on duty, and its leaders, across both DST nights of 2026: the
// night shift of 24/25 October holds 02:00-03:00 twice (9 h), the one of
// 28/29 March skips it (7 h).
func TestRoutingByShiftAcrossDST(t *testing.T) {
	cal := threeShifts()
	utc := func(s string) time.Time { v, _ := time.Parse(time.RFC3339, s); return v }
	for _, tc := range []struct {
		name       string
		at         time.Time
		shift      string
		shiftStart time.Time
		to         string
	}{
		{"before midnight", local("2026-10-24 23:30"), "night", local("2026-10-24 22:00"), "carol"},
		{"02:30 CEST, first pass", utc("2026-10-25T00:30:00Z"), "night", local("2026-10-24 22:00"), "carol"},
		{"02:30 CET, second pass", utc("2026-10-25T01:30:00Z"), "night", local("2026-10-24 22:00"), "carol"},
		{"05:59 CET, last minute", local("2026-10-25 05:59"), "night", local("2026-10-24 22:00"), "carol"},
		{"06:00 CET, early", local("2026-10-25 06:00"), "early", local("2026-10-25 06:00"), "alice"},
		{"spring night after the gap", utc("2026-03-29T01:30:00Z"), "night", local("2026-03-28 22:00"), "carol"},
		{"spring early", local("2026-03-29 06:00"), "early", local("2026-03-29 06:00"), "alice"},
		{"late", local("2026-10-25 21:59"), "late", local("2026-10-25 14:00"), "bob"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, notes := policy().Step(State{}, downtime("L1", tc.at), cal, tc.at.Add(time.Minute))
			if st.Shift != tc.shift || !st.ShiftStart.Equal(tc.shiftStart) {
				t.Fatalf("shift %q from %s, want %q from %s", st.Shift, st.ShiftStart, tc.shift, tc.shiftStart)
			}
			if len(notes) != 1 || notes[0].Kind != KindOpened || !slices.Equal(notes[0].People, []string{tc.to}) {
				t.Fatalf("notifications %+v, want one opened to %s", notes, tc.to)
			}
		})
	}
	// The October night shift is 9 hours long, the March one 7.
	if got := len(cal.Spans(local("2026-10-24 22:00").UnixNano(), local("2026-10-25 06:00").UnixNano())); got != 1 {
		t.Fatalf("October night cut into %d spans", got)
	}
	if d := local("2026-10-25 06:00").Sub(local("2026-10-24 22:00")); d != 9*time.Hour {
		t.Fatalf("October night lasts %s", d)
	}
}

func TestFallbacksAndGrouping(t *testing.T) {
	p := policy()
	at := local("2026-06-01 07:00")
	// L2's early shift: three leaders on two channels make two messages.
	_, notes := p.Step(State{}, downtime("L2", at), threeShifts(), at)
	if len(notes) != 2 || notes[0].Channel != "leaders" || !slices.Equal(notes[0].People, []string{"alice", "dave"}) ||
		notes[1].Channel != "night-chat" || !slices.Equal(notes[1].People, []string{"carol"}) {
		t.Fatalf("grouping: %+v", notes)
	}
	// A line without a roster entry, and an around-the-clock calendar: "*" / "all".
	st, notes := p.Step(State{}, downtime("L9", at), nil, at)
	if st.Shift != "" || len(notes) != 1 || !slices.Equal(notes[0].People, []string{"dave"}) {
		t.Fatalf("fallback: %+v %+v", st, notes)
	}
}

// A failure warning is alerted like a downtime: to the leaders of the
// shift on duty when it is detected.
func TestFailureRiskAlerted(t *testing.T) {
	at := local("2026-06-01 07:00")
	rec := downtime("L2", at)
	rec.Type, rec.Severity = anomaly.FailureRisk, anomaly.Warning
	st, notes := policy().Step(State{}, rec, threeShifts(), at)
	if st.Phase != PhaseActive || len(notes) == 0 || notes[0].Kind != KindOpened {
		t.Fatalf("failure warning: %+v %+v, want the leaders alerted", st, notes)
	}
}

func TestNoAlert(t *testing.T) {
	p := policy()
	cal := threeShifts()
	at := local("2026-06-01 07:00")
	idle := downtime("L1", at)
	idle.Type = anomaly.IdleRunning
	for _, tc := range []struct {
		name string
		rec  anomaly.Record
		cal  *calendar.Calendar
		now  time.Time
		p    Policy
		skip string
	}{
		{"history replay", downtime("L1", at), cal, at.Add(16 * time.Minute), p, SkipStale},
		{"planned stop", downtime("L1", local("2026-06-01 10:10")), cal, local("2026-06-01 10:11"), p, SkipPlanned},
		{"not a downtime", idle, cal, at, p, SkipType},
		{"no roster", downtime("L1", at), cal, at, Policy{MaxAge: time.Hour}, SkipDisabled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, notes := tc.p.Step(State{}, tc.rec, tc.cal, tc.now)
			if st.Phase != PhaseSkipped || st.Skip != tc.skip || len(notes) != 0 {
				t.Fatalf("got %+v %+v, want skipped (%s)", st, notes, tc.skip)
			}
			// A skipped record stays silent through its whole life.
			tc.rec.Status = anomaly.Resolved
			if st2, notes := tc.p.Step(st, tc.rec, tc.cal, tc.now.Add(time.Hour)); len(notes) != 0 || st2.Phase != PhaseSkipped {
				t.Fatalf("skipped record notified: %+v", notes)
			}
		})
	}
	// Outside every shift: a calendar with only an early shift.
	c := func(s string) calendar.Clock { v, _ := calendar.ParseClock(s); return v }
	early := &calendar.Calendar{Loc: berlin, Shifts: []calendar.Recurring{{Name: "early", Start: c("06:00"), End: c("14:00")}}}
	if st, notes := p.Step(State{}, downtime("L1", local("2026-06-01 20:00")), early, local("2026-06-01 20:00")); st.Skip != SkipNoShift || len(notes) != 0 {
		t.Fatalf("outside shifts: %+v %+v", st, notes)
	}
}

// run takes a record through Steps at the given times and returns every notification.
func run(p Policy, rec anomaly.Record, cal *calendar.Calendar, steps []struct {
	at     time.Time
	status string
}) (State, []Notification) {
	var st State
	var all []Notification
	for _, s := range steps {
		rec.Status = s.status
		var notes []Notification
		st, notes = p.Step(st, rec, cal, s.at)
		all = append(all, notes...)
	}
	return st, all
}

func kinds(ns []Notification) []string {
	var out []string
	for _, n := range ns {
		out = append(out, n.Kind+":"+n.Channel)
	}
	return out
}

type step = struct {
	at     time.Time
	status string
}

func TestEscalation(t *testing.T) {
	p := policy()
	cal := threeShifts()
	at := local("2026-06-01 07:00")
	rec := downtime("L1", at)

	// Not acknowledged: escalated once, at 10 minutes, however often the timer is looked at.
	st, notes := run(p, rec, cal, []step{{at, anomaly.Opened}, {at.Add(9 * time.Minute), anomaly.Opened},
		{at.Add(10 * time.Minute), anomaly.Opened}, {at.Add(11 * time.Minute), anomaly.Opened}, {at.Add(time.Hour), anomaly.Opened}})
	if want := []string{"opened:leaders", "escalation:mgmt"}; !slices.Equal(kinds(notes), want) {
		t.Fatalf("not acked: %v, want %v", kinds(notes), want)
	}
	if notes[1].Reason != ReasonNotAcked || !slices.Equal(notes[1].People, []string{"boss", "deputy"}) || !st.Next().IsZero() {
		t.Fatalf("escalation: %+v, next %s", notes[1], st.Next())
	}
	// Resolution then reaches leaders and management.
	_, notes = p.Step(st, func() anomaly.Record { r := rec; r.Status = anomaly.Resolved; return r }(), cal, at.Add(2*time.Hour))
	if want := []string{"resolved:leaders", "resolved:mgmt"}; !slices.Equal(kinds(notes), want) {
		t.Fatalf("resolve after escalation: %v", kinds(notes))
	}

	// Acknowledged in time: no escalation, ever; ack and resolve go to the leaders.
	_, notes = run(p, rec, cal, []step{{at, anomaly.Opened}, {at.Add(5 * time.Minute), anomaly.Acknowledged},
		{at.Add(10 * time.Minute), anomaly.Acknowledged}, {at.Add(time.Hour), anomaly.Acknowledged}, {at.Add(2 * time.Hour), anomaly.Resolved},
		{at.Add(3 * time.Hour), anomaly.Resolved}})
	if want := []string{"opened:leaders", "acknowledged:leaders", "resolved:leaders"}; !slices.Equal(kinds(notes), want) {
		t.Fatalf("acked: %v, want %v", kinds(notes), want)
	}

	// No leader on duty: management at once, no second escalation later.
	q := policy()
	q.Roster.Lines = map[string]map[string][]string{"L1": {"late": {"bob"}}}
	_, notes = run(q, rec, cal, []step{{at, anomaly.Opened}, {at.Add(20 * time.Minute), anomaly.Opened}})
	if len(notes) != 1 || notes[0].Kind != KindEscalation || notes[0].Reason != ReasonNoLeaders {
		t.Fatalf("no leaders: %+v", notes)
	}
}

func TestRepeat(t *testing.T) {
	p := policy()
	p.EscalateAfter = 0
	p.RepeatInterval = 30 * time.Minute
	at := local("2026-06-01 07:00")
	st, notes := run(p, downtime("L1", at), threeShifts(), []step{{at, anomaly.Opened}, {at.Add(29 * time.Minute), anomaly.Opened},
		{at.Add(30 * time.Minute), anomaly.Opened}, {at.Add(31 * time.Minute), anomaly.Opened},
		// The hub was down for two hours: one repeat, not four.
		{at.Add(3 * time.Hour), anomaly.Opened}, {at.Add(3*time.Hour + time.Minute), anomaly.Acknowledged}, {at.Add(5 * time.Hour), anomaly.Acknowledged}})
	if want := []string{"opened:leaders", "repeat:leaders", "repeat:leaders", "acknowledged:leaders"}; !slices.Equal(kinds(notes), want) {
		t.Fatalf("%v, want %v", kinds(notes), want)
	}
	if notes[1].Seq != 1 || notes[2].Seq != 2 || !st.Next().IsZero() {
		t.Fatalf("repeat numbers %d %d, next %s", notes[1].Seq, notes[2].Seq, st.Next())
	}
}

func TestResolvedBeforeFirstSeen(t *testing.T) {
	at := local("2026-06-01 07:00")
	rec := downtime("L1", at)
	rec.Status = anomaly.Resolved
	st, notes := policy().Step(State{}, rec, threeShifts(), at.Add(2*time.Minute))
	if st.Phase != PhaseDone || len(notes) != 1 || notes[0].Kind != KindOpened || !st.Next().IsZero() {
		t.Fatalf("%+v %+v", st, notes)
	}
}
