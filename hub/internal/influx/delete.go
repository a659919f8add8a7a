package influx

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/engine"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// deleteStatements is how many InfluxQL DELETE statements go in one request;
// deleteKeys is how many equipment one statement names at most.
const (
	deleteStatements = 50
	deleteKeys       = 100
)

// errNoDeleteAPI is the answer of a server without /api/v2/delete (1.8).
var errNoDeleteAPI = errors.New("no /api/v2/delete")

// deleteStates removes every equipment_state point (all states) of each
// range's equipment in the range, ends included: the points of the
// intervals a restated range replaced. It asks /api/v2/delete (InfluxDB 2.x
// and Cloud) and, once that answers 404 (InfluxDB 1.8 has no such
// endpoint), sends InfluxQL DELETE statements to /query for the rest of the
// writer's life: one statement for the equipment whose ranges start
// together and end together, or past the end of what is known (Open), so
// that a flush of many machines costs a few statements rather than one per
// machine (each statement costs InfluxDB 1.8 about as much whatever it
// names).
func (w *Writer) deleteStates(ctx context.Context, rs []engine.StateRange) error {
	return deleteEach(ctx, w, mergeRanges(rs), func(ctx context.Context, r engine.StateRange) error {
		return w.deleteV2(ctx, r.From, r.To, V2Predicate(r.Key), "equipment_state points of "+r.Key.String())
	}, deleteGroups, "equipment_state points")
}

// deleteEach deletes rs through /api/v2/delete one at a time (v2) until the
// server says it has no such endpoint (InfluxDB 1.8; remembered for the
// writer's life), then the rest with the InfluxQL statements stmts makes of
// them, deleteStatements to a /query request. what names the points in
// errors.
func deleteEach[R any](ctx context.Context, w *Writer, rs []R, v2 func(context.Context, R) error, stmts func([]R) []string, what string) error {
	for len(rs) > 0 && !w.v1Delete.Load() {
		err := v2(ctx, rs[0])
		if errors.Is(err, errNoDeleteAPI) {
			w.v1Delete.Store(true)
			break
		}
		if err != nil {
			return err
		}
		rs = rs[1:]
	}
	ss := stmts(rs)
	for len(ss) > 0 {
		n := min(len(ss), deleteStatements)
		if err := w.deleteV1(ctx, ss[:n], what); err != nil {
			return err
		}
		ss = ss[n:]
	}
	return nil
}

// deleteGroups turns ranges (mergeRanges' result) into InfluxQL statements:
// ranges of the same start form a group when they end at the same instant,
// or when each is Open, when the group ends at the latest of their ends.
func deleteGroups(rs []engine.StateRange) []string {
	type group struct {
		from, to time.Time
		keys     []signal.Key
	}
	var groups []*group
	open := map[int64]*group{}
	closed := map[[2]int64]*group{}
	for _, r := range rs {
		var g *group
		if r.Open {
			g = open[r.From.UnixNano()]
			if g == nil {
				g = &group{from: r.From, to: r.To}
				open[r.From.UnixNano()] = g
				groups = append(groups, g)
			}
			if r.To.After(g.to) {
				g.to = r.To
			}
		} else {
			at := [2]int64{r.From.UnixNano(), r.To.UnixNano()}
			g = closed[at]
			if g == nil {
				g = &group{from: r.From, to: r.To}
				closed[at] = g
				groups = append(groups, g)
			}
		}
		g.keys = append(g.keys, r.Key)
	}
	var stmts []string
	for _, g := range groups {
		for keys := g.keys; len(keys) > 0; {
			n := min(len(keys), deleteKeys)
			stmts = append(stmts, deleteStatement(keys[:n], g.from, g.to))
			keys = keys[n:]
		}
	}
	return stmts
}

// mergeRanges sorts rs by equipment and start and merges the ranges of an
// equipment that overlap or touch (the day chunks of one pending range).
func mergeRanges(rs []engine.StateRange) []engine.StateRange {
	rs = slices.Clone(rs)
	slices.SortFunc(rs, func(a, b engine.StateRange) int {
		if c := strings.Compare(a.Key.String(), b.Key.String()); c != 0 {
			return c
		}
		return a.From.Compare(b.From)
	})
	var out []engine.StateRange
	for _, r := range rs {
		if n := len(out); n > 0 && out[n-1].Key == r.Key && !r.From.After(out[n-1].To.Add(time.Nanosecond)) {
			if r.To.After(out[n-1].To) {
				out[n-1].To, out[n-1].Open = r.To, r.Open
			} else if r.To.Equal(out[n-1].To) {
				out[n-1].Open = out[n-1].Open || r.Open
			}
			continue
		}
		out = append(out, r)
	}
	return out
}

// deleteV2 deletes the points of predicate in [from, to] through
// /api/v2/delete; errNoDeleteAPI when the server has no such endpoint.
// what names the points in errors.
func (w *Writer) deleteV2(ctx context.Context, from, to time.Time, predicate, what string) error {
	body, err := json.Marshal(map[string]string{
		"start":     from.UTC().Format(time.RFC3339Nano),
		"stop":      to.UTC().Format(time.RFC3339Nano),
		"predicate": predicate,
	})
	if err != nil {
		return err
	}
	q := url.Values{"org": {w.cfg.Org}, "bucket": {w.cfg.Bucket}}
	status, msg, err := w.post(ctx, "/api/v2/delete?"+q.Encode(), "application/json", body)
	switch {
	case err != nil:
		return fmt.Errorf("deleting %s: %w", what, err)
	case status == http.StatusNotFound:
		return errNoDeleteAPI
	case status/100 != 2:
		return fmt.Errorf("deleting %s: %d %s", what, status, msg)
	}
	return nil
}

// deleteV1 sends InfluxQL DELETE statements in one /query request; what
// names the points in errors.
func (w *Writer) deleteV1(ctx context.Context, stmts []string, what string) error {
	db, _, _ := strings.Cut(w.cfg.Bucket, "/")
	form := url.Values{"db": {db}, "q": {strings.Join(stmts, "; ")}}
	status, msg, err := w.post(ctx, "/query", "application/x-www-form-urlencoded", []byte(form.Encode()))
	if err == nil && (status/100 != 2 || strings.Contains(msg, `"error"`)) {
		err = fmt.Errorf("%d %s", status, msg)
	}
	if err != nil {
		return fmt.Errorf("deleting %s (%d statements): %w", what, len(stmts), err)
	}
	return nil
}

// post sends body to path and returns the status and the start of the answer.
func (w *Writer) post(ctx context.Context, path, contentType string, body []byte) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(w.cfg.URL, "/")+path, bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", contentType)
	if w.cfg.Token != "" {
		req.Header.Set("Authorization", "Token "+w.cfg.Token)
	}
	resp, err := w.http.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, string(msg), nil
}

// DeleteStatement is the InfluxQL statement (InfluxDB 1.8) that deletes the
// equipment_state points of r's equipment in r, ends included.
func DeleteStatement(r engine.StateRange) string {
	return deleteStatement([]signal.Key{r.Key}, r.From, r.To)
}

// deleteStatement deletes the equipment_state points of keys in [from, to].
func deleteStatement(keys []signal.Key, from, to time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, `DELETE FROM %q WHERE `, MeasurementState)
	if len(keys) > 1 {
		b.WriteByte('(')
	}
	for i, k := range keys {
		if i > 0 {
			b.WriteString(" OR ")
		}
		if len(keys) > 1 {
			b.WriteByte('(')
		}
		fmt.Fprintf(&b, `"site" = %s AND "line" = %s AND "equipment" = %s`,
			influxQLString(k.Site), influxQLString(k.Line), influxQLString(k.Equipment))
		if len(keys) > 1 {
			b.WriteByte(')')
		}
	}
	if len(keys) > 1 {
		b.WriteByte(')')
	}
	fmt.Fprintf(&b, ` AND time >= %d AND time <= %d`, from.UnixNano(), to.UnixNano())
	return b.String()
}

// V2Predicate is the /api/v2/delete predicate of k's equipment_state points.
func V2Predicate(k signal.Key) string {
	return fmt.Sprintf(`_measurement=%s AND site=%s AND line=%s AND equipment=%s`,
		predicateString(MeasurementState), predicateString(k.Site), predicateString(k.Line), predicateString(k.Equipment))
}

// influxQLEscape and predicateEscape escape string literals.
var (
	influxQLEscape  = strings.NewReplacer(`\`, `\\`, `'`, `\'`)
	predicateEscape = strings.NewReplacer(`\`, `\\`, `"`, `\"`)
)

// influxQLString quotes s as an InfluxQL string literal.
func influxQLString(s string) string {
	return "'" + influxQLEscape.Replace(s) + "'"
}

// predicateString quotes s as a delete predicate value.
func predicateString(s string) string {
	return `"` + predicateEscape.Replace(s) + `"`
}
