package masterdata

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// MaxRows bounds the rows of one import.
const MaxRows = 100000

// row is one record as read, before it is checked: its line and its fields.
type row struct {
	line   int
	fields map[string]string
	// columns present in the row (a JSON object may leave some out).
	present map[string]bool
}

// ParseCSV reads an entity's CSV file (a header row with the column names,
// in any order; optional columns may be left out) and checks every row.
// It returns the records, or every problem found.
func ParseCSV(e Entity, r io.Reader, known Known, loc *time.Location) ([]Record, error) {
	spec, ok := SpecOf(e)
	if !ok {
		return nil, fmt.Errorf("unknown entity %q", e)
	}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, Problems{{Line: 1, Message: "empty file: want a header row"}}
	}
	if err != nil {
		return nil, Problems{{Line: 1, Message: err.Error()}}
	}
	var probs Problems
	cols := make([]string, len(header))
	seen := map[string]bool{}
	for i, h := range header {
		h = strings.TrimPrefix(strings.TrimSpace(h), "\ufeff")
		cols[i] = h
		switch {
		case !spec.has(h):
			probs = append(probs, Problem{Line: 1, Column: h, Message: fmt.Sprintf("unknown column (want %s)", spec.names())})
		case seen[h]:
			probs = append(probs, Problem{Line: 1, Column: h, Message: "column given twice"})
		}
		seen[h] = true
	}
	for _, c := range spec.Columns {
		if c.Required && !seen[c.Name] {
			probs = append(probs, Problem{Line: 1, Column: c.Name, Message: "required column missing"})
		}
	}
	if len(probs) > 0 {
		return nil, probs // the rows cannot be read without their columns
	}
	var rows []row
	for {
		line, _ := cr.FieldPos(0)
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line = pe.Line
			}
			probs = append(probs, Problem{Line: line, Message: err.Error()})
			break
		}
		line, _ = cr.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // a blank line
		}
		if len(rows) == MaxRows {
			probs = append(probs, Problem{Line: line, Message: fmt.Sprintf("more than %d rows", MaxRows)})
			break
		}
		if len(rec) != len(cols) {
			probs = append(probs, Problem{Line: line, Message: fmt.Sprintf("%d fields, the header has %d", len(rec), len(cols))})
			continue
		}
		rw := row{line: line, fields: map[string]string{}, present: map[string]bool{}}
		for i, v := range rec {
			rw.fields[cols[i]] = strings.TrimSpace(v)
			rw.present[cols[i]] = true
		}
		rows = append(rows, rw)
	}
	recs, more := check(spec, rows, known, loc)
	if probs = append(probs, more...); len(probs) > 0 {
		sortProblems(probs)
		return nil, probs
	}
	return recs, nil
}

// ParseJSON reads an entity's records as a JSON array of objects whose keys
// are the CSV's column names and whose values are strings or numbers; a
// problem's line is the record's number, from 1.
func ParseJSON(e Entity, r io.Reader, known Known, loc *time.Location) ([]Record, error) {
	spec, ok := SpecOf(e)
	if !ok {
		return nil, fmt.Errorf("unknown entity %q", e)
	}
	var objs []map[string]any
	dec := json.NewDecoder(r)
	dec.UseNumber()
	if err := dec.Decode(&objs); err != nil {
		return nil, Problems{{Line: 1, Message: "not a JSON array of objects: " + err.Error()}}
	}
	if len(objs) > MaxRows {
		return nil, Problems{{Line: MaxRows + 1, Message: fmt.Sprintf("more than %d records", MaxRows)}}
	}
	var probs Problems
	rows := make([]row, 0, len(objs))
	for i, o := range objs {
		rw := row{line: i + 1, fields: map[string]string{}, present: map[string]bool{}}
		for k, v := range o {
			if !spec.has(k) {
				probs = append(probs, Problem{Line: i + 1, Column: k, Message: fmt.Sprintf("unknown field (want %s)", spec.names())})
				continue
			}
			switch v := v.(type) {
			case string:
				rw.fields[k] = strings.TrimSpace(v)
			case json.Number:
				rw.fields[k] = v.String()
			case nil:
				rw.fields[k] = ""
			default:
				probs = append(probs, Problem{Line: i + 1, Column: k, Message: "want a string or a number"})
				continue
			}
			rw.present[k] = true
		}
		for _, c := range spec.Columns {
			if c.Required && !rw.present[c.Name] {
				probs = append(probs, Problem{Line: i + 1, Column: c.Name, Message: "required field missing"})
			}
		}
		rows = append(rows, rw)
	}
	recs, more := check(spec, rows, known, loc)
	if probs = append(probs, more...); len(probs) > 0 {
		sortProblems(probs)
		return nil, probs
	}
	return recs, nil
}

// check turns rows into records, finding every bad field, every unknown
// site or line, every key given twice and every interval that ends before
// it starts.
func check(spec Spec, rows []row, known Known, loc *time.Location) ([]Record, Problems) {
	var probs Problems
	add := func(line int, col, format string, args ...any) {
		probs = append(probs, Problem{Line: line, Column: col, Message: fmt.Sprintf(format, args...)})
	}
	// Sites and lines the file itself declares may be named by its rows.
	sites, lines := copySet(known.Sites), copySet(known.Lines)
	site := func(r Record) string {
		if r["site"] == "" {
			return known.Site
		}
		return r["site"]
	}
	recs := make([]Record, 0, len(rows))
	bad := make([]bool, 0, len(rows))
	for _, rw := range rows {
		rec := Record{}
		ok := true
		for _, c := range spec.Columns {
			v := rw.fields[c.Name]
			if v == "" {
				if c.Required && rw.present[c.Name] {
					add(rw.line, c.Name, "required, empty")
					ok = false
				}
				rec[c.Name] = ""
				continue
			}
			cv, err := canonical(c.kind, v, loc)
			if err != nil {
				add(rw.line, c.Name, "%v", err)
				ok = false
				continue
			}
			rec[c.Name] = cv
		}
		if spec.has("site") {
			rec["site"] = site(rec)
		}
		switch spec.Entity {
		case Sites:
			sites[rec["id"]] = true
		case Lines:
			lines[rec["site"]+"/"+rec["id"]] = true
		}
		recs = append(recs, rec)
		bad = append(bad, !ok)
	}
	firstAt := map[string]int{}
	for i, rec := range recs {
		rw := rows[i]
		if spec.From != "" && rec[spec.From] != "" && rec[spec.Until] != "" {
			from, _ := ParseDate(rec[spec.From], loc)
			until, _ := ParseDate(rec[spec.Until], loc)
			if !until.After(from) {
				add(rw.line, spec.Until, "%s is not after %s %s", rec[spec.Until], spec.From, rec[spec.From])
			}
		}
		if spec.Entity != Sites && spec.has("site") && rec["site"] != "" && !sites[rec["site"]] {
			add(rw.line, "site", "unknown site %q", rec["site"])
		}
		switch spec.Entity {
		case Equipment:
			if rec["line"] != "" && !lines[rec["site"]+"/"+rec["line"]] {
				add(rw.line, "line", "unknown line %q of site %s", rec["line"], rec["site"])
			}
		case Operators:
			if rec["home_line"] != "" && !lines[rec["site"]+"/"+rec["home_line"]] {
				add(rw.line, "home_line", "unknown line %q of site %s", rec["home_line"], rec["site"])
			}
		case Rosters:
			checkRoster(rec, rw.line, known, lines, add)
		case Shifts:
			if rec["line"] != "" && !lines[known.Site+"/"+rec["line"]] {
				add(rw.line, "line", "unknown line %q of site %s", rec["line"], known.Site)
			}
		}
		if bad[i] {
			continue
		}
		k := spec.KeyOf(rec)
		if first, dup := firstAt[k]; dup {
			add(rw.line, spec.Key[len(spec.Key)-1], "duplicate id %s (also on line %d)", k, first)
			continue
		}
		firstAt[k] = rw.line
	}
	if spec.Entity == Shifts {
		probs = append(probs, overlappingShifts(recs, rows, bad, loc)...)
	}
	return recs, probs
}

// overlappingShifts finds shifts of one line and name whose validity
// overlaps that of an earlier row.
func overlappingShifts(recs []Record, rows []row, bad []bool, loc *time.Location) Problems {
	var probs Problems
	type seen struct {
		line        int
		from, until time.Time
	}
	byName := map[[2]string][]seen{}
	for i, rec := range recs {
		if bad[i] {
			continue
		}
		from, _ := ParseDate(rec["valid_from"], loc)
		until, _ := ParseDate(rec["valid_until"], loc)
		k := [2]string{rec["line"], rec["name"]}
		if slices.ContainsFunc(byName[k], func(o seen) bool { return o.from.Equal(from) }) {
			continue // a key given twice: named as such
		}
		for _, o := range byName[k] {
			if (o.until.IsZero() || from.Before(o.until)) && (until.IsZero() || o.from.Before(until)) {
				probs = append(probs, Problem{Line: rows[i].line, Column: "valid_from",
					Message: fmt.Sprintf("shift %s of line %s already holds then (line %d)", rec["name"], rec["line"], o.line)})
				break
			}
		}
		byName[k] = append(byName[k], seen{rows[i].line, from, until})
	}
	return probs
}

func copySet(m map[string]bool) map[string]bool {
	out := make(map[string]bool, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func sortProblems(ps Problems) {
	slices.SortStableFunc(ps, func(a, b Problem) int { return a.Line - b.Line })
}

func (s Spec) has(col string) bool {
	for _, c := range s.Columns {
		if c.Name == col {
			return true
		}
	}
	return false
}

func (s Spec) names() string {
	n := make([]string, len(s.Columns))
	for i, c := range s.Columns {
		n[i] = c.Name
	}
	return strings.Join(n, ", ")
}

// WriteCSV writes records in the entity's CSV format (every column, in the
// spec's order), sorted by key: what ParseCSV reads back to the same records.
func WriteCSV(w io.Writer, e Entity, recs []Record) error {
	spec, ok := SpecOf(e)
	if !ok {
		return fmt.Errorf("unknown entity %q", e)
	}
	cw := csv.NewWriter(w)
	header := make([]string, len(spec.Columns))
	for i, c := range spec.Columns {
		header[i] = c.Name
	}
	if err := cw.Write(header); err != nil {
		return err
	}
	for _, r := range sortRecords(spec, recs) {
		row := make([]string, len(spec.Columns))
		for i, c := range spec.Columns {
			row[i] = r[c.Name]
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func sortRecords(spec Spec, recs []Record) []Record {
	out := slices.Clone(recs)
	slices.SortFunc(out, func(a, b Record) int { return strings.Compare(spec.KeyOf(a), spec.KeyOf(b)) })
	return out
}

// checkRoster checks a roster row's line, shift and people.
func checkRoster(rec Record, line int, known Known, lines map[string]bool, add func(int, string, string, ...any)) {
	if rec["line"] == "" {
		return
	}
	if !lines[known.Site+"/"+rec["line"]] {
		add(line, "line", "unknown line %q of site %s", rec["line"], known.Site)
		return
	}
	if rec["shift"] != "" && known.Shifts != nil {
		shifts := known.Shifts(rec["line"])
		if !slices.Contains(shifts, rec["shift"]) {
			add(line, "shift", "no shift %q in the calendar of line %s (shifts: %s)", rec["shift"], rec["line"], strings.Join(shifts, ", "))
		}
	}
	if rec["leaders"] == "" {
		return
	}
	for _, id := range strings.Split(rec["leaders"], ";") {
		if !known.People[id] {
			add(line, "leaders", "%q is not in events.alerts.people", id)
		}
	}
}
