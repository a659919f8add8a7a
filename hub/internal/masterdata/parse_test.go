package masterdata

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/alert"
	"github.com/floorpulse/floorpulse/hub/internal/calendar"
)

func berlin(t *testing.T) *time.Location {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

var known = Known{Site: "s1", Sites: map[string]bool{"s1": true, "s2": true}, Lines: map[string]bool{"s1/L1": true, "s1/L2": true, "s2/P1": true}}

func TestParseCSV(t *testing.T) {
	loc := berlin(t)
	for _, tc := range []struct {
		name   string
		entity Entity
		in     string
		want   []string // the problems, or nil
		recs   int
	}{
		{name: "good, columns in any order, optional ones left out", entity: Equipment,
			in: "line,id,in_service_from,ideal_cycle_s\nL1,M09,2026-10-14,42.50\nP1,X1,,\n", recs: 2,
			want: []string{"line 3, column line: unknown line \"P1\" of site s1"}},
		{name: "every bad row named", entity: Equipment,
			in: "id,line,class,in_service_from,in_service_until,rated_power_kw\n" +
				"M01,L1,cnc,2026-10-01,,7.5\n" + // good
				"M02,L9,cnc,,,\n" + // unknown line
				"M03,L1,cnc,2026-13-01,,\n" + // bad date
				"M01,L2,cnc,,,\n" + // duplicate id
				"M04,L1,cnc,,,-3\n" + // bad number
				"M05,L1,cnc,2026-10-10,2026-10-01,\n" + // ends before it starts
				"M 6,L1,cnc,,,\n" + // bad name
				"M07,L1\n", // short row
			want: []string{
				`line 3, column line: unknown line "L9" of site s1`,
				`line 4, column in_service_from: bad date "2026-13-01" (want YYYY-MM-DD or YYYY-MM-DDTHH:MM, plant time)`,
				`line 5, column id: duplicate id s1/M01 (also on line 2)`,
				`line 6, column rated_power_kw: bad number "-3" (want a number >= 0)`,
				`line 7, column in_service_until: 2026-10-01 is not after in_service_from 2026-10-10`,
				`line 8, column id: "M 6" is not a valid name (no spaces, dots, '*' or '>')`,
				`line 9: 2 fields, the header has 6`,
			}},
		{name: "wrong column", entity: Equipment, in: "id,line,klass\nM01,L1,cnc\n",
			want: []string{"line 1, column klass: unknown column (want id, site, line, class, ideal_cycle_s, rated_power_kw, criticality, in_service_from, in_service_until)"}},
		{name: "required column missing", entity: Equipment, in: "id,class\nM01,cnc\n",
			want: []string{"line 1, column line: required column missing"}},
		{name: "empty", entity: Lines, in: "", want: []string{"line 1: empty file: want a header row"}},
		{name: "a line file's own lines are known to nothing else, its sites must be", entity: Lines,
			in: "id,site,name\nL3,s1,Assembly\nL4,s9,Paint\n", want: []string{`line 3, column site: unknown site "s9"`}},
		{name: "operators", entity: Operators,
			in:   "id,name,team,home_line,valid_from\nop1,Li Wei,A,L1,2026-01-01\nop2,Anna,B,L7,\nop1,Dup,A,,\n",
			want: []string{`line 3, column home_line: unknown line "L7" of site s1`, `line 4, column id: duplicate id op1 (also on line 2)`}},
		{name: "shifts", entity: Shifts,
			in: "line,name,start,end,days,valid_from,valid_until\n" +
				"L1,A,06:00,18:00,mon-fri,2026-11-01,\n" + // good
				"L1,B,18:00,06:00,,2026-11-01,\n" + // good
				"L1,A,06:00,18:00,sat,2026-12-01,\n" + // A holds from 2026-11-01 on
				"L2,C,25:00,06:00,,,\n" + // bad time
				"L2,D,06:00,14:00,mon-fry,,\n" + // bad day
				"L1,A,06:00,18:00,,2026-11-01,2027-01-01\n" + // duplicate key
				"L1,E,06:00,18:00,,2026-10-01,2026-11-01\n" + // good: another name
				"L1,E,06:00,18:00,,2026-10-15,2026-10-20\n" + // overlaps the row before
				"L8,F,06:00,14:00,,,\n", // unknown line
			want: []string{
				`line 4, column valid_from: shift A of line L1 already holds then (line 2)`,
				`line 5, column start: bad time "25:00" (want HH:MM)`,
				`line 6, column days: unknown week day "mon-fry" (want mon..sun or a range like mon-fri)`,
				`line 7, column valid_from: duplicate id L1/A/2026-11-01 (also on line 2)`,
				`line 9, column valid_from: shift E of line L1 already holds then (line 8)`,
				`line 10, column line: unknown line "L8" of site s1`,
			}},
		{name: "planned stops", entity: PlannedStops,
			in: "line,name,start,end,days,valid_from,valid_until\n" +
				"L1,lunch,12:00,12:30,mon-fri,2026-11-01,\n" + // good
				"L1,night break,23:45,00:15,,2026-11-01,\n" + // good: across midnight, a name with a space
				"L1,lunch,12:00,12:45,sat,2026-12-01,\n" + // lunch holds from 2026-11-01 on
				"L2,tea,24:30,12:45,,,\n" + // bad time
				"L2,tea,10:00,10:00,,,\n" + // zero length
				"L2,check,10:00,10:15,mon-fry,,\n" + // bad day
				"L1,lunch,12:00,12:30,,2026-11-01,2027-01-01\n" + // duplicate key
				"L9,lunch,12:00,12:30,,,\n" + // unknown line
				"L2,maint,06:00,08:00,,2026-11-10,2026-11-01\n" + // ends before it starts
				"L2,maint,06:00,08:00,,2026-11-31,\n" + // bad date
				",maint,06:00,08:00,,,\n" + // line required
				"L2,coffee,,10:15,,,\n" + // start without end
				"L2,robots only,,,,2026-12-01,\n", // good: no stop from 1 December
			want: []string{
				`line 4, column valid_from: planned stop lunch of line L1 already holds then (line 2)`,
				`line 5, column start: bad time "24:30" (want HH:MM)`,
				`line 6, column end: a stop of zero length (start 10:00 and end 10:00 are equal)`,
				`line 7, column days: unknown week day "mon-fry" (want mon..sun or a range like mon-fri)`,
				`line 8, column valid_from: duplicate id L1/lunch/2026-11-01 (also on line 2)`,
				`line 9, column line: unknown line "L9" of site s1`,
				`line 10, column valid_until: 2026-11-01 is not after valid_from 2026-11-10`,
				`line 11, column valid_from: bad date "2026-11-31" (want YYYY-MM-DD)`,
				`line 12, column line: required, empty`,
				`line 13, column start: start and end go together: both, or neither for no stop on the days the row holds`,
			}},
		{name: "closures", entity: Closures,
			in: "line,name,from,to,cancelled\n" +
				",Christmas,2026-12-24,2026-12-28,\n" + // good: every line
				"L1,Inventory,2026-12-30T06:00,2026-12-31T14:00,no\n" + // good
				"*,Christmas,2026-12-27,2027-01-02,\n" + // overlaps line 2 (the same closure of every line)
				"L1,Inventory,2026-12-30T12:00,2027-01-01,yes\n" + // good: cancelled, overlaps nothing
				"L7,Fire drill,2026-10-20T14:00,2026-10-20T15:00,\n" + // unknown line
				"L2,Audit,2026-11-05T10:00,2026-11-05T08:00,\n" + // ends before it starts
				"L2,Audit,2026-11-05T25:00,2026-11-06,\n" + // bad date-time
				"L2,Audit,2026-11-06,2026-11-07,maybe\n" + // bad flag
				"*,Christmas,2026-12-24,2026-12-27,\n" + // duplicate key
				"L 2,Audit,2026-11-07,2026-11-08,\n" + // bad line
				"L2,,2026-11-07,2026-11-08,\n", // name required
			want: []string{
				`line 4, column from: closure Christmas of line * overlaps the one on line 2`,
				`line 6, column line: unknown line "L7" of site s1`,
				`line 7, column to: 2026-11-05T08:00:00 is not after from 2026-11-05T10:00:00`,
				`line 8, column from: bad date "2026-11-05T25:00" (want YYYY-MM-DD or YYYY-MM-DDTHH:MM, plant time)`,
				`line 9, column cancelled: bad value "maybe" (want yes or no)`,
				`line 10, column from: duplicate id */Christmas/2026-12-24 (also on line 2)`,
				`line 11, column line: "L 2" is not a valid name (no spaces, dots, '*' or '>')`,
				`line 12, column name: required, empty`,
			}},
		{name: "rosters", entity: Rosters,
			in: "date,line,shift,leaders\n2026-10-14,L1,early,alice; bob\n2026-10-14,L2,night,alice\n2026-10-14T06:00,L1,late,\n" +
				"2026-10-15,L1,late,mallory\n2026-10-14,L1,early,bob\n2026-10-16,L9,early,bob\n",
			want: []string{
				`line 3, column shift: no shift "night" in the calendar of line L2 (shifts: early)`,
				`line 4, column date: bad date "2026-10-14T06:00" (want YYYY-MM-DD)`,
				`line 5, column leaders: "mallory" is not in events.alerts.people`,
				`line 6, column shift: duplicate id 2026-10-14/L1/early (also on line 2)`,
				`line 7, column line: unknown line "L9" of site s1`,
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			known := known
			known.People = map[string]bool{"alice": true, "bob": true}
			known.Shifts = func(line string) []string {
				if line == "L2" {
					return []string{"early"}
				}
				return []string{"early", "late", "night"}
			}
			recs, err := ParseCSV(tc.entity, strings.NewReader(tc.in), known, loc)
			var got []string
			var ps Problems
			if errors.As(err, &ps) {
				for _, p := range ps {
					got = append(got, p.Error())
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if tc.want == nil && len(recs) != tc.recs {
				t.Fatalf("%d records, want %d", len(recs), tc.recs)
			}
			if tc.want != nil && recs != nil {
				t.Fatalf("records returned with problems: %v", recs)
			}
		})
	}
}

// Records are canonical (dates and numbers written one way, the default
// site filled in), and what WriteCSV writes ParseCSV reads back the same;
// JSON reads to the same records.
func TestCSVRoundTrip(t *testing.T) {
	loc := berlin(t)
	in := "id,line,ideal_cycle_s,in_service_from,in_service_until\nM09,L1,42.50,2026-10-14,\nM01,L2,7,2026-10-01T06:00,2027-01-01\n"
	recs, err := ParseCSV(Equipment, strings.NewReader(in), known, loc)
	if err != nil {
		t.Fatal(err)
	}
	if recs[0]["ideal_cycle_s"] != "42.5" || recs[0]["site"] != "s1" || recs[1]["in_service_from"] != "2026-10-01T06:00:00" {
		t.Fatalf("not canonical: %v", recs)
	}
	var buf bytes.Buffer
	if err := WriteCSV(&buf, Equipment, recs); err != nil {
		t.Fatal(err)
	}
	want := "id,site,line,class,ideal_cycle_s,rated_power_kw,criticality,in_service_from,in_service_until\n" +
		"M01,s1,L2,,7,,,2026-10-01T06:00:00,2027-01-01\nM09,s1,L1,,42.5,,,2026-10-14,\n"
	if buf.String() != want {
		t.Fatalf("export:\n%s\nwant:\n%s", buf.String(), want)
	}
	back, err := ParseCSV(Equipment, strings.NewReader(buf.String()), known, loc)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, sortRecords(specs[Equipment], recs)) {
		t.Fatalf("read back %v, want %v", back, recs)
	}
	js, err := ParseJSON(Equipment, strings.NewReader(`[{"id":"M09","line":"L1","ideal_cycle_s":42.5,"in_service_from":"2026-10-14"},
		{"id":"M01","line":"L2","ideal_cycle_s":"7","in_service_from":"2026-10-01T06:00","in_service_until":"2027-01-01"}]`), known, loc)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(js, recs) {
		t.Fatalf("JSON %v, want %v", js, recs)
	}
	_, err = ParseJSON(Equipment, strings.NewReader(`[{"id":"M09","colour":"red"},{"line":"L1"}]`), known, loc)
	if err == nil || err.Error() != "line 1, column colour: unknown field (want id, site, line, class, ideal_cycle_s, rated_power_kw, criticality, in_service_from, in_service_until)\n"+
		"line 1, column line: required field missing\nline 2, column id: required field missing" {
		t.Fatalf("JSON problems: %v", err)
	}
}

// A roster record's leaders are canonical (trimmed, ';' without spaces) and
// make the dated roster; an entry naming nobody is left out of it.
func TestRosterOf(t *testing.T) {
	k := known
	k.People = map[string]bool{"alice": true, "bob": true}
	recs, err := ParseCSV(Rosters, strings.NewReader("date,line,shift,leaders\n2026-10-14,L1,early, alice ;bob\n2026-10-15,L1,early,\n"), k, berlin(t))
	if err != nil {
		t.Fatal(err)
	}
	if recs[0]["leaders"] != "alice;bob" {
		t.Fatalf("leaders %q", recs[0]["leaders"])
	}
	r := RosterOf(recs)
	if len(r) != 1 || !reflect.DeepEqual(r[alert.DatedKey{Date: "2026-10-14", Line: "L1", Shift: "early"}], []string{"alice", "bob"}) {
		t.Fatalf("roster %v", r)
	}
}

// A problem carries a code and its arguments beside the English message,
// which is the code's text with the arguments put in.
func TestProblemCodes(t *testing.T) {
	_, err := ParseCSV(Closures, strings.NewReader("line,name,from,to\nL7,Audit,2026-11-05,2026-11-06\n"), known, berlin(t))
	var ps Problems
	if !errors.As(err, &ps) || len(ps) != 1 {
		t.Fatalf("problems: %v", err)
	}
	p := ps[0]
	if p.Code != "unknown_line" || !reflect.DeepEqual(p.Args, map[string]string{"line": "L7", "site": "s1"}) || p.Message != `unknown line "L7" of site s1` {
		t.Fatalf("problem %+v", p)
	}
	for code, msg := range Messages() {
		if code == "" || msg == "" {
			t.Errorf("code %q: %q", code, msg)
		}
	}
}

// Planned stop and closure records are canonical (a closure of every line
// has the line '*', an empty or "no" cancelled is empty) and read back the
// same from their export.
func TestCalendarRecordsRoundTrip(t *testing.T) {
	loc := berlin(t)
	for _, tc := range []struct {
		entity  Entity
		in, out string
	}{
		{PlannedStops, "name,line,start,end,days\nlunch,L1,12:00,12:30,Mon-Fri\n",
			"line,name,start,end,days,valid_from,valid_until\nL1,lunch,12:00,12:30,mon-fri,,\n"},
		{Closures, "line,name,from,to,cancelled\n,Christmas,2026-12-24,2026-12-28T06:00,no\nL1,Audit,2026-11-05T10:00,2026-11-05T12:00,Yes\n",
			"line,name,from,to,cancelled\n*,Christmas,2026-12-24,2026-12-28T06:00:00,\nL1,Audit,2026-11-05T10:00:00,2026-11-05T12:00:00,yes\n"},
	} {
		recs, err := ParseCSV(tc.entity, strings.NewReader(tc.in), known, loc)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := WriteCSV(&buf, tc.entity, recs); err != nil {
			t.Fatal(err)
		}
		if buf.String() != tc.out {
			t.Fatalf("%s export:\n%s\nwant:\n%s", tc.entity, buf.String(), tc.out)
		}
		back, err := ParseCSV(tc.entity, strings.NewReader(buf.String()), known, loc)
		if err != nil || !reflect.DeepEqual(back, sortRecords(specs[tc.entity], recs)) {
			t.Fatalf("%s read back %v %v, want %v", tc.entity, back, err, recs)
		}
	}
	// As JSON, cancelled may be a boolean; no other column may.
	js, err := ParseJSON(Closures, strings.NewReader(`[{"line":"L1","name":"Audit","from":"2026-11-05T10:00","to":"2026-11-05T12:00","cancelled":true},
		{"name":"Christmas","from":"2026-12-24","to":"2026-12-28T06:00","cancelled":false}]`), known, loc)
	if err != nil || js[0]["cancelled"] != "yes" || js[1]["cancelled"] != "" || js[1]["line"] != "*" {
		t.Fatalf("JSON closures %v %v", js, err)
	}
	if _, err := ParseJSON(Closures, strings.NewReader(`[{"line":"L1","name":true,"from":"2026-11-05","to":"2026-11-06"}]`), known, loc); err == nil ||
		err.Error() != "line 1, column name: want a string or a number" {
		t.Fatalf("a boolean name: %v", err)
	}
}

// Imported planned stops replace a line's configured ones on the days they
// hold (a row without times: none), imported closures are added to the
// configured ones, those of '*' on every line, cancelled ones on none.
func TestCalendarsOf(t *testing.T) {
	loc := berlin(t)
	parse := func(e Entity, in string) []Record {
		recs, err := ParseCSV(e, strings.NewReader(in), known, loc)
		if err != nil {
			t.Fatal(err)
		}
		return recs
	}
	stops := parse(PlannedStops, "line,name,start,end,valid_from,valid_until\nL1,tea,15:00,15:30,2026-11-02,2026-11-03\nL1,none,,,2026-11-03,2026-11-04\n")
	closures := parse(Closures, "line,name,from,to,cancelled\n*,Holiday,2026-11-01,2026-11-02,\nL1,Audit,2026-11-02T06:00,2026-11-02T08:00,\nL2,Audit,2026-11-02T06:00,2026-11-02T08:00,yes\n")
	cals := CalendarsOf(nil, stops, closures, loc)
	if got := cals.Lines(); !reflect.DeepEqual(got, []string{"L1"}) {
		t.Fatalf("lines %v", got)
	}
	yaml := &calendar.Calendar{Loc: loc, Stops: []calendar.Recurring{{Name: "lunch", Start: 12 * 60, End: 12*60 + 30}},
		Closures: []calendar.Closure{{Name: "Fire drill", From: time.Date(2026, 11, 4, 9, 0, 0, 0, loc), To: time.Date(2026, 11, 4, 10, 0, 0, 0, loc)}}}
	stopped := func(cal *calendar.Calendar) string {
		var out []string
		for _, s := range cal.Spans(time.Date(2026, 11, 1, 0, 0, 0, 0, loc).UnixNano(), time.Date(2026, 11, 5, 0, 0, 0, 0, loc).UnixNano()) {
			if s.Kind == calendar.PlannedStop {
				out = append(out, time.Unix(0, s.Start).In(loc).Format("02T15:04")+"-"+time.Unix(0, s.End).In(loc).Format("02T15:04"))
			}
		}
		return strings.Join(out, " ")
	}
	if got, want := stopped(cals.Of(yaml, "L1", loc)), "01T00:00-02T00:00 02T06:00-02T08:00 02T15:00-02T15:30 04T09:00-04T10:00 04T12:00-04T12:30"; got != want {
		t.Fatalf("L1 planned stops\n%s\nwant\n%s", got, want)
	}
	if got, want := stopped(cals.Of(yaml, "L2", loc)), "01T00:00-02T00:00 02T12:00-02T12:30 03T12:00-03T12:30 04T09:00-04T10:00 04T12:00-04T12:30"; got != want {
		t.Fatalf("L2 planned stops\n%s\nwant\n%s", got, want)
	}
	if cals.Of(yaml, "L2", loc) == yaml || CalendarsOf(nil, nil, nil, loc).Of(yaml, "L2", loc) != yaml {
		t.Fatal("a line's calendar is copied only when an imported record concerns it")
	}
}
