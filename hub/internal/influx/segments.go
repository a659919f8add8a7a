package influx

import (
	"context"
	"fmt"
	"strings"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api/write"

	"github.com/floorpulse/floorpulse/hub/internal/segment"
)

// Segment measurements (docs/schema.md).
const (
	MeasurementEquipmentSegment = "equipment_segment"
	MeasurementOperatorSegment  = "operator_segment"
)

// SegmentPoint is the point of one assignment: tags site, line (machines),
// equipment or operator, and segment; at the month's start.
func SegmentPoint(a segment.Assignment, monthStart time.Time) *write.Point {
	m, tags := segmentSeries(a)
	tags["segment"] = a.Segment
	fields := map[string]any{
		"recency": int64(a.Scores.Recency), "frequency": int64(a.Scores.Frequency), "volume": int64(a.Scores.Volume),
		"run_hours": a.RunHours, "active_days": int64(a.ActiveDays), "days_since_active": int64(a.DaysSinceActive),
		"reason": a.Reason.Code, "reason_en": a.Reason.Text("en"), "reason_zh": a.Reason.Text("zh-CN"),
	}
	if a.Parts != nil {
		fields["parts"] = *a.Parts
	}
	return influxdb2.NewPoint(m, tags, fields, monthStart)
}

func segmentSeries(a segment.Assignment) (string, map[string]string) {
	if a.Kind == segment.Operator {
		return MeasurementOperatorSegment, map[string]string{"site": a.Site, "operator": a.ID}
	}
	return MeasurementEquipmentSegment, map[string]string{"site": a.Site, "line": a.Line, "equipment": a.ID}
}

// WriteSegments replaces the segment points of a month: for each
// assignment, the entity's points at the month's start (whatever their
// segment) are deleted, then the new ones written. The segment is a tag, so
// without the delete a machine that changed segment would keep its old point.
func (w *Writer) WriteSegments(ctx context.Context, monthStart time.Time, as []segment.Assignment) error {
	if len(as) == 0 {
		return nil
	}
	if err := w.deleteSegments(ctx, monthStart, as); err != nil {
		w.stats.Failures.Add(1)
		return err
	}
	pts := make([]*write.Point, 0, len(as))
	for _, a := range as {
		pts = append(pts, SegmentPoint(a, monthStart))
	}
	if err := w.write.WritePoint(ctx, pts...); err != nil {
		w.stats.Failures.Add(1)
		return fmt.Errorf("writing %d segment points to influxdb: %w", len(pts), err)
	}
	w.stats.Requests.Add(1)
	w.stats.Points.Add(uint64(len(pts)))
	return nil
}

func (w *Writer) deleteSegments(ctx context.Context, at time.Time, as []segment.Assignment) error {
	pts := make([]pointAt, 0, len(as))
	for _, a := range as {
		m, tags := segmentSeries(a)
		pts = append(pts, pointAt{m, tags, at})
	}
	return w.deletePoints(ctx, pts)
}

// pointAt names the points of one series (a measurement and tags; a tag
// left out matches any value) at one instant.
type pointAt struct {
	measurement string
	tags        map[string]string
	at          time.Time
}

// tagOrder is the order tags are written in delete predicates.
var tagOrder = []string{"site", "line", "equipment", "operator", "action", "subject"}

// deletePoints deletes the points, through /api/v2/delete one by one, or,
// on InfluxDB 1.8, with InfluxQL DELETE statements in batches.
func (w *Writer) deletePoints(ctx context.Context, pts []pointAt) error {
	return deleteEach(ctx, w, pts, func(ctx context.Context, p pointAt) error {
		preds := []string{"_measurement=" + predicateString(p.measurement)}
		for _, k := range tagOrder {
			if v, ok := p.tags[k]; ok {
				preds = append(preds, k+"="+predicateString(v))
			}
		}
		return w.deleteV2(ctx, p.at, p.at, strings.Join(preds, " AND "), p.measurement+" points")
	}, func(pts []pointAt) []string {
		stmts := make([]string, len(pts))
		for i, p := range pts {
			stmts[i] = p.deleteStatement()
		}
		return stmts
	}, "points")
}

// deleteStatement is the InfluxQL statement (InfluxDB 1.8) that deletes p.
func (p pointAt) deleteStatement() string {
	where := []string{}
	for _, k := range tagOrder {
		if v, ok := p.tags[k]; ok {
			where = append(where, fmt.Sprintf("%q = %s", k, influxQLString(v)))
		}
	}
	return fmt.Sprintf(`DELETE FROM %q WHERE %s AND time = %d`, p.measurement, strings.Join(where, " AND "), p.at.UnixNano())
}

// SegmentDeleteStatement is the InfluxQL statement (InfluxDB 1.8) that
// deletes an entity's segment points at t.
func SegmentDeleteStatement(a segment.Assignment, t time.Time) string {
	m, tags := segmentSeries(a)
	return pointAt{m, tags, t}.deleteStatement()
}
