package main

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Table is the results table: the spec's rows filled from one run.
type Table struct {
	Date     string    `json:"date"`
	Commit   string    `json:"commit"`
	Command  string    `json:"command"`
	Machine  Machine   `json:"machine"`
	Sections []Figures `json:"sections"`
}

// Figures is one section of the table.
type Figures struct {
	Title string   `json:"title"`
	Note  string   `json:"note,omitempty"`
	Rows  []Figure `json:"rows"`
}

// Status says whether a row has a figure, and if not, why.
const (
	StatusOK      = "ok"
	StatusNotRun  = "not run"
	StatusNoValue = "no such metric"
)

// Figure is one row: a metric's value in each round, its median and range,
// its ratio to another row round by round, and the verdict on its target.
type Figure struct {
	ID     string    `json:"id"`
	Label  string    `json:"label"`
	Bench  string    `json:"bench"` // the benchmark's name as it ran (or the spec's pattern when it did not)
	Unit   string    `json:"unit"`
	Status string    `json:"status"` // ok, not run, failed, skipped, no such metric
	Rounds []float64 `json:"rounds,omitempty"`
	Stat   *Stat     `json:"stat,omitempty"`
	Ratio  *Ratio    `json:"ratio,omitempty"`
	Target string    `json:"target,omitempty"`
	Met    *bool     `json:"met,omitempty"` // absent without a target or a figure
	Refs   []string  `json:"refs,omitempty"`
	Note   string    `json:"note,omitempty"`
}

// Stat is the median and range of a figure's rounds.
type Stat struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	N      int     `json:"n"`
}

// Ratio is a figure over another row's, round by round.
type Ratio struct {
	Of     string    `json:"of"`
	Rounds []float64 `json:"rounds"`
	Stat   Stat      `json:"stat"`
}

func stat(xs []float64) *Stat {
	if len(xs) == 0 {
		return nil
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return &Stat{Median: m, Min: s[0], Max: s[len(s)-1], N: len(s)}
}

// Build fills the spec's rows from a run.
func Build(spec *Spec, run *Run) *Table {
	t := &Table{}
	byID := map[string]*Figure{}
	var order []*Figure
	for _, sec := range spec.Sections {
		out := Figures{Title: sec.Title, Note: sec.Note}
		for i := range sec.Rows {
			out.Rows = append(out.Rows, fill(&sec.Rows[i], run))
		}
		t.Sections = append(t.Sections, out)
	}
	for i := range t.Sections {
		for j := range t.Sections[i].Rows {
			f := &t.Sections[i].Rows[j]
			byID[f.ID], order = f, append(order, f)
		}
	}
	// Ratios and verdicts, once every row has its rounds.
	rows := map[string]*Row{}
	for i := range spec.Sections {
		for j := range spec.Sections[i].Rows {
			r := &spec.Sections[i].Rows[j]
			rows[r.ID] = r
		}
	}
	for _, f := range order {
		r := rows[f.ID]
		if r.Ratio != "" && f.Status == StatusOK {
			if of := byID[r.Ratio]; of.Status == StatusOK {
				var rs []float64
				for k := range min(len(f.Rounds), len(of.Rounds)) {
					if of.Rounds[k] != 0 && !math.IsNaN(f.Rounds[k]) && !math.IsNaN(of.Rounds[k]) {
						rs = append(rs, f.Rounds[k]/of.Rounds[k])
					}
				}
				if s := stat(rs); s != nil {
					f.Ratio = &Ratio{Of: r.Ratio, Rounds: rs, Stat: *s}
				}
			}
		}
		if r.target == nil {
			continue
		}
		var v *float64
		switch {
		case r.target.OnRatio && f.Ratio != nil:
			v = &f.Ratio.Stat.Median
		case !r.target.OnRatio && f.Stat != nil:
			v = &f.Stat.Median
		}
		if v != nil {
			met := r.target.Met(*v)
			f.Met = &met
		}
	}
	return t
}

// fill finds a row's results in the run.
func fill(r *Row, run *Run) Figure {
	f := Figure{ID: r.ID, Label: r.Label, Bench: r.Bench, Unit: r.Unit, Target: r.Target, Refs: r.Refs, Note: r.Note}
	name := ""
	for _, res := range run.Results {
		if !r.matches(res) {
			continue
		}
		if name == "" {
			name = res.Name
		}
		if res.Name != name {
			continue // a pattern matching several benchmarks takes the first
		}
		v := math.NaN()
		for u := range strings.SplitSeq(r.Unit, "|") {
			if x, ok := res.Metrics[u]; ok {
				v, f.Unit = x, u
				break
			}
		}
		for len(f.Rounds) < res.Round {
			f.Rounds = append(f.Rounds, math.NaN()) // a round without a result
		}
		f.Rounds = append(f.Rounds, v)
	}
	if name == "" {
		f.Status = StatusNotRun
		for bench, o := range run.Outcomes {
			if r.matches(Result{Pkg: r.Pkg, Name: bench}) {
				f.Status = string(o)
			}
		}
		return f
	}
	f.Bench = name
	var vals []float64
	for _, v := range f.Rounds {
		if !math.IsNaN(v) {
			vals = append(vals, v)
		}
	}
	if len(vals) == 0 {
		f.Status, f.Rounds = StatusNoValue, nil
		return f
	}
	f.Status, f.Stat = StatusOK, stat(vals)
	return f
}

// Num formats a figure: whole numbers (counts) as integers, with thousands
// separators from 1,000 up; others with three significant digits, two
// decimals between 0.1 and 10 (ratios).
func Num(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 1000 || v == math.Trunc(v):
		return group(strconv.FormatFloat(math.Round(v), 'f', 0, 64))
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 0.1 || a == 0:
		return strconv.FormatFloat(v, 'f', 2, 64)
	default:
		return strconv.FormatFloat(v, 'g', 2, 64)
	}
}

func group(digits string) string {
	sign := ""
	if strings.HasPrefix(digits, "-") {
		sign, digits = "-", digits[1:]
	}
	var b strings.Builder
	for i, c := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return sign + b.String()
}

// withRange is "median (min - max)", or the median alone for one round or
// no spread.
func withRange(s Stat) string {
	if s.N < 2 || s.Min == s.Max {
		return Num(s.Median)
	}
	return fmt.Sprintf("%s (%s - %s)", Num(s.Median), Num(s.Min), Num(s.Max))
}

// Markdown renders the table.
func (t *Table) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Measured %s at commit %s with `%s`.\n\n", t.Date, t.Commit, t.Command)
	fmt.Fprintf(&b, "Machine: %s.\n\n", t.Machine)
	b.WriteString("Medians over the rounds of the run, with the range in brackets; a ratio is taken round by round " +
		"(the same round's figures side by side), then its median. MB are 10^6 bytes.\n")
	labels := map[string]*Figure{}
	for i := range t.Sections {
		for j := range t.Sections[i].Rows {
			f := &t.Sections[i].Rows[j]
			labels[f.ID] = f
		}
	}
	for _, sec := range t.Sections {
		fmt.Fprintf(&b, "\n### %s\n\n", sec.Title)
		if sec.Note != "" {
			b.WriteString(strings.TrimSpace(sec.Note) + "\n\n")
		}
		b.WriteString("| what | figure | same round | target | verdict | physical reference |\n|---|---|---|---|---|---|\n")
		for _, f := range sec.Rows {
			fig := f.Status
			if f.Stat != nil {
				fig = withRange(*f.Stat) + " " + f.Unit
			}
			ratio := ""
			if f.Ratio != nil {
				ratio = withRange(f.Ratio.Stat) + " x " + shortLabel(labels[f.Ratio.Of])
			}
			verdict := ""
			if f.Met != nil {
				verdict = "met"
				if !*f.Met {
					verdict = "**missed**"
				}
			}
			var refs []string
			for _, id := range f.Refs {
				refs = append(refs, refText(&f, labels[id]))
			}
			label := f.Label
			if f.Note != "" {
				label += " (" + f.Note + ")"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", cell(label), cell(fig), cell(ratio), cell(f.Target), verdict, cell(strings.Join(refs, "; ")))
		}
	}
	return b.String()
}

// refText says what a reference row measured, and how close f is to it
// when both are in the same unit.
func refText(f *Figure, ref *Figure) string {
	if ref.Stat == nil {
		return shortLabel(ref) + ": " + ref.Status
	}
	s := fmt.Sprintf("%s: %s %s", shortLabel(ref), Num(ref.Stat.Median), ref.Unit)
	if f.Stat != nil && ref.Unit == f.Unit && ref.Stat.Median != 0 {
		s += fmt.Sprintf(" (this is %s of it)", Num(f.Stat.Median/ref.Stat.Median))
	}
	return s
}

// shortLabel is a label up to its first comma or bracket.
func shortLabel(f *Figure) string {
	if f == nil {
		return "?"
	}
	if i := strings.IndexAny(f.Label, ",("); i > 0 {
		return strings.TrimSpace(f.Label[:i])
	}
	return f.Label
}

// cell escapes a table cell.
func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
