package masterdata

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
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
		return nil, Problems{problem(1, "", "empty_file")}
	}
	if err != nil {
		return nil, Problems{problem(1, "", "csv", "error", err.Error())}
	}
	var probs Problems
	cols := make([]string, len(header))
	seen := map[string]bool{}
	for i, h := range header {
		h = strings.TrimPrefix(strings.TrimSpace(h), "\ufeff")
		cols[i] = h
		switch {
		case !spec.has(h):
			probs = append(probs, problem(1, h, "unknown_column", "columns", spec.names()))
		case seen[h]:
			probs = append(probs, problem(1, h, "column_twice"))
		}
		seen[h] = true
	}
	for _, c := range spec.Columns {
		if c.Required && !seen[c.Name] {
			probs = append(probs, problem(1, c.Name, "required_column_missing"))
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
			probs = append(probs, problem(line, "", "csv", "error", err.Error()))
			break
		}
		line, _ = cr.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // a blank line
		}
		if len(rows) == MaxRows {
			probs = append(probs, problem(line, "", "too_many_rows", "max", strconv.Itoa(MaxRows)))
			break
		}
		if len(rec) != len(cols) {
			probs = append(probs, problem(line, "", "field_count", "fields", strconv.Itoa(len(rec)), "columns", strconv.Itoa(len(cols))))
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
		return nil, Problems{problem(1, "", "not_json", "error", err.Error())}
	}
	if len(objs) > MaxRows {
		return nil, Problems{problem(MaxRows+1, "", "too_many_rows", "max", strconv.Itoa(MaxRows))}
	}
	var probs Problems
	rows := make([]row, 0, len(objs))
	for i, o := range objs {
		rw := row{line: i + 1, fields: map[string]string{}, present: map[string]bool{}}
		wrong := map[string]bool{} // given, of a wrong type: named as such, not as missing
		for k, v := range o {
			if !spec.has(k) {
				probs = append(probs, problem(i+1, k, "unknown_field", "columns", spec.names()))
				continue
			}
			switch v := v.(type) {
			case string:
				rw.fields[k] = strings.TrimSpace(v)
			case json.Number:
				rw.fields[k] = v.String()
			case nil:
				rw.fields[k] = ""
			case bool:
				if spec.column(k).kind != kindFlag {
					probs, wrong[k] = append(probs, problem(i+1, k, "want_string_or_number")), true
					continue
				}
				rw.fields[k] = strconv.FormatBool(v)
			default:
				probs, wrong[k] = append(probs, problem(i+1, k, "want_string_or_number")), true
				continue
			}
			rw.present[k] = true
		}
		for _, c := range spec.Columns {
			if c.Required && !rw.present[c.Name] && !wrong[c.Name] {
				probs = append(probs, problem(i+1, c.Name, "required_field_missing"))
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
	add := func(line int, col, code string, kv ...string) {
		probs = append(probs, problem(line, col, code, kv...))
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
					add(rw.line, c.Name, "required_empty")
					ok = false
				}
				rec[c.Name] = ""
				continue
			}
			cv, fe := canonical(c.kind, v, loc)
			if fe != nil {
				add(rw.line, c.Name, fe.code, fe.kv...)
				ok = false
				continue
			}
			rec[c.Name] = cv
		}
		if spec.has("site") {
			rec["site"] = site(rec)
		}
		if spec.Entity == Closures && rec["line"] == "" {
			rec["line"] = AllLines
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
				add(rw.line, spec.Until, "not_after", "value", rec[spec.Until], "from_column", spec.From, "from", rec[spec.From])
			}
		}
		if spec.Entity != Sites && spec.has("site") && rec["site"] != "" && !sites[rec["site"]] {
			add(rw.line, "site", "unknown_site", "site", rec["site"])
		}
		switch spec.Entity {
		case Equipment:
			if rec["line"] != "" && !lines[rec["site"]+"/"+rec["line"]] {
				add(rw.line, "line", "unknown_line", "line", rec["line"], "site", rec["site"])
			}
		case Operators:
			if rec["home_line"] != "" && !lines[rec["site"]+"/"+rec["home_line"]] {
				add(rw.line, "home_line", "unknown_line", "line", rec["home_line"], "site", rec["site"])
			}
		case Rosters:
			checkRoster(rec, rw.line, known, lines, add)
		case Shifts, PlannedStops, Closures:
			if l := rec["line"]; l != "" && l != AllLines && !lines[known.Site+"/"+l] {
				add(rw.line, "line", "unknown_line", "line", l, "site", known.Site)
			}
			if spec.Entity == PlannedStops {
				checkStop(rec, rw, add)
			}
		}
		if bad[i] {
			continue
		}
		k := spec.KeyOf(rec)
		if first, dup := firstAt[k]; dup {
			add(rw.line, spec.Key[len(spec.Key)-1], "duplicate", "key", k, "first", strconv.Itoa(first))
			continue
		}
		firstAt[k] = rw.line
	}
	switch spec.Entity {
	case Shifts:
		probs = append(probs, overlapping(recs, rows, bad, "valid_from", "valid_until", "shift_overlap", loc)...)
	case PlannedStops:
		probs = append(probs, overlapping(recs, rows, bad, "valid_from", "valid_until", "stop_overlap", loc)...)
	case Closures:
		probs = append(probs, overlapping(recs, rows, bad, "from", "to", "closure_overlap", loc)...)
	}
	return recs, probs
}

// overlapping finds rows of one line and name whose interval (the columns
// from and until; a validity, or a closure's time) overlaps that of an
// earlier row; a cancelled closure overlaps nothing.
func overlapping(recs []Record, rows []row, bad []bool, fromCol, untilCol, code string, loc *time.Location) Problems {
	var probs Problems
	type seen struct {
		line        int
		from, until time.Time
	}
	byName := map[[2]string][]seen{}
	for i, rec := range recs {
		if bad[i] || rec["cancelled"] != "" {
			continue
		}
		from, _ := ParseDate(rec[fromCol], loc)
		until, _ := ParseDate(rec[untilCol], loc)
		k := [2]string{rec["line"], rec["name"]}
		if slices.ContainsFunc(byName[k], func(o seen) bool { return o.from.Equal(from) }) {
			continue // a key given twice: named as such
		}
		for _, o := range byName[k] {
			if (o.until.IsZero() || from.Before(o.until)) && (until.IsZero() || o.from.Before(until)) {
				probs = append(probs, problem(rows[i].line, fromCol, code, "name", rec["name"], "line", rec["line"], "first", strconv.Itoa(o.line)))
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

// column returns a column of the spec by name (the zero column when none).
func (s Spec) column(name string) Column {
	for _, c := range s.Columns {
		if c.Name == name {
			return c
		}
	}
	return Column{}
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
func checkRoster(rec Record, line int, known Known, lines map[string]bool, add func(int, string, string, ...string)) {
	if rec["line"] == "" {
		return
	}
	if !lines[known.Site+"/"+rec["line"]] {
		add(line, "line", "unknown_line", "line", rec["line"], "site", known.Site)
		return
	}
	if rec["shift"] != "" && known.Shifts != nil {
		shifts := known.Shifts(rec["line"])
		if !slices.Contains(shifts, rec["shift"]) {
			add(line, "shift", "unknown_shift", "shift", rec["shift"], "line", rec["line"], "shifts", strings.Join(shifts, ", "))
		}
	}
	if rec["leaders"] == "" {
		return
	}
	for _, id := range strings.Split(rec["leaders"], ";") {
		if !known.People[id] {
			add(line, "leaders", "unknown_person", "person", id)
		}
	}
}

// checkStop checks a planned stop's times: both, not equal, or neither
// (no stop on the days the row holds). A time given but bad is named as such.
func checkStop(rec Record, rw row, add func(int, string, string, ...string)) {
	start, end := rec["start"], rec["end"]
	switch {
	case (rw.fields["start"] == "") != (rw.fields["end"] == ""):
		col := "end"
		if rw.fields["start"] == "" {
			col = "start"
		}
		add(rw.line, col, "stop_times")
	case start != "" && start == end:
		add(rw.line, "end", "zero_length", "start", start, "end", end)
	}
}
