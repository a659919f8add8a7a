package masterdata

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/alert"
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
