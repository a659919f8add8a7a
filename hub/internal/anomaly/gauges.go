package anomaly

import (
	"fmt"
	"math"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/anomaly/gauge"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// Gauges runs the gauge detectors: one streaming anomaly detector per gauge
// (gauge_anomaly, a point event at the sample that opened an episode) and a
// flatline tracker (flatline: the value did not change for FlatlineMin while
// the equipment was running). Samples must come in time order per gauge;
// a sample not after the gauge's last one (older or at the same time) is
// skipped, so a redelivered batch changes nothing. A gauge's whole state
// round-trips through State and Restore, so a restored gauge finds what the
// original would have found. Gauges is not safe for concurrent use.
type Gauges struct {
	cfg    gauge.Config
	loc    *time.Location
	gauges map[gaugeKey]*gaugeState
}

type gaugeKey struct {
	key  signal.Key
	name string
}

type gaugeState struct {
	det       *gauge.Detector
	lastT     int64
	flatStart int64 // first sample of the current constant run
	flatV     float64
	flatOpen  bool // a flatline event is open for the run
	started   bool
}

// Seed gives, for a gauge whose detector starts afresh (a restart), the open
// flatline it had: its start and value. ok is false when there is none.
type Seed func(k signal.Key, name string) (start time.Time, value float64, ok bool)

// NewGauges returns gauge detectors with the given detector parameters.
func NewGauges(cfg gauge.Config, loc *time.Location) (*Gauges, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Gauges{cfg: cfg, loc: loc, gauges: map[gaugeKey]*gaugeState{}}, nil
}

// Len returns the number of gauges tracked.
func (g *Gauges) Len() int { return len(g.gauges) }

// IsGauge reports whether a signal is a gauge: a good number that the state
// engine does not interpret, or power (kept for the energy figures and
// watched by the detectors too). The scrap and energy counters are not
// gauges: they climb and reset by design.
func IsGauge(s signal.Signal) bool {
	switch s.Name {
	case signal.Run, signal.State, signal.Operator, signal.Login, signal.Logout, signal.Count, signal.Scrap, signal.Energy, signal.Alarm:
		return false
	}
	if signal.Reserved(s.Name) {
		return false
	}
	return s.Value.Kind == signal.KindNumber && s.Quality == signal.Good && s.Gap == nil
}

// Observe feeds one gauge sample. running reports whether the equipment ran
// throughout [a, b); settings are the equipment's thresholds; seed is
// consulted once per gauge. It returns the events the sample opened, changed
// or closed.
func (g *Gauges) Observe(s signal.Signal, st Settings, running func(a, b int64) bool, seed Seed) []Event {
	gk := gaugeKey{s.Key(), s.Name}
	gs := g.gauges[gk]
	if gs == nil {
		det, err := gauge.New(g.cfg)
		if err != nil {
			return nil
		}
		gs = &gaugeState{det: det}
		g.gauges[gk] = gs
		if seed != nil {
			if start, v, ok := seed(gk.key, gk.name); ok {
				gs.flatStart, gs.flatV, gs.flatOpen, gs.started = start.UnixNano(), v, true, true
				gs.lastT = start.UnixNano()
			}
		}
	}
	t, v := s.Time.UnixNano(), s.Value.Num
	if gs.started && t <= gs.lastT || math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	var out []Event
	r := gs.det.Update(s.Time, v)
	if r.Onset && st.GaugeThreshold > 0 && r.Raw >= st.GaugeThreshold {
		e := g.event(gk, GaugeAnomaly, Warning, t, t, &t)
		e.Evidence["value"] = v
		e.Evidence["score"] = r.Raw
		e.Evidence["surprise"] = r.Surprise
		e.Reason = fmt.Sprintf("%s %g is anomalous (score %.2f, feature %s)", s.Name, v, r.Raw, r.Feature)
		out = append(out, e)
	}
	// Flatline.
	min := int64(st.FlatlineMin)
	switch {
	case !gs.started:
		gs.flatStart, gs.flatV, gs.started = t, v, true
	case v != gs.flatV:
		if gs.flatOpen {
			e := g.flat(gk, gs, t, v, &t)
			out = append(out, e)
		}
		gs.flatStart, gs.flatV, gs.flatOpen = t, v, false
	case min > 0 && t-gs.flatStart >= min && !gs.flatOpen && running(gs.flatStart, t):
		gs.flatOpen = true
		out = append(out, g.flat(gk, gs, t, v, nil))
	}
	gs.lastT = t
	return out
}

func (g *Gauges) flat(gk gaugeKey, gs *gaugeState, t int64, v float64, end *int64) Event {
	e := g.event(gk, Flatline, Warning, gs.flatStart, t, end)
	e.Evidence["value"] = gs.flatV
	e.Evidence["duration_s"] = float64(t-gs.flatStart) / 1e9
	e.Reason = fmt.Sprintf("%s stuck at %g for %s while running", gk.name, gs.flatV, dur(t-gs.flatStart))
	if end != nil {
		e.Reason = fmt.Sprintf("%s was stuck at %g for %s while running; now %g", gk.name, gs.flatV, dur(t-gs.flatStart), v)
	}
	settle(&e)
	return e
}

func (g *Gauges) event(gk gaugeKey, typ, sev string, start, detected int64, end *int64) Event {
	st := time.Unix(0, start).In(g.loc)
	e := Event{ID: EventID(typ, gk.key, gk.name, st), Type: typ, Severity: sev,
		Site: gk.key.Site, Line: gk.key.Line, Equipment: gk.key.Equipment, Signal: gk.name,
		Start: st, Detected: time.Unix(0, detected).In(g.loc), Evidence: map[string]float64{}}
	if end != nil {
		t := time.Unix(0, *end).In(g.loc)
		e.End = &t
	}
	return e
}
