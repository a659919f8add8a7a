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
// replaced; and the figure points the result replaces (restate.go), so
// that a restated point keeps no field its period no longer has. A
// failure between the delete and the write leaves the range pending; it
// is deleted and written again.
func (w *Writer) Write(ctx context.Context, res engine.Result) error {
	if len(res.StateRanges) > 0 {
		if err := w.deleteStates(ctx, res.StateRanges); err != nil {
			w.stats.Failures.Add(1)
			return err
		}
	}
	if !res.Cleared {
		if err := w.deleteFigures(ctx, res); err != nil {
			w.stats.Failures.Add(1)
			return err
		}
	}
	// The points are encoded in line protocol as they are sent, 5,000 to
	// a request; no client point (a map of fields each) is built.
	e := &lineEncoder{buf: make([]byte, 0, 1<<20)}
	send := func() error {
		if e.points == 0 {
			return nil
		}
		n := e.points
		if err := w.write.WriteRecord(ctx, string(e.buf)); err != nil {
			w.stats.Failures.Add(1)
			return fmt.Errorf("writing %d points to influxdb: %w", n, err)
		}
		w.stats.Requests.Add(1)
		w.stats.Points.Add(uint64(n))
		e.buf, e.points = e.buf[:0], 0
		return nil
	}
	if err := encode(e, res, func() error {
		if e.points >= writePoints {
			return send()
		}
		return nil
	}); err != nil {
		return err
	}
	return send()
}

// writePoints is about how many points go in one write request.
const writePoints = 5000

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

// encode appends a result's points to e in line protocol, in the order
// Points gives them, so that e holds the same points as Points(res); after
// is called after each point.
func encode(e *lineEncoder, res engine.Result, after func() error) error {
	for _, f := range res.Equipment {
		e.begin(MeasurementEquipment, equipmentTags(f)...)
		equipmentFields(e, f)
		e.end(f.Period.Start)
		if err := after(); err != nil {
			return err
		}
	}
	for _, r := range res.Rollups {
		m, tags := rollupTags(r)
		e.begin(m, tags...)
		rollupFields(e, r)
		e.end(r.Period.Start)
		if err := after(); err != nil {
			return err
		}
	}
	for _, o := range res.Operators {
		e.begin(MeasurementOperator, operatorTags(o)...)
		operatorFields(e, o)
		e.end(o.Period.Start)
		if err := after(); err != nil {
			return err
		}
	}
	for _, st := range res.States {
		e.begin(MeasurementState, stateTags(st)...)
		stateStepFields(e, st)
		e.end(st.Start)
		if err := after(); err != nil {
			return err
		}
	}
	return nil
}

// newPoint builds a client point from sorted tags and the fields fill gives.
func newPoint(m string, tags []tag, fill func(fieldSink), t time.Time) *write.Point {
	tm := make(map[string]string, len(tags))
	for _, tg := range tags {
		if tg.v != "" {
			tm[tg.k] = tg.v
		}
	}
	fields := mapSink{}
	fill(fields)
	return influxdb2.NewPoint(m, tm, fields, t)
}

// shiftTag is the shift tag of a period (empty, so left out, unless the
// period is a shift).
func shiftTag(p activity.Period) string {
	if p.Kind == activity.Shift {
		return p.Shift
	}
	return ""
}

var stateSecondsFields = func() (out [state.NumStates]string) {
	for i := range state.NumStates {
		out[i] = i.String() + "_seconds"
	}
	return out
}()

func stateFields(s fieldSink, secs [state.NumStates]float64) {
	for i, v := range secs {
		s.float(stateSecondsFields[i], v)
	}
}

// equipmentTags are an equipment_activity point's tags, sorted by key.
func equipmentTags(f activity.Figures) []tag {
	return []tag{{"class", f.Class}, {"equipment", f.Key.Equipment}, {"line", f.Key.Line},
		{"period", f.Period.Kind}, {"shift", shiftTag(f.Period)}, {"site", f.Key.Site}}
}

func equipmentFields(s fieldSink, f activity.Figures) {
	s.float("run_seconds", f.RunSeconds())
	s.float("run_hours", f.RunHours())
	s.float("known_seconds", f.KnownSeconds())
	s.float("calendar_hours", f.CalendarSeconds()/3600) // the period less the time out of service
	// Always written: a restated point must not keep an old value.
	s.float("out_of_service_seconds", f.OutOfService)
	s.float("coverage", f.Coverage())
	s.float("utilization", f.Utilization())
	s.int("failures", int64(f.Failures))
	s.bool("registered", f.Registered)
	stateFields(s, f.Seconds)
	if v, ok := f.Availability(); ok {
		s.float("availability", v)
	}
	if f.HasCounter {
		s.float("idle_running_seconds", f.IdleRunSeconds)
	}
	if v, ok := f.MTBF(); ok {
		s.float("mtbf_seconds", v)
	}
	if v, ok := f.MTTR(); ok {
		s.float("mttr_seconds", v)
	}
	activity.EachProductionField(f, s.float)
	if f.Period.Kind == activity.Month {
		s.bool("active", f.Active())
		s.float("active_threshold_hours", f.Threshold.Hours())
	}
}

// EquipmentPoint is the equipment_activity point of one equipment period.
func EquipmentPoint(f activity.Figures) *write.Point {
	return newPoint(MeasurementEquipment, equipmentTags(f), func(s fieldSink) { equipmentFields(s, f) }, f.Period.Start)
}

// rollupTags are a line_activity or site_activity point's measurement and
// tags, sorted by key.
func rollupTags(r activity.Rollup) (string, []tag) {
	if r.Line == "" {
		return MeasurementSite, []tag{{"period", r.Period.Kind}, {"shift", shiftTag(r.Period)}, {"site", r.Site}}
	}
	return MeasurementLine, []tag{{"line", r.Line}, {"period", r.Period.Kind}, {"shift", shiftTag(r.Period)}, {"site", r.Site}}
}

var tierFields = [...][2]string{{"high", "tier_high"}, {"medium", "tier_medium"}, {"low", "tier_low"}, {"inactive", "tier_inactive"}}

func rollupFields(s fieldSink, r activity.Rollup) {
	s.int("registered", int64(r.Registered))
	s.float("run_hours", r.RunSeconds()/3600)
	s.int("failures", int64(r.Failures))
	s.float("idle_running_seconds", r.IdleRunSeconds)
	stateFields(s, r.Seconds)
	if v, ok := r.Availability(); ok {
		s.float("availability", v)
	}
	if v, ok := r.Utilization(); ok {
		s.float("utilization", v)
	}
	if v, ok := r.Coverage(); ok {
		s.float("coverage", v)
	}
	activity.EachRollupProductionField(r, s.float)
	if r.Period.Kind == activity.Month {
		s.int("active", int64(r.Active))
		s.float("active_rate", r.ActiveRate())
		for _, t := range tierFields {
			s.int(t[1], int64(r.Tiers[t[0]]))
		}
	}
}

// RollupPoint is the line_activity (or, for the site, site_activity) point of one period.
func RollupPoint(r activity.Rollup) *write.Point {
	m, tags := rollupTags(r)
	return newPoint(m, tags, func(s fieldSink) { rollupFields(s, r) }, r.Period.Start)
}

func stateTags(st engine.StateStep) []tag {
	return []tag{{"equipment", st.Key.Equipment}, {"line", st.Key.Line}, {"site", st.Key.Site}}
}

func stateStepFields(s fieldSink, st engine.StateStep) {
	s.str("state", st.State.String())
	s.int("code", int64(st.State))
}

// StatePoint is the equipment_state point of one state change. The state is
// a field, not a tag, so an equipment has one series; a point that is no
// longer a change after late data is deleted by Write.
func StatePoint(st engine.StateStep) *write.Point {
	return newPoint(MeasurementState, stateTags(st), func(s fieldSink) { stateStepFields(s, st) }, st.Start)
}

// operatorTags are an operator_activity point's tags, sorted by key: on a
// line (scope=line) or over the site (scope=site, no line tag).
func operatorTags(o activity.OperatorFigures) []tag {
	scope := "site"
	if o.Line != "" {
		scope = "line"
	}
	return []tag{{"line", o.Line}, {"operator", o.Operator}, {"period", o.Period.Kind}, {"scope", scope},
		{"shift", shiftTag(o.Period)}, {"site", o.Site}}
}

func operatorFields(s fieldSink, o activity.OperatorFigures) {
	s.float("run_seconds", o.RunSeconds)
	s.float("run_hours", o.RunSeconds/3600)
	s.float("group_run_hours", o.GroupRunSeconds/3600)
	if v, ok := o.Share(); ok {
		s.float("share", v)
	}
	if o.Line == "" {
		s.bool("active", o.Active())
		s.str("tier", o.Tier)
		s.bool("attrition_risk", o.Attrition)
		s.str("attrition_reason", o.AttritionReason)
	}
}

// OperatorPoint is the operator_activity point of one operator month, on a
// line (scope=line) or over the site (scope=site, no line tag).
func OperatorPoint(o activity.OperatorFigures) *write.Point {
	return newPoint(MeasurementOperator, operatorTags(o), func(s fieldSink) { operatorFields(s, o) }, o.Period.Start)
}
