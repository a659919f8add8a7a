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

// deleteStatements is how many InfluxQL DELETE statements go in one request.
const deleteStatements = 50

// errNoDeleteAPI is the answer of a server without /api/v2/delete (1.8).
var errNoDeleteAPI = errors.New("no /api/v2/delete")

// deleteStates removes every equipment_state point (all states) of each
// range's equipment in the range, ends included: the points of the
// intervals a restated range replaced. It asks /api/v2/delete (InfluxDB 2.x
// and Cloud) and, once that answers 404 (InfluxDB 1.8 has no such
// endpoint), sends InfluxQL DELETE statements to /query for the rest of the
// writer's life.
func (w *Writer) deleteStates(ctx context.Context, rs []engine.StateRange) error {
	rs = mergeRanges(rs)
	for len(rs) > 0 && !w.v1Delete.Load() {
		err := w.deleteV2(ctx, rs[0])
		if errors.Is(err, errNoDeleteAPI) {
			w.v1Delete.Store(true)
			break
		}
		if err != nil {
			return err
		}
		rs = rs[1:]
	}
	for len(rs) > 0 {
		n := min(len(rs), deleteStatements)
		if err := w.deleteV1(ctx, rs[:n]); err != nil {
			return err
		}
		rs = rs[n:]
	}
	return nil
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
				out[n-1].To = r.To
			}
			continue
		}
		out = append(out, r)
	}
	return out
}

// deleteV2 deletes one range through /api/v2/delete.
func (w *Writer) deleteV2(ctx context.Context, r engine.StateRange) error {
	body, err := json.Marshal(map[string]string{
		"start":     r.From.UTC().Format(time.RFC3339Nano),
		"stop":      r.To.UTC().Format(time.RFC3339Nano),
		"predicate": V2Predicate(r.Key),
	})
	if err != nil {
		return err
	}
	q := url.Values{"org": {w.cfg.Org}, "bucket": {w.cfg.Bucket}}
	status, msg, err := w.post(ctx, "/api/v2/delete?"+q.Encode(), "application/json", body)
	switch {
	case err != nil:
		return fmt.Errorf("deleting equipment_state points of %s: %w", r.Key, err)
	case status == http.StatusNotFound:
		return errNoDeleteAPI
	case status/100 != 2:
		return fmt.Errorf("deleting equipment_state points of %s: %d %s", r.Key, status, msg)
	}
	return nil
}

// deleteV1 deletes ranges with InfluxQL statements in one /query request.
func (w *Writer) deleteV1(ctx context.Context, rs []engine.StateRange) error {
	stmts := make([]string, len(rs))
	for i, r := range rs {
		stmts[i] = DeleteStatement(r)
	}
	db, _, _ := strings.Cut(w.cfg.Bucket, "/")
	form := url.Values{"db": {db}, "q": {strings.Join(stmts, "; ")}}
	status, msg, err := w.post(ctx, "/query", "application/x-www-form-urlencoded", []byte(form.Encode()))
	if err == nil && (status/100 != 2 || strings.Contains(msg, `"error"`)) {
		err = fmt.Errorf("%d %s", status, msg)
	}
	if err != nil {
		return fmt.Errorf("deleting equipment_state points of %d ranges: %w", len(rs), err)
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
	return fmt.Sprintf(`DELETE FROM %q WHERE "site" = %s AND "line" = %s AND "equipment" = %s AND time >= %d AND time <= %d`,
		MeasurementState, influxQLString(r.Key.Site), influxQLString(r.Key.Line), influxQLString(r.Key.Equipment),
		r.From.UnixNano(), r.To.UnixNano())
}

// V2Predicate is the /api/v2/delete predicate of k's equipment_state points.
func V2Predicate(k signal.Key) string {
	return fmt.Sprintf(`_measurement=%s AND site=%s AND line=%s AND equipment=%s`,
		predicateString(MeasurementState), predicateString(k.Site), predicateString(k.Line), predicateString(k.Equipment))
}

// influxQLString quotes s as an InfluxQL string literal.
func influxQLString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// predicateString quotes s as a delete predicate value.
func predicateString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
