package masterdata

import (
	"fmt"
	"maps"
	"strings"
)

// Problem is one bad field or row of an import: its line (the CSV line,
// the header being 1; or the JSON record's number, from 1), its column
// (empty for the whole row) and what is wrong: Code names the kind of
// problem and Args its values, so that a page can say it in its reader's
// language; Message says it in English.
type Problem struct {
	Line    int               `json:"line"`
	Column  string            `json:"column,omitempty"`
	Code    string            `json:"code"`
	Args    map[string]string `json:"args,omitempty"`
	Message string            `json:"message"`
}

func (p Problem) Error() string {
	if p.Column == "" {
		return fmt.Sprintf("line %d: %s", p.Line, p.Message)
	}
	return fmt.Sprintf("line %d, column %s: %s", p.Line, p.Column, p.Message)
}

// Problems are all the problems of an import; an import with any applies nothing.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// messages are the English texts of the problem codes; {name} stands for
// the argument name. The pages' catalogues hold each as
// "masterdata.problem.<code>", in every language, with the same arguments.
var messages = map[string]string{
	"empty_file":              "empty file: want a header row",
	"csv":                     "{error}",
	"unknown_column":          "unknown column (want {columns})",
	"column_twice":            "column given twice",
	"required_column_missing": "required column missing",
	"too_many_rows":           "more than {max} rows",
	"field_count":             "{fields} fields, the header has {columns}",
	"not_json":                "not a JSON array of objects: {error}",
	"unknown_field":           "unknown field (want {columns})",
	"want_string_or_number":   "want a string or a number",
	"required_field_missing":  "required field missing",
	"required_empty":          "required, empty",
	"bad_name":                `"{value}" is not a valid name (no spaces, dots, '*' or '>')`,
	"too_long":                "longer than {max} characters",
	"bad_date":                `bad date "{value}" (want YYYY-MM-DD or YYYY-MM-DDTHH:MM, plant time)`,
	"bad_day":                 `bad date "{value}" (want YYYY-MM-DD)`,
	"bad_person":              `"{value}" is not a valid person id`,
	"bad_time":                `bad time "{value}" (want HH:MM)`,
	"bad_weekday":             `unknown week day "{value}" (want mon..sun or a range like mon-fri)`,
	"bad_number":              `bad number "{value}" (want a number >= 0)`,
	"bad_flag":                `bad value "{value}" (want yes or no)`,
	"not_after":               "{value} is not after {from_column} {from}",
	"zero_length":             "a stop of zero length (start {start} and end {end} are equal)",
	"stop_times":              "start and end go together: both, or neither for no stop on the days the row holds",
	"unknown_site":            `unknown site "{site}"`,
	"unknown_line":            `unknown line "{line}" of site {site}`,
	"unknown_shift":           `no shift "{shift}" in the calendar of line {line} (shifts: {shifts})`,
	"unknown_person":          `"{person}" is not in events.alerts.people`,
	"duplicate":               "duplicate id {key} (also on line {first})",
	"shift_overlap":           "shift {name} of line {line} already holds then (line {first})",
	"stop_overlap":            "planned stop {name} of line {line} already holds then (line {first})",
	"closure_overlap":         "closure {name} of line {line} overlaps the one on line {first}",
}

// Messages returns the English text of every problem code ({name} stands
// for an argument).
func Messages() map[string]string { return maps.Clone(messages) }

// problem is a problem of a code, its arguments given as name, value pairs.
func problem(line int, col, code string, kv ...string) Problem {
	p := Problem{Line: line, Column: col, Code: code}
	if len(kv) > 0 {
		p.Args = make(map[string]string, len(kv)/2)
		for i := 0; i+1 < len(kv); i += 2 {
			p.Args[kv[i]] = kv[i+1]
		}
	}
	p.Message = expand(messages[code], p.Args)
	return p
}

// expand puts the arguments into a message.
func expand(msg string, args map[string]string) string {
	pairs := make([]string, 0, 2*len(args))
	for k, v := range args {
		pairs = append(pairs, "{"+k+"}", v)
	}
	return strings.NewReplacer(pairs...).Replace(msg)
}

// fieldError is a bad field's problem, before its line and column are known.
type fieldError struct {
	code string
	kv   []string
}

func (e *fieldError) Error() string { return problem(0, "", e.code, e.kv...).Message }

func badField(code string, kv ...string) *fieldError { return &fieldError{code: code, kv: kv} }
