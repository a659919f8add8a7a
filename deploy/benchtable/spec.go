package main

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Spec is the table's specification (table.yaml): sections of rows, each
// row one metric of one benchmark.
type Spec struct {
	Sections []Section `yaml:"sections"`
}

// Section is a titled group of rows.
type Section struct {
	Title string `yaml:"title"`
	Note  string `yaml:"note"`
	Rows  []Row  `yaml:"rows"`
}

// Row is one figure: the metric Unit of the benchmark Bench (an exact name
// without the -GOMAXPROCS suffix, or a regular expression when it starts
// with ^), from a package whose path ends with Pkg when Pkg is set. Unit
// may name alternatives, "p99-ms|p99_ms": the first the benchmark reports.
type Row struct {
	ID     string   `yaml:"id"`
	Label  string   `yaml:"label"`
	Bench  string   `yaml:"bench"`
	Pkg    string   `yaml:"pkg"`
	Unit   string   `yaml:"unit"`
	Ratio  string   `yaml:"ratio"`  // id of a row: this value over that row's, round by round
	Target string   `yaml:"target"` // "<op> <number>", or "ratio <op> <number>"
	Refs   []string `yaml:"refs"`   // ids of rows shown beside this one as the physical limits
	Note   string   `yaml:"note"`

	re     *regexp.Regexp
	target *Target
}

// Target is a comparison a figure (or its ratio) is held to.
type Target struct {
	OnRatio bool
	Op      string // <, <=, >, >=, ==
	Value   float64
	Text    string // as written
}

// Met reports whether v meets the target.
func (t *Target) Met(v float64) bool {
	switch t.Op {
	case "<":
		return v < t.Value
	case "<=":
		return v <= t.Value
	case ">":
		return v > t.Value
	case ">=":
		return v >= t.Value
	default: // ==
		return v == t.Value
	}
}

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// ParseSpec decodes a table specification strictly (unknown keys are
// errors) and checks every row, returning every problem at once, each
// named by its key.
func ParseSpec(name string, data []byte) (*Spec, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var s Spec
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s: %s", name, key, fmt.Sprintf(format, args...)))
	}
	if len(s.Sections) == 0 {
		bad("sections", "none")
	}
	ids := map[string]bool{}
	for i := range s.Sections {
		for j := range s.Sections[i].Rows {
			r := &s.Sections[i].Rows[j]
			key := fmt.Sprintf("sections[%d].rows[%d]", i, j)
			switch {
			case r.ID == "":
				bad(key+".id", "missing")
			case !idPattern.MatchString(r.ID):
				bad(key+".id", "%q: want lower-case letters, digits and dashes", r.ID)
			case ids[r.ID]:
				bad(key+".id", "%q used twice", r.ID)
			}
			ids[r.ID] = true
		}
	}
	for i := range s.Sections {
		if s.Sections[i].Title == "" {
			bad(fmt.Sprintf("sections[%d].title", i), "missing")
		}
		for j := range s.Sections[i].Rows {
			r := &s.Sections[i].Rows[j]
			key := fmt.Sprintf("sections[%d].rows[%d]", i, j)
			if r.Label == "" {
				bad(key+".label", "missing")
			}
			if r.Unit == "" {
				bad(key+".unit", "missing")
			}
			switch {
			case r.Bench == "":
				bad(key+".bench", "missing")
			case strings.HasPrefix(r.Bench, "^"):
				re, err := regexp.Compile(r.Bench)
				if err != nil {
					bad(key+".bench", "%v", err)
				}
				r.re = re
			case !strings.HasPrefix(r.Bench, "Benchmark"):
				bad(key+".bench", "%q: want a benchmark name, or a regular expression starting with ^", r.Bench)
			}
			if r.Ratio != "" && !ids[r.Ratio] {
				bad(key+".ratio", "no row %q", r.Ratio)
			}
			if r.Ratio == r.ID && r.ID != "" {
				bad(key+".ratio", "a row's ratio to itself")
			}
			for k, ref := range r.Refs {
				if !ids[ref] {
					bad(fmt.Sprintf("%s.refs[%d]", key, k), "no row %q", ref)
				}
			}
			if r.Target != "" {
				t, err := parseTarget(r.Target)
				if err != nil {
					bad(key+".target", "%v", err)
				} else if t.OnRatio && r.Ratio == "" {
					bad(key+".target", "%q is on the ratio, but the row has none", r.Target)
				}
				r.target = t
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &s, nil
}

// parseTarget parses "<op> <number>" or "ratio <op> <number>"; the number
// may be a fraction (1/3).
func parseTarget(s string) (*Target, error) {
	f := strings.Fields(s)
	t := &Target{Text: s}
	if len(f) == 3 && f[0] == "ratio" {
		t.OnRatio, f = true, f[1:]
	}
	if len(f) != 2 {
		return nil, fmt.Errorf("%q: want \"<op> <number>\" or \"ratio <op> <number>\"", s)
	}
	switch f[0] {
	case "<", "<=", ">", ">=", "==":
		t.Op = f[0]
	default:
		return nil, fmt.Errorf("%q: operator %q: want <, <=, >, >= or ==", s, f[0])
	}
	v, err := parseNumber(f[1])
	if err != nil {
		return nil, fmt.Errorf("%q: %w", s, err)
	}
	t.Value = v
	return t, nil
}

func parseNumber(s string) (float64, error) {
	num, den, frac := strings.Cut(s, "/")
	v, err := strconv.ParseFloat(strings.ReplaceAll(num, "_", ""), 64)
	if err != nil {
		return 0, fmt.Errorf("number %q", s)
	}
	if !frac {
		return v, nil
	}
	d, err := strconv.ParseFloat(den, 64)
	if err != nil || d == 0 {
		return 0, fmt.Errorf("number %q", s)
	}
	return v / d, nil
}

// matches reports whether result r is this row's benchmark.
func (r *Row) matches(res Result) bool {
	if r.Pkg != "" && res.Pkg != r.Pkg && !strings.HasSuffix(res.Pkg, "/"+r.Pkg) {
		return false
	}
	if r.re != nil {
		return r.re.MatchString(res.Name)
	}
	return res.Name == r.Bench
}
