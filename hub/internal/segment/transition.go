package segment

import (
	"slices"
	"sort"
)

// Transition counts the entities that moved from one segment in the month
// before to another in the month (From empty: not scored the month before),
// per site (Line empty) and per line.
type Transition struct {
	Kind  string `json:"kind"`
	Site  string `json:"site"`
	Line  string `json:"line,omitempty"`
	From  string `json:"from"`
	To    string `json:"to"`
	Count int    `json:"count"`
}

type entityKey struct{ kind, site, line, id string }

// Transitions counts the moves from prev (the month before) to cur. An
// entity in prev only has left and is not counted.
func Transitions(prev, cur []Assignment) []Transition {
	before := map[entityKey]string{}
	for _, a := range prev {
		before[entityKey{a.Kind, a.Site, a.Line, a.ID}] = a.Segment
	}
	type cell struct{ kind, site, line, from, to string }
	counts := map[cell]int{}
	for _, a := range cur {
		from := before[entityKey{a.Kind, a.Site, a.Line, a.ID}]
		counts[cell{a.Kind, a.Site, "", from, a.Segment}]++
		if a.Line != "" {
			counts[cell{a.Kind, a.Site, a.Line, from, a.Segment}]++
		}
	}
	out := make([]Transition, 0, len(counts))
	for c, n := range counts {
		out = append(out, Transition{Kind: c.kind, Site: c.site, Line: c.line, From: c.from, To: c.to, Count: n})
	}
	order := func(s string) int { return slices.Index(Names, s) } // "" (not scored) first
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		switch {
		case a.Kind != b.Kind:
			return a.Kind < b.Kind
		case a.Site != b.Site:
			return a.Site < b.Site
		case a.Line != b.Line:
			return a.Line < b.Line
		case a.From != b.From:
			return order(a.From) < order(b.From)
		}
		return order(a.To) < order(b.To)
	})
	return out
}

// Count returns how many of as are in each segment, for one kind, site and
// line (empty: the whole site).
func Count(as []Assignment, kind, site, line string) map[string]int {
	out := map[string]int{}
	for _, a := range as {
		if a.Kind == kind && a.Site == site && (line == "" || a.Line == line) {
			out[a.Segment]++
		}
	}
	return out
}

// Sort orders assignments by kind, site, line and id.
func Sort(as []Assignment) {
	sort.Slice(as, func(i, j int) bool {
		a, b := as[i], as[j]
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		if a.Site != b.Site {
			return a.Site < b.Site
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.ID < b.ID
	})
}
