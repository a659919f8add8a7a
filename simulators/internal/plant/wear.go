package plant

import (
	"errors"
	"math"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/floorpulse/floorpulse/pkg/config"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// Gauges a machine publishes when the plant has degradation.
const (
	Temperature = "temperature" // °C
	Vibration   = "vibration"   // mm/s RMS
)

// Signals a precursor can show in, as the truth names them.
const (
	PrecursorTemperature = Temperature
	PrecursorVibration   = Vibration
	PrecursorCycleTime   = "cycle_time"
	PrecursorMicroStops  = "micro_stops"
)

// Precursor shapes: how the degradation grows from its onset to the breakdown.
const (
	ShapeLinear      = "linear"
	ShapeExponential = "exponential"
	ShapeStepDrift   = "step_drift"
)

// Degradation gives every machine wear-out breakdowns announced by a
// precursor, on top of its sudden breakdowns (breakdowns_per_day), and the
// gauges the precursor shows in (temperature, vibration), with micro-stops
// at a rate of its own. Everything about a precursor (onset, shape, signals,
// size, noise) is drawn from the seed.
type Degradation struct {
	// MeanInterval is the mean time from a machine's start or repair to
	// the onset of its next degradation (exponential); 0 means 720h.
	MeanInterval time.Duration `yaml:"mean_interval"`
	// LeadMin is the least time from a degradation's onset to its
	// breakdown (drawn uniformly up to lead_max); 0 means 24h. The
	// breakdown happens at the first running moment from then on.
	LeadMin time.Duration `yaml:"lead_min"`
	// LeadMax is the most time from a degradation's onset to its
	// breakdown; 0 means 168h.
	LeadMax time.Duration `yaml:"lead_max"`
}

func (d Degradation) withDefaults() Degradation {
	if d.MeanInterval == 0 {
		d.MeanInterval = 720 * time.Hour
	}
	if d.LeadMin == 0 {
		d.LeadMin = 24 * time.Hour
	}
	if d.LeadMax == 0 {
		d.LeadMax = 168 * time.Hour
	}
	return d
}

func (d Degradation) validate() error {
	var errs []error
	w := d.withDefaults()
	if d.MeanInterval < 0 || (d.MeanInterval > 0 && d.MeanInterval < time.Minute) {
		errs = append(errs, config.Errorf("degradation.mean_interval", "must be at least 1m (or absent for the default), got %s", d.MeanInterval))
	}
	if d.LeadMin < 0 || (d.LeadMin > 0 && d.LeadMin < time.Minute) {
		errs = append(errs, config.Errorf("degradation.lead_min", "must be at least 1m (or absent for the default), got %s", d.LeadMin))
	}
	if d.LeadMax < 0 || w.LeadMax < w.LeadMin {
		errs = append(errs, config.Errorf("degradation.lead_max", "must not be below lead_min (%s), got %s", w.LeadMin, w.LeadMax))
	}
	return errors.Join(errs...)
}

// BreakdownTruth is one breakdown of a machine (the generator going down,
// not an injected fault): when it began and when the repair ended, and its
// precursor, nil for a sudden breakdown.
type BreakdownTruth struct {
	Line      string         `json:"line"`
	Equipment string         `json:"equipment"`
	Start     time.Time      `json:"start"`
	End       time.Time      `json:"end"`
	Precursor *PrecursorInfo `json:"precursor"`
}

// PrecursorInfo describes a degradation: from Start it grows with Shape to
// its full size at the breakdown (Signals: the signal and its change at the
// breakdown, in °C for temperature, as a factor for vibration, a fraction of
// the cycle for cycle_time, micro-stops per running hour for micro_stops);
// Noise is the share of the change added as noise to every sample.
type PrecursorInfo struct {
	Start   time.Time        `json:"start"`
	Shape   string           `json:"shape"`
	Signals []PrecursorShift `json:"signals"`
	Noise   float64          `json:"noise"`
}

// PrecursorShift is one signal of a precursor and its size at the breakdown.
type PrecursorShift struct {
	Signal string  `json:"signal"`
	Change float64 `json:"change"`
}

// precursor is a planned degradation of one machine.
type precursor struct {
	onset, due time.Time // onset, and when the breakdown is due
	shape      string
	k          float64 // exponential growth, or the step of step_drift
	noise      float64
	temp, vib  float64 // °C, factor - 1
	cycle      float64 // fraction
	micro      float64 // extra micro-stops per running hour
}

// level is the degradation at t in [0, 1].
func (p *precursor) level(t time.Time) float64 {
	if p == nil || t.Before(p.onset) {
		return 0
	}
	x := math.Min(1, float64(t.Sub(p.onset))/float64(p.due.Sub(p.onset)))
	switch p.shape {
	case ShapeExponential:
		return (math.Exp(p.k*x) - 1) / (math.Exp(p.k) - 1)
	case ShapeStepDrift:
		return p.k + (1-p.k)*x
	}
	return x
}

// wear is a machine's degradation model: its gauges' normal behaviour, its
// micro-stops, the precursor under way and the breakdowns so far. It draws
// from a random stream of its own.
type wear struct {
	cfg Degradation
	r   *rand.Rand
	loc *time.Location

	tempRun, tempOff, tempNoise, ambient float64 // °C
	vibRun, vibNoise                     float64 // mm/s, relative noise
	microRate                            float64 // per running hour
	cycleJitter                          float64 // sd of a run's cycle factor

	cur     *precursor
	pending bool    // the breakdown is due; it happens at the next run
	runF    float64 // the current run's cycle factor
	f       float64 // the cycle factor since from
	parts   float64 // parts made up to from
	from    time.Time

	breakdowns []BreakdownTruth
}

func newWear(cfg Degradation, seed int64, line, name string, loc *time.Location, start time.Time) *wear {
	r := rand.New(rand.NewPCG(uint64(seed), hash(line, name, "wear")))
	w := &wear{cfg: cfg.withDefaults(), r: r, loc: loc, runF: 1, f: 1}
	w.tempRun = 35 + 20*r.Float64()
	w.tempOff = w.tempRun - 8 - 7*r.Float64()
	w.tempNoise = 0.3 + 1.2*r.Float64()
	w.ambient = 0.5 + 2*r.Float64()
	w.vibRun = 1.5 + 4.5*r.Float64()
	w.vibNoise = 0.05 + 0.1*r.Float64()
	w.microRate = 0.2 + 0.8*r.Float64()
	w.cycleJitter = 0.01 + 0.03*r.Float64()
	w.plan(start)
	return w
}

func (w *wear) uniform(lo, hi float64) float64 { return lo + (hi-lo)*w.r.Float64() }

// plan draws the next degradation, its onset after from.
func (w *wear) plan(from time.Time) {
	gap := time.Duration(float64(w.cfg.MeanInterval) * -math.Log(1-w.r.Float64()))
	lead := time.Duration(w.uniform(float64(w.cfg.LeadMin), float64(w.cfg.LeadMax)))
	p := &precursor{onset: from.Add(gap).Truncate(time.Millisecond)}
	p.due = p.onset.Add(max(lead, time.Minute).Truncate(time.Millisecond))
	switch w.r.IntN(3) {
	case 0:
		p.shape = ShapeLinear
	case 1:
		p.shape, p.k = ShapeExponential, w.uniform(1.5, 4)
	default:
		p.shape, p.k = ShapeStepDrift, w.uniform(0.2, 0.5)
	}
	p.noise = w.uniform(0, 0.5)
	for p.temp == 0 && p.vib == 0 && p.cycle == 0 && p.micro == 0 {
		if w.r.Float64() < 0.5 {
			p.temp = w.uniform(3, 10)
		}
		if w.r.Float64() < 0.5 {
			p.vib = w.uniform(0.5, 2)
		}
		if w.r.Float64() < 0.5 {
			p.cycle = w.uniform(0.08, 0.25)
		}
		if w.r.Float64() < 0.5 {
			p.micro = w.uniform(2, 6)
		}
	}
	w.cur = p
}

// next is the time of the next degradation event: its breakdown falling due.
func (w *wear) next() time.Time {
	if w.pending {
		return farFuture
	}
	return w.cur.due
}

var farFuture = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// noisy returns the precursor's change c at level lv with its noise.
func (w *wear) noisy(c, lv float64) float64 {
	if c == 0 || lv == 0 {
		return 0
	}
	return c * lv * (1 + w.cur.noise*w.r.NormFloat64())
}

// temperature is the machine's temperature at t in state st.
func (w *wear) temperature(t time.Time, st string) float64 {
	h := float64(t.In(w.loc).Hour()) + float64(t.In(w.loc).Minute())/60
	v := w.tempOff + w.ambient*math.Sin(2*math.Pi*(h-9)/24) + w.tempNoise*w.r.NormFloat64()
	if st == Running {
		v += w.tempRun - w.tempOff + w.noisy(w.cur.temp, w.cur.level(t))
	}
	return math.Round(v*100) / 100
}

// vibration is the machine's vibration at t in state st.
func (w *wear) vibration(t time.Time, st string) float64 {
	if st != Running {
		return math.Round(0.05*(1+0.2*w.r.Float64())*1000) / 1000
	}
	f := 1 + w.noisy(w.cur.vib, w.cur.level(t))
	return math.Round(w.vibRun*f*(1+w.vibNoise*w.r.NormFloat64())*1000) / 1000
}

// cycleFactor is the factor on the machine's cycle time at t.
func (w *wear) cycleFactor(t time.Time) float64 {
	return math.Max(0.5, w.runF*(1+w.noisy(w.cur.cycle, w.cur.level(t))))
}

// microStop returns when the run starting at t for d is interrupted by a
// micro-stop, if it is.
func (w *wear) microStop(t time.Time, d time.Duration) (time.Duration, bool) {
	rate := w.microRate + math.Max(0, w.noisy(w.cur.micro, w.cur.level(t)))
	u := time.Duration(-math.Log(1-w.r.Float64()) / rate * float64(time.Hour)).Truncate(time.Millisecond)
	return max(u, time.Millisecond), u < d
}

// microLen is the length of a micro-stop.
func (w *wear) microLen() time.Duration {
	return time.Duration(w.uniform(15, 90) * float64(time.Second)).Truncate(time.Millisecond)
}

// startRun draws the cycle factor of a run and returns how
// soon a due breakdown ends it (ok false: none is due).
func (w *wear) startRun() (time.Duration, bool) {
	w.runF = math.Max(0.5, 1+w.cycleJitter*w.r.NormFloat64())
	if !w.pending {
		return 0, false
	}
	return time.Duration(w.uniform(1, 15) * float64(time.Minute)).Truncate(time.Millisecond), true
}

// down books a breakdown at t repaired at end: the degradation's, when its
// breakdown was due (then the next degradation is planned from the repair),
// else a sudden one.
func (w *wear) down(l *line, name string, t, end time.Time) {
	b := BreakdownTruth{Line: l.cfg.Name, Equipment: name, Start: t, End: end}
	if p := w.cur; w.pending || !t.Before(p.due) {
		info := &PrecursorInfo{Start: p.onset, Shape: p.shape, Noise: p.noise}
		for _, s := range []PrecursorShift{{PrecursorTemperature, p.temp}, {PrecursorVibration, p.vib},
			{PrecursorCycleTime, p.cycle}, {PrecursorMicroStops, p.micro}} {
			if s.Change != 0 {
				info.Signals = append(info.Signals, s)
			}
		}
		b.Precursor = info
		w.pending = false
		w.plan(end)
	}
	w.breakdowns = append(w.breakdowns, b)
}

// due is called when the degradation's breakdown falls due at t: a running
// machine breaks down at once, any other at its next run.
func (m *machine) due(t time.Time) {
	m.wear.pending = true
	if m.st == Running && m.phaseEnd.After(t) {
		m.phaseEnd, m.cut, m.after = t, false, Down
	}
}

// gauges returns the machine's degradation gauges at t (none without
// degradation); it also takes the cycle time of t for the parts made next.
func (m *machine) gauges(t time.Time) []Event {
	if m.wear == nil {
		return nil
	}
	m.foldParts(t)
	st := m.eff()
	return []Event{
		m.event(t, Temperature, signal.Number(m.wear.temperature(t, st))),
		m.event(t, Vibration, signal.Number(m.wear.vibration(t, st))),
	}
}

// foldParts counts the parts made up to t at the cycle time since the last
// fold, then takes the cycle time of t: the counter never goes back.
func (m *machine) foldParts(t time.Time) {
	w := m.wear
	if m.runOn && t.After(w.from) {
		w.parts += float64(t.Sub(w.from)) / (float64(m.cycle) * w.f)
	}
	w.from, w.f = t, w.cycleFactor(t)
}

// breakdownTruth lists the breakdowns that began in [start, end), their ends
// cut at end, in start order.
func (p *Plant) breakdownTruth() []BreakdownTruth {
	var out []BreakdownTruth
	for _, m := range p.machines {
		if m.wear == nil || m.line.start.After(p.end) {
			continue
		}
		for _, b := range m.wear.breakdowns {
			if b.Start.Before(m.line.start) || !b.Start.Before(p.end) {
				continue
			}
			b.Start, b.End = b.Start.UTC(), minTime(b.End, p.end).UTC()
			if b.Precursor != nil {
				c := *b.Precursor
				c.Start = c.Start.UTC()
				b.Precursor = &c
			}
			out = append(out, b)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out
}
