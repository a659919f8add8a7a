package anomaly

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/floorpulse/floorpulse/pkg/risk"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// Risks runs one failure-risk detector (pkg/risk) per equipment over its
// signals: state (or run, for equipment that sends no state), count and
// every gauge. A warning is a failure_risk event that starts at the first
// elevated hour, carries the evidence of the channels that deviate and a
// reason in plain words, and ends when the equipment breaks down (state
// down) or returns to normal. A detector's whole state round-trips through
// State and Restore. Risks is not safe for concurrent use.
type Risks struct {
	loc  *time.Location
	dets map[signal.Key]*riskState
}

type riskState struct {
	det   *risk.Detector
	state bool // the equipment sends state (run is then ignored)
}

// NewRisks returns failure-risk detectors cutting times in loc.
func NewRisks(loc *time.Location) *Risks {
	return &Risks{loc: loc, dets: map[signal.Key]*riskState{}}
}

// Tracks reports whether the equipment has a detector (observed or restored).
func (r *Risks) Tracks(k signal.Key) bool { _, ok := r.dets[k]; return ok }

// State encodes an equipment's detector; ok is false for one not tracked.
func (r *Risks) State(k signal.Key) ([]byte, bool, error) {
	rs := r.dets[k]
	if rs == nil {
		return nil, false, nil
	}
	data, err := rs.det.MarshalBinary()
	if err != nil {
		return nil, false, err
	}
	flag := byte(0)
	if rs.state {
		flag = 1
	}
	return append([]byte{flag}, data...), true, nil
}

// Restore replaces an equipment's detector with one State encoded; on an
// error the equipment is left as it was.
func (r *Risks) Restore(k signal.Key, data []byte) error {
	if len(data) < 1 || data[0] > 1 {
		return fmt.Errorf("%w: bad header", risk.ErrState)
	}
	d := risk.New()
	if err := d.UnmarshalBinary(data[1:]); err != nil {
		return err
	}
	r.dets[k] = &riskState{det: d, state: data[0] == 1}
	return nil
}

// Observe feeds one signal of an equipment and returns the failure_risk
// events it opened or closed. st gives the thresholds (RiskThreshold 0:
// the detector still learns, but opens nothing).
func (r *Risks) Observe(s signal.Signal, st Settings) []Event {
	if s.Quality != signal.Good || s.Gap != nil {
		return nil
	}
	o := risk.Obs{T: s.Time}
	k := s.Key()
	rs := r.dets[k]
	if rs == nil {
		rs = &riskState{det: risk.New()}
	}
	switch {
	case s.Name == signal.State && s.Value.Kind == signal.KindString:
		o.Kind, o.Str = risk.State, s.Value.Str
		rs.state = true
	case s.Name == signal.Run && s.Value.Kind == signal.KindBool:
		if rs.state {
			return nil
		}
		o.Kind, o.Str = risk.State, "idle"
		if s.Value.Bool {
			o.Str = "running"
		}
	case s.Name == signal.Count && s.Value.Kind == signal.KindNumber:
		o.Kind, o.Num = risk.Count, s.Value.Num
	case IsGauge(s):
		o.Kind, o.Name, o.Num = risk.Gauge, s.Name, s.Value.Num
	default:
		return nil
	}
	r.dets[k] = rs
	cfg := risk.Config{Threshold: st.RiskThreshold, Hold: st.RiskHold, MicroStopMax: st.MicroStopMax}
	if cfg.Threshold <= 0 {
		cfg.Threshold = math.Inf(1)
	}
	var out []Event
	for _, c := range rs.det.Observe(o, cfg) {
		out = append(out, r.event(k, c))
	}
	return out
}

// event is the failure_risk event of a warning opened or closed.
func (r *Risks) event(k signal.Key, c risk.Change) Event {
	start := c.Start.In(r.loc)
	e := Event{ID: EventID(FailureRisk, k, "", start), Type: FailureRisk, Severity: Warning,
		Site: k.Site, Line: k.Line, Equipment: k.Equipment, Start: start, Detected: c.OpenedAt.In(r.loc),
		Evidence: map[string]float64{"score": round(c.Score, 2)}}
	var parts []string
	for _, ev := range c.Evidence {
		name := ev.Signal
		e.Evidence[name+"_baseline"] = round(ev.Baseline, 4)
		e.Evidence[name+"_current"] = round(ev.Current, 4)
		e.Evidence[name+"_z"] = round(ev.Z, 2)
		parts = append(parts, describe(ev))
	}
	e.Reason = "a breakdown may be coming: " + strings.Join(parts, "; ")
	if !c.Opened {
		if c.Breakdown {
			e.Reason += "; ended by the breakdown"
		} else {
			e.Reason += "; back to normal"
		}
		end := c.At.In(r.loc)
		e.End = &end
	}
	return e
}

// describe says in plain words how one channel deviates.
func describe(ev risk.Evidence) string {
	pct := 100 * (ev.Current/ev.Baseline - 1)
	switch ev.Signal {
	case risk.CycleTime:
		return fmt.Sprintf("cycle time %.1f s per part, normally %.1f s (%+.0f %%)", ev.Current, ev.Baseline, pct)
	case risk.MicroStops:
		return fmt.Sprintf("%.1f micro-stops per running hour, normally %.1f", ev.Current, ev.Baseline)
	}
	return fmt.Sprintf("%s %.3g while running, normally %.3g (%+.1f standard deviations)", ev.Signal, ev.Current, ev.Baseline, ev.Z)
}

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}
