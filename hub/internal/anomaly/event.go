// Package anomaly finds anomaly events in equipment timelines and gauge
// values. Detectors are pure: they take timelines, calendars, a time range
// and the current time, and return events; the same inputs always give the
// same events with the same ids, so re-running a detector over a range (after
// a restart, a redelivery or late data) finds the events it found before and
// never invents a second copy.
package anomaly

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/floorpulse/floorpulse/pkg/signal"
)

// Event types (DESIGN.md).
const (
	UnplannedDowntime  = "unplanned_downtime"
	IdleRunning        = "idle_running"
	ActivityDrop       = "activity_drop"
	OutOfShiftActivity = "out_of_shift_activity"
	SignalLoss         = "signal_loss"
	Flatline           = "flatline"
	GaugeAnomaly       = "gauge_anomaly"
	MicroStopBurst     = "micro_stop_burst"
	FailureRisk        = "failure_risk"
)

// Types lists every event type.
var Types = []string{UnplannedDowntime, IdleRunning, ActivityDrop, OutOfShiftActivity, SignalLoss, Flatline, GaugeAnomaly, MicroStopBurst, FailureRisk}

// Severities.
const (
	Info     = "info"
	Warning  = "warning"
	Critical = "critical"
)

// Lifecycle statuses.
const (
	Opened       = "opened"
	Acknowledged = "acknowledged"
	Resolved     = "resolved"
)

// Event is one anomaly. ID is stable: it depends only on the type, the
// equipment, the signal (for gauge events) and the start.
type Event struct {
	ID        string     `json:"id"`
	Type      string     `json:"type"`
	Severity  string     `json:"severity"`
	Site      string     `json:"site"`
	Line      string     `json:"line"`
	Equipment string     `json:"equipment"`
	Signal    string     `json:"signal,omitempty"` // the gauge, for gauge events
	Start     time.Time  `json:"start"`
	End       *time.Time `json:"end,omitempty"` // nil while the condition lasts
	// Detected is when the condition met its threshold (event time).
	Detected time.Time `json:"detected"`
	// Shift is the shift instance the event started in, if any.
	Shift      string    `json:"shift,omitempty"`
	ShiftStart time.Time `json:"shift_start,omitzero"`
	// Evidence holds the numbers that triggered the event.
	Evidence map[string]float64 `json:"evidence"`
	Reason   string             `json:"reason"`
}

// Key is the event's equipment.
func (e Event) Key() signal.Key {
	return signal.Key{Site: e.Site, Line: e.Line, Equipment: e.Equipment}
}

// Open reports whether the condition still lasts.
func (e Event) Open() bool { return e.End == nil }

// EventID is the stable id of an event.
func EventID(typ string, k signal.Key, sig string, start time.Time) string {
	h := sha256.New()
	for _, f := range []string{typ, k.Site, k.Line, k.Equipment, sig} {
		h.Write([]byte(f))
		h.Write([]byte{0})
	}
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(start.UnixNano()))
	h.Write(b[:])
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// Record is an event with its lifecycle, as stored and delivered.
type Record struct {
	Event
	Status string `json:"status"` // opened | acknowledged | resolved
	// Revision increases with every change of the record; a delivery of
	// (ID, Revision) is the dedupe key of one lifecycle update.
	Revision       uint64     `json:"revision"`
	AcknowledgedBy string     `json:"acknowledged_by,omitempty"`
	AcknowledgedAt *time.Time `json:"acknowledged_at,omitempty"`
	ResolvedBy     string     `json:"resolved_by,omitempty"` // "" when resolved by the data (machine ran again)
	ResolvedAt     *time.Time `json:"resolved_at,omitempty"`
	Note           string     `json:"note,omitempty"`
	Updated        time.Time  `json:"updated"`
}

// growing are evidence keys that grow while an event lasts.
var growing = []string{"duration_s", "down_s", "idle_s", "silent_s"}

// settle keeps an open event's evidence and reason steady while it lasts
// (they would otherwise change on every detection and make every pass an
// update): the growing numbers are given once it has ended.
func settle(e *Event) {
	if !e.Open() {
		return
	}
	for _, k := range growing {
		delete(e.Evidence, k)
	}
	since := e.Start.Format("2006-01-02 15:04:05 MST")
	switch e.Type {
	case UnplannedDowntime:
		sev := "idle"
		if e.Severity == Critical {
			sev = "down"
		}
		e.Reason = fmt.Sprintf("stopped (%s) in shift since %s, threshold %s", sev, since, time.Duration(e.Evidence["threshold_s"]*1e9))
	case OutOfShiftActivity:
		e.Reason = fmt.Sprintf("running outside every shift since %s", since)
	case SignalLoss:
		e.Reason = fmt.Sprintf("no data since %s (timeout %s)", since, time.Duration(e.Evidence["timeout_s"]*1e9))
	case IdleRunning:
		e.Reason = fmt.Sprintf("running without a counted part since %s", since)
	case Flatline:
		e.Reason = fmt.Sprintf("%s stuck at %g while running since %s", e.Signal, e.Evidence["value"], since)
	}
}
