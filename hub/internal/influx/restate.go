package influx

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/engine"
)

// Restated figures. A point write replaces only the fields it names, so a
// figure that a period no longer has (oee once an ideal cycle time is
// removed, the energy fields once a machine's power is gone, availability
// without busy time, an operator's share) would keep its old value. Before
// a result's figure points are written, Write deletes the points they
// replace: for each series (an equipment, a line, the site, a site's
// operators) and period kind, every point from the first period start
// written to the last. A result holds every period of a kind between its
// first and last for each series it writes (a pending range's periods, a
// recompute's), so nothing is deleted that is not written again; a failure
// between the delete and the write leaves the range pending (or the
// recompute failed), and it is deleted and written again.

// figureRange is the range of period starts [From, To] of the points of
// one series of a figure measurement and period kind.
type figureRange struct {
	m, kind  string
	tags     []tag // identifying tags, sorted by key (period and shift aside)
	from, to time.Time
}

// figureRanges returns the ranges of res's figure points, in a stable order.
func figureRanges(res engine.Result) []figureRange {
	type key struct{ m, kind, tags string }
	at := map[key]int{}
	var out []figureRange
	add := func(m, kind string, tags []tag, start time.Time) {
		var b strings.Builder
		for _, t := range tags {
			b.WriteString(t.k + "\x00" + t.v + "\x00")
		}
		k := key{m, kind, b.String()}
		if i, ok := at[k]; ok {
			r := &out[i]
			if start.Before(r.from) {
				r.from = start
			}
			if start.After(r.to) {
				r.to = start
			}
			return
		}
		at[k] = len(out)
		out = append(out, figureRange{m: m, kind: kind, tags: tags, from: start, to: start})
	}
	for _, f := range res.Equipment {
		add(MeasurementEquipment, f.Period.Kind, []tag{{"equipment", f.Key.Equipment}, {"line", f.Key.Line}, {"site", f.Key.Site}}, f.Period.Start)
	}
	for _, r := range res.Rollups {
		if r.Line == "" {
			add(MeasurementSite, r.Period.Kind, []tag{{"site", r.Site}}, r.Period.Start)
		} else {
			add(MeasurementLine, r.Period.Kind, []tag{{"line", r.Line}, {"site", r.Site}}, r.Period.Start)
		}
	}
	for _, o := range res.Operators {
		// Every operator of the site is written for its months: an
		// operator no longer logged in that month goes too.
		add(MeasurementOperator, o.Period.Kind, []tag{{"site", o.Site}}, o.Period.Start)
	}
	return out
}

// deleteFigureKeys is how many series one figure DELETE statement names at
// most. InfluxDB 1.8 takes about as long for a statement whatever it
// names (a fifth of a CPU second with a month of a plant in it), so a
// flush or a recompute of a whole plant costs a few statements.
const deleteFigureKeys = 2000

// figureStatements groups ranges of one measurement, kind and range into
// InfluxQL DELETE statements naming at most deleteFigureKeys series each.
func figureStatements(rs []figureRange) []string {
	type group struct {
		r    figureRange
		tags [][]tag
	}
	type key struct {
		m, kind  string
		from, to int64
	}
	var groups []*group
	at := map[key]*group{}
	for _, r := range rs {
		k := key{r.m, r.kind, r.from.UnixNano(), r.to.UnixNano()}
		g := at[k]
		if g == nil {
			g = &group{r: r}
			at[k] = g
			groups = append(groups, g)
		}
		g.tags = append(g.tags, r.tags)
	}
	var stmts []string
	for _, g := range groups {
		for tags := g.tags; len(tags) > 0; {
			n := min(len(tags), deleteFigureKeys)
			stmts = append(stmts, figureStatement(g.r, tags[:n]))
			tags = tags[n:]
		}
	}
	return stmts
}

// figureStatement deletes the points of r's measurement and kind of the
// series named by tags with period starts in [r.from, r.to].
func figureStatement(r figureRange, tags [][]tag) string {
	var b strings.Builder
	fmt.Fprintf(&b, `DELETE FROM %q WHERE (`, r.m)
	for i, ts := range tags {
		if i > 0 {
			b.WriteString(" OR ")
		}
		b.WriteByte('(')
		for j, t := range ts {
			if j > 0 {
				b.WriteString(" AND ")
			}
			fmt.Fprintf(&b, `%q = %s`, t.k, influxQLString(t.v))
		}
		b.WriteByte(')')
	}
	fmt.Fprintf(&b, `) AND "period" = %s AND time >= %d AND time <= %d`, influxQLString(r.kind), r.from.UnixNano(), r.to.UnixNano())
	return b.String()
}

// DeleteFigures removes the figure points res replaces (see above); a
// recompute calls it once for its whole range, then writes results marked
// Cleared.
func (w *Writer) DeleteFigures(ctx context.Context, res engine.Result) error {
	if err := w.deleteFigures(ctx, res); err != nil {
		w.stats.Failures.Add(1)
		return err
	}
	return nil
}

// deleteFigures removes the figure points res replaces (see above): with
// InfluxQL on 1.8, grouped; through /api/v2/delete one series and kind at
// a time.
func (w *Writer) deleteFigures(ctx context.Context, res engine.Result) error {
	return deleteEach(ctx, w, figureRanges(res), func(ctx context.Context, r figureRange) error {
		pred := []string{"_measurement=" + predicateString(r.m), "period=" + predicateString(r.kind)}
		for _, t := range r.tags {
			pred = append(pred, t.k+"="+predicateString(t.v))
		}
		return w.deleteV2(ctx, r.from, r.to, strings.Join(pred, " AND "), r.m+" points")
	}, figureStatements, "figure points")
}
