// Package influx writes the hub's results to InfluxDB through
// influxdb-client-go v2: InfluxDB 2.x and Cloud natively, and InfluxDB 1.8+
// through its v2-compatible API (bucket "database/retention-policy", token
// "user:password"). Every point's timestamp is its period start and its tags
// identify it fully, so writing the same figures again replaces the point:
// writes are idempotent.
package influx

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api"
	"github.com/influxdata/influxdb-client-go/v2/api/write"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
)

// Measurement names (stable: documented in the README).
const (
	MeasurementEquipment = "equipment_activity"
	MeasurementLine      = "line_activity"
)

// Writer writes figures to one bucket.
type Writer struct {
	client influxdb2.Client
	write  api.WriteAPIBlocking
	cfg    Config
}

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
	return &Writer{client: c, write: w, cfg: cfg}
}

// Close releases the client.
func (w *Writer) Close() { w.client.Close() }

// Prepare checks that InfluxDB answers and, for 1.8 with CreateDatabase,
// creates the database (idempotent).
func (w *Writer) Prepare(ctx context.Context) error {
	ok, err := w.client.Ping(ctx)
	if err != nil || !ok {
		return fmt.Errorf("influxdb at %s does not answer ping: %v", w.cfg.URL, err)
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

// Write writes equipment and line months in one request.
func (w *Writer) Write(ctx context.Context, ems []activity.EquipmentMonth, lms []activity.LineMonth) error {
	pts := make([]*write.Point, 0, len(ems)+len(lms))
	for _, e := range ems {
		pts = append(pts, EquipmentPoint(e))
	}
	for _, l := range lms {
		pts = append(pts, LinePoint(l))
	}
	if len(pts) == 0 {
		return nil
	}
	if err := w.write.WritePoint(ctx, pts...); err != nil {
		return fmt.Errorf("writing %d points to influxdb: %w", len(pts), err)
	}
	return nil
}

// EquipmentPoint is the equipment_activity point of one equipment month.
func EquipmentPoint(e activity.EquipmentMonth) *write.Point {
	return influxdb2.NewPoint(MeasurementEquipment,
		map[string]string{"site": e.Key.Site, "line": e.Key.Line, "equipment": e.Key.Equipment, "period": "month", "class": e.Class},
		map[string]any{
			"run_seconds":            e.RunSeconds,
			"run_hours":              e.RunHours(),
			"known_seconds":          e.KnownSeconds,
			"calendar_hours":         e.Month.Hours(),
			"coverage":               e.Coverage(),
			"utilization":            e.Utilization(),
			"active":                 e.Active(),
			"active_threshold_hours": e.Threshold.Hours(),
		},
		e.Month.Start)
}

// LinePoint is the line_activity point of one line month.
func LinePoint(l activity.LineMonth) *write.Point {
	return influxdb2.NewPoint(MeasurementLine,
		map[string]string{"site": l.Site, "line": l.Line, "period": "month"},
		map[string]any{
			"registered":  int64(l.Registered),
			"active":      int64(l.Active),
			"active_rate": l.ActiveRate(),
			"run_hours":   l.RunSeconds / 3600,
		},
		l.Month.Start)
}
