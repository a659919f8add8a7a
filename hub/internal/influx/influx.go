// Package influx writes the hub's results to InfluxDB through
// influxdb-client-go v2: InfluxDB 2.x and Cloud natively, and InfluxDB 1.8+
// through its v2-compatible API (bucket "database/retention-policy", token
// "user:password"). Every point's timestamp is its period start and its tags
// identify it fully, so writing the same figures again replaces the point:
// writes are idempotent. equipment_state has a point only where a state
// changes; before writing the changes of a range the writer deletes the
// range's state points (/api/v2/delete, or InfluxQL DELETE on 1.8), so
// points that late data made stale do not stay.
package influx

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api"
	"github.com/influxdata/influxdb-client-go/v2/api/write"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/engine"
	"github.com/floorpulse/floorpulse/hub/internal/state"
	"github.com/floorpulse/floorpulse/pkg/redact"
)

// Measurement names (stable: documented in docs/schema.md).
const (
	MeasurementEquipment = "equipment_activity"
	MeasurementLine      = "line_activity"
	MeasurementSite      = "site_activity"
	MeasurementOperator  = "operator_activity"
	MeasurementState     = "equipment_state"
)

// Writer writes figures to one bucket.
type Writer struct {
	client influxdb2.Client
	write  api.WriteAPIBlocking
	http   *http.Client
	cfg    Config
	stats  Stats
	// v1Delete: /api/v2/delete answered 404 (InfluxDB 1.8): equipment_state
	// points are deleted with InfluxQL.
	v1Delete atomic.Bool
}

// Stats count the writer's requests since the process started.
type Stats struct {
	Requests atomic.Uint64 // write requests that succeeded
	Failures atomic.Uint64 // write requests that failed (their ranges are retried)
	Points   atomic.Uint64 // points written
}

// Stats returns the writer's counters.
func (w *Writer) Stats() *Stats { return &w.stats }

// Config is what the writer needs to know.
type Config struct {
	URL, Token, Org, Bucket string
	CreateDatabase          bool
	Timeout                 time.Duration
}

// New builds a writer; it does not connect.
func New(cfg Config) *Writer {
	opts := influxdb2.DefaultOptions().SetHTTPRequestTimeout(uint(cfg.Timeout / time.Second))
	c := influxdb2.NewClientWithOptions(cfg.URL, cfg.Token, opts)
	w := c.WriteAPIBlocking(cfg.Org, cfg.Bucket)
	return &Writer{client: c, write: w, http: &http.Client{Timeout: cfg.Timeout}, cfg: cfg}
}

// Close releases the client.
func (w *Writer) Close() { w.client.Close() }

// Prepare checks that InfluxDB answers and, for 1.8 with CreateDatabase,
// creates the database (idempotent).
func (w *Writer) Prepare(ctx context.Context) error {
	ok, err := w.client.Ping(ctx)
	if err != nil || !ok {
		return fmt.Errorf("influxdb at %s does not answer ping: %v", redact.URL(w.cfg.URL), redact.Error(err))
	}
	if !w.cfg.CreateDatabase {
		return nil
	}
	db, _, _ := strings.Cut(w.cfg.Bucket, "/")
	form := url.Values{"q": {fmt.Sprintf("CREATE DATABASE %q", db)}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(w.cfg.URL, "/")+"/query", strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if w.cfg.Token != "" {
		req.Header.Set("Authorization", "Token "+w.cfg.Token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("creating database %s: %w", db, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 || strings.Contains(string(body), `"error"`) {
		return fmt.Errorf("creating database %s: %s %s", db, resp.Status, body)
	}
	return nil
}

// Write writes a result's figures, in requests of at most 5,000 points.
// First it deletes the equipment_state points in the result's state ranges
// (see deleteStates), so that the state points of a range are exactly its
// state changes: a restated range keeps no point of the intervals it
// replaced. A failure between the delete and the write leaves the range
// pending; it is deleted and written again.
func (w *Writer) Write(ctx context.Context, res engine.Result) error {
	if len(res.StateRanges) > 0 {
		if err := w.deleteStates(ctx, res.StateRanges); err != nil {
			w.stats.Failures.Add(1)
			return err
		}
	}
	pts := Points(res)
	for len(pts) > 0 {
		n := min(len(pts), 5000)
		if err := w.write.WritePoint(ctx, pts[:n]...); err != nil {
			w.stats.Failures.Add(1)
			return fmt.Errorf("writing %d points to influxdb: %w", n, err)
		}
		w.stats.Requests.Add(1)
		w.stats.Points.Add(uint64(n))
		pts = pts[n:]
	}
	return nil
}

// Points turns a result into InfluxDB points.
func Points(res engine.Result) []*write.Point {
	pts := make([]*write.Point, 0, len(res.Equipment)+len(res.Rollups)+len(res.Operators))
	for _, f := range res.Equipment {
		pts = append(pts, EquipmentPoint(f))
	}
	for _, r := range res.Rollups {
		pts = append(pts, RollupPoint(r))
	}
	for _, o := range res.Operators {
		pts = append(pts, OperatorPoint(o))
	}
	for _, st := range res.States {
		pts = append(pts, StatePoint(st))
	}
	return pts
}

func periodTags(tags map[string]string, p activity.Period) map[string]string {
	tags["period"] = p.Kind
	if p.Kind == activity.Shift {
		tags["shift"] = p.Shift
	}
	return tags
}

func stateFields(fields map[string]any, secs [state.NumStates]float64) {
	for i, v := range secs {
		fields[state.State(i).String()+"_seconds"] = v
	}
}

// EquipmentPoint is the equipment_activity point of one equipment period.
func EquipmentPoint(f activity.Figures) *write.Point {
	fields := map[string]any{
		"run_seconds":    f.RunSeconds(),
		"run_hours":      f.RunHours(),
		"known_seconds":  f.KnownSeconds(),
		"calendar_hours": f.CalendarSeconds() / 3600, // the period less the time out of service
		// Always written: a restated point must not keep an old value.
		"out_of_service_seconds": f.OutOfService,
		"coverage":               f.Coverage(),
		"utilization":            f.Utilization(),
		"failures":               int64(f.Failures),
		"registered":             f.Registered,
	}
	stateFields(fields, f.Seconds)
	if v, ok := f.Availability(); ok {
		fields["availability"] = v
	}
	if f.HasCounter {
		fields["idle_running_seconds"] = f.IdleRunSeconds
	}
	if v, ok := f.MTBF(); ok {
		fields["mtbf_seconds"] = v
	}
	if v, ok := f.MTTR(); ok {
		fields["mttr_seconds"] = v
	}
	for k, v := range activity.ProductionFields(f) {
		fields[k] = v
	}
	if f.Period.Kind == activity.Month {
		fields["active"] = f.Active()
		fields["active_threshold_hours"] = f.Threshold.Hours()
	}
	tags := periodTags(map[string]string{"site": f.Key.Site, "line": f.Key.Line, "equipment": f.Key.Equipment, "class": f.Class}, f.Period)
	return influxdb2.NewPoint(MeasurementEquipment, tags, fields, f.Period.Start)
}

// RollupPoint is the line_activity (or, for the site, site_activity) point of one period.
func RollupPoint(r activity.Rollup) *write.Point {
	fields := map[string]any{
		"registered":           int64(r.Registered),
		"run_hours":            r.RunSeconds() / 3600,
		"failures":             int64(r.Failures),
		"idle_running_seconds": r.IdleRunSeconds,
	}
	stateFields(fields, r.Seconds)
	if v, ok := r.Availability(); ok {
		fields["availability"] = v
	}
	if v, ok := r.Utilization(); ok {
		fields["utilization"] = v
	}
	if v, ok := r.Coverage(); ok {
		fields["coverage"] = v
	}
	for k, v := range activity.RollupProductionFields(r) {
		fields[k] = v
	}
	if r.Period.Kind == activity.Month {
		fields["active"] = int64(r.Active)
		fields["active_rate"] = r.ActiveRate()
		for _, t := range []string{"high", "medium", "low", "inactive"} {
			fields["tier_"+t] = int64(r.Tiers[t])
		}
	}
	tags := map[string]string{"site": r.Site}
	m := MeasurementSite
	if r.Line != "" {
		tags["line"], m = r.Line, MeasurementLine
	}
	return influxdb2.NewPoint(m, periodTags(tags, r.Period), fields, r.Period.Start)
}

// StatePoint is the equipment_state point of one state change. The state is
// a field, not a tag, so an equipment has one series; a point that is no
// longer a change after late data is deleted by Write.
func StatePoint(st engine.StateStep) *write.Point {
	return influxdb2.NewPoint(MeasurementState,
		map[string]string{"site": st.Key.Site, "line": st.Key.Line, "equipment": st.Key.Equipment},
		map[string]any{"state": st.State.String(), "code": int64(st.State)}, st.Start)
}

// OperatorPoint is the operator_activity point of one operator month, on a
// line (scope=line) or over the site (scope=site, no line tag).
func OperatorPoint(o activity.OperatorFigures) *write.Point {
	fields := map[string]any{
		"run_seconds":     o.RunSeconds,
		"run_hours":       o.RunSeconds / 3600,
		"group_run_hours": o.GroupRunSeconds / 3600,
	}
	if v, ok := o.Share(); ok {
		fields["share"] = v
	}
	tags := map[string]string{"site": o.Site, "operator": o.Operator, "scope": "site"}
	if o.Line != "" {
		tags["line"], tags["scope"] = o.Line, "line"
	} else {
		fields["active"] = o.Active()
		fields["tier"] = o.Tier
		fields["attrition_risk"] = o.Attrition
		fields["attrition_reason"] = o.AttritionReason
	}
	return influxdb2.NewPoint(MeasurementOperator, periodTags(tags, o.Period), fields, o.Period.Start)
}
