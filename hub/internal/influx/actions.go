package influx

import (
	"context"
	"fmt"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api/write"

	"github.com/floorpulse/floorpulse/hub/internal/action"
)

// MeasurementAction holds the tracked actions (docs/schema.md).
const MeasurementAction = "action"

func actionTags(a action.JSON) map[string]string {
	s := a.Subject
	tags := map[string]string{"site": s.Site, "action": a.ID, "subject": s.Kind}
	for k, v := range map[string]string{"line": s.Line, "equipment": s.Equipment, "operator": s.Operator} {
		if v != "" {
			tags[k] = v
		}
	}
	return tags
}

// ActionPoint is an action's point: tags that never change (site, line,
// equipment or operator, action id, subject kind) at the time it was
// opened.
func ActionPoint(a action.JSON) *write.Point {
	s := a.Subject
	tags := actionTags(a)
	fields := map[string]any{"what": a.What, "owner": a.Owner, "due": a.Due, "status": a.Status, "created_by": a.CreatedBy}
	if s.Event != "" {
		fields["event"] = s.Event
	}
	if s.Month != "" {
		fields["segment_month"], fields["segment"] = s.Month, s.Segment
	}
	if a.DoneAt != nil {
		fields["done_at"] = a.DoneAt.Unix()
	}
	if e := a.Effect; e != nil {
		fields["effect_days"] = int64(e.WindowDays)
		fields["effect_complete"] = e.Complete
		for prefix, w := range map[string]action.Window{"before": e.Before, "after": e.After} {
			fields[prefix+"_days"] = int64(w.Days)
			fields[prefix+"_run_hours_per_day"] = w.RunHoursPerDay
			fields[prefix+"_downtime_hours_per_day"] = w.DownHoursPerDay
			fields[prefix+"_failures"] = int64(w.Failures)
			fields[prefix+"_events"] = int64(w.Events)
			if w.Availability != nil {
				fields[prefix+"_availability"] = *w.Availability
			}
		}
	}
	return influxdb2.NewPoint(MeasurementAction, tags, fields, a.CreatedAt)
}

// WriteActions replaces actions' points: each action's point is deleted
// first, since InfluxDB merges the fields of a point written again, and an
// action taken out of done, or whose effect is gone, must lose those fields.
func (w *Writer) WriteActions(ctx context.Context, as []action.JSON) error {
	if len(as) == 0 {
		return nil
	}
	old := make([]pointAt, 0, len(as))
	for _, a := range as {
		old = append(old, pointAt{MeasurementAction, map[string]string{"site": a.Subject.Site, "action": a.ID}, a.CreatedAt})
	}
	if err := w.deletePoints(ctx, old); err != nil {
		w.stats.Failures.Add(1)
		return err
	}
	pts := make([]*write.Point, 0, len(as))
	for _, a := range as {
		pts = append(pts, ActionPoint(a))
	}
	if err := w.write.WritePoint(ctx, pts...); err != nil {
		w.stats.Failures.Add(1)
		return fmt.Errorf("writing %d action points to influxdb: %w", len(pts), err)
	}
	w.stats.Requests.Add(1)
	w.stats.Points.Add(uint64(len(pts)))
	return nil
}
