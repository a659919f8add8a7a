// Package risk is the failure-risk detector: one per machine, streaming and
// pure, it watches a machine's gauges, its cycle time per part and its
// micro-stops against the machine's own normal, and warns when together they
// point to a coming breakdown. The hub runs it on every machine's signals
// (failure_risk events); the simulator's evaluation scores it against the
// simulator's ground truth, which is why it lives outside both.
//
// How it works. Time is cut into clock hours (UTC, by event time). For each
// hour with running time the detector folds into each channel what the hour
// brought: per gauge the values sampled while running; cycle_time the parts
// counted (count increases) and the running seconds they took (since the
// previous increase); micro_stops the stops shorter than MicroStopMax
// between two runs and the running hours. A channel's current value is the
// ratio of its exponentially smoothed sums (half-life smoothBins hours with
// running time): a gauge's mean while running, log seconds per part, the
// square root of micro-stops per running hour. Each channel learns its
// normal, a robust mean and mean absolute deviation of its current value
// (half-life baseBins), during its first learnBins hours and then only from
// hours in which the value is at most freezeZ deviations above normal and
// no warning is open, so a slow drift does not become the normal. Its
// deviation z is how many standard deviations (1.25 mean absolute
// deviations, at least a floor) the current value is above normal: a gauge
// higher, a cycle longer, micro-stops more frequent; a value below normal
// counts for nothing. The score is the root of the sum of the squared
// deviations beyond one (each channel's z - 1 when above 1), so several
// signals drifting together weigh more than one. A warning opens when the
// score is at least Threshold for Hold of consecutive hours with running
// time; its start is the start of the first of them. It closes when the
// machine breaks down (state down) or when the score stays below half the
// threshold for quietBins such hours. A breakdown restarts every channel's
// smoothing, not its normal.
//
// What always holds: the same observations in the same order give the same
// warnings; an observation older than the last of its kind is ignored; the
// whole state round-trips through MarshalBinary and UnmarshalBinary.
package risk

import (
	"math"
	"sort"
	"time"
)

// Config holds the detector's thresholds. The same for every machine.
type Config struct {
	// Threshold is the score that counts as elevated.
	Threshold float64
	// Hold is how long (in hours with running time) the score must stay
	// elevated to open a warning.
	Hold time.Duration
	// MicroStopMax: a stop between two runs shorter than this is a micro-stop.
	MicroStopMax time.Duration
}

// DefaultConfig are the thresholds the hub uses unless configured.
func DefaultConfig() Config {
	return Config{Threshold: 3, Hold: 2 * time.Hour, MicroStopMax: 2 * time.Minute}
}

// Fixed parameters of the model (part of the saved state's version).
const (
	smoothBins = 8.0   // half-life of a channel's current value, in hours with data
	baseBins   = 240.0 // half-life of a channel's normal
	learnBins  = 48    // hours with data before a channel's deviation counts
	freshBins  = 4     // hours with data after a breakdown before it counts again
	freezeZ    = 2.0   // the normal learns only from values within this many deviations
	quietBins  = 24    // hours below half the threshold that close a warning
	maxGap     = 30 * time.Minute
	gaugeFloor = 0.01 // least deviation of a gauge, as a share of its normal
	cycleFloor = 0.01 // least deviation of the log cycle time
)

// Channel names besides the gauges'.
const (
	CycleTime  = "cycle_time"
	MicroStops = "micro_stops"
)

// Kinds of observation.
const (
	State = iota + 1 // Str: running, idle, setup, down, ...
	Count            // Num: the good-part counter
	Gauge            // Name, Num
)

// Obs is one observation of a machine.
type Obs struct {
	T    time.Time
	Kind int
	Name string // the gauge
	Num  float64
	Str  string
}

// Evidence is one channel's part in a warning: its normal, its current
// value (in the channel's unit: the gauge's, seconds per part, micro-stops
// per running hour) and its deviation in standard deviations.
type Evidence struct {
	Signal   string
	Baseline float64
	Current  float64
	Z        float64
}

// Change is a warning opened or closed.
type Change struct {
	Opened bool // false: closed
	// Start is the start of the first elevated hour; At when it opened or
	// closed; OpenedAt when it opened.
	Start, At, OpenedAt time.Time
	Score               float64
	// Evidence, strongest first, of the channels deviating by more than one.
	Evidence []Evidence
	// Breakdown: closed because the machine broke down (else it returned to normal).
	Breakdown bool
}

// channel is one signal's smoothed value and its normal.
type channel struct {
	Num, Den   float64 // this hour's sums
	NumS, DenS float64 // smoothed sums
	N          int     // hours folded in since the last breakdown
	Mu, Dev    float64 // the normal
	BN         int     // hours the normal learned from
}

// Detector is one machine's failure-risk detector. It is not safe for
// concurrent use.
type Detector struct {
	Bin      int64 // current clock hour (Unix hours); 0: none yet
	RunNs    int64 // running time in the current hour
	Ch       map[string]*channel
	LastT    map[string]int64 // last observation time by kind/gauge
	Running  bool
	Since    int64 // when the machine last stopped running (0: running or unknown)
	Down     bool
	LastAt   int64 // time of the last observation (running accrual)
	Count    float64
	HasCount bool
	// RunCount is the running time since the last count increase: the
	// time the parts of the next increase took.
	RunCount int64

	Elevated  int   // consecutive elevated hours
	ElevStart int64 // start of the first of them
	Open      bool
	OpenStart int64
	OpenAt    int64
	Quiet     int
	Evidence  []Evidence
	Score     float64
}

// New returns a detector with no history.
func New() *Detector {
	return &Detector{Ch: map[string]*channel{}, LastT: map[string]int64{}}
}

func (d *Detector) ch(name string) *channel {
	c := d.Ch[name]
	if c == nil {
		c = &channel{}
		d.Ch[name] = c
	}
	return c
}

// Observe feeds one observation and returns the warnings it opened or closed.
func (d *Detector) Observe(o Obs, cfg Config) []Change {
	key := string(rune('0' + o.Kind))
	if o.Kind == Gauge {
		key = "g" + o.Name
	}
	t := o.T.UnixNano()
	if last, ok := d.LastT[key]; ok && t <= last {
		return nil
	}
	if t < d.LastAt {
		// Another kind already went past t: account no time backwards.
		t = d.LastAt
	}
	d.LastT[key] = o.T.UnixNano()
	out := d.advance(t, cfg)
	switch o.Kind {
	case State:
		run := o.Str == "running"
		if run && !d.Running && d.Since != 0 && t-d.Since < int64(cfg.MicroStopMax) {
			d.ch(MicroStops).Num++
		}
		if !run && d.Running {
			d.Since = t
		}
		if run {
			d.Since = 0
		}
		down := o.Str == "down"
		if down {
			d.Since = 0
			if !d.Down {
				out = append(out, d.breakdown(t)...)
			}
		}
		d.Running, d.Down = run, down
	case Count:
		switch {
		case d.HasCount && o.Num > d.Count:
			c := d.ch(CycleTime)
			c.Num += float64(d.RunCount) / float64(time.Second)
			c.Den += o.Num - d.Count
			d.RunCount = 0
		case d.HasCount && o.Num < d.Count: // a reset
			d.RunCount = 0
		}
		d.Count, d.HasCount = o.Num, true
	case Gauge:
		if d.Running && !math.IsNaN(o.Num) && !math.IsInf(o.Num, 0) {
			c := d.ch(o.Name)
			c.Num += o.Num
			c.Den++
		}
	}
	return out
}

// advance accounts running time up to t and closes the hours before t's.
func (d *Detector) advance(t int64, cfg Config) []Change {
	var out []Change
	bin := t / int64(time.Hour)
	if d.Bin == 0 {
		d.Bin, d.LastAt = bin, t
	}
	run := d.Running && t-d.LastAt <= int64(maxGap)
	for d.Bin < bin {
		end := (d.Bin + 1) * int64(time.Hour)
		if run && end > d.LastAt {
			d.RunNs += end - d.LastAt
			d.RunCount += end - d.LastAt
		}
		d.LastAt = max(d.LastAt, end)
		out = append(out, d.closeBin(cfg)...)
		d.Bin++
		if !run && d.Bin < bin {
			d.Bin = bin // nothing ran in the hours between
		}
	}
	if run && t > d.LastAt {
		d.RunNs += t - d.LastAt
		d.RunCount += t - d.LastAt
	}
	d.LastAt = max(d.LastAt, t)
	return out
}

// closeBin folds the current hour into the channels and judges the score.
func (d *Detector) closeBin(cfg Config) []Change {
	runH := float64(d.RunNs) / float64(time.Hour)
	d.RunNs = 0
	start := d.Bin * int64(time.Hour)
	if runH <= 0 {
		for _, c := range d.Ch {
			c.Num, c.Den = 0, 0
		}
		return nil
	}
	ms := d.ch(MicroStops)
	ms.Den = runH
	a := math.Exp2(-1 / smoothBins)
	for _, c := range d.Ch {
		if c.Den > 0 || c.Num > 0 {
			c.NumS, c.DenS = c.NumS*a+c.Num, c.DenS*a+c.Den
			c.N++
		}
		c.Num, c.Den = 0, 0
	}
	score, ev := d.score()
	var out []Change
	if score >= cfg.Threshold {
		if d.Elevated == 0 {
			d.ElevStart = start
		}
		d.Elevated++
	} else {
		d.Elevated = 0
	}
	end := start + int64(time.Hour)
	switch {
	case !d.Open && d.Elevated > 0 && time.Duration(d.Elevated)*time.Hour >= cfg.Hold:
		d.Open, d.OpenStart, d.OpenAt, d.Quiet, d.Evidence, d.Score = true, d.ElevStart, end, 0, ev, score
		out = append(out, Change{Opened: true, Start: time.Unix(0, d.OpenStart), At: time.Unix(0, end), OpenedAt: time.Unix(0, end), Score: score, Evidence: ev})
	case d.Open && score < cfg.Threshold/2:
		d.Quiet++
		if d.Quiet >= quietBins {
			out = append(out, d.close(end, false))
		}
	case d.Open:
		d.Quiet = 0
	}
	d.learn()
	return out
}

// value is a channel's current value in its working unit, ok when it has
// enough data since the last breakdown.
func value(name string, c *channel) (float64, bool) {
	if c.N < freshBins || c.DenS <= 0 {
		return 0, false
	}
	r := c.NumS / c.DenS
	switch name {
	case CycleTime:
		if r <= 0 {
			return 0, false
		}
		return math.Log(r), true
	case MicroStops:
		return math.Sqrt(r), true
	}
	return r, true
}

// natural converts a working value to the channel's unit.
func natural(name string, v float64) float64 {
	switch name {
	case CycleTime:
		return math.Exp(v)
	case MicroStops:
		return v * v
	}
	return v
}

func (c *channel) z(name string, v float64) float64 {
	floor := gaugeFloor*math.Abs(c.Mu) + 1e-6
	switch name {
	case CycleTime:
		floor = cycleFloor
	case MicroStops:
		floor = 0.05
	}
	return (v - c.Mu) / (1.25 * math.Max(c.Dev, floor))
}

// score fuses the channels' deviations.
func (d *Detector) score() (float64, []Evidence) {
	var sum float64
	var ev []Evidence
	for _, name := range d.names() {
		c := d.Ch[name]
		v, ok := value(name, c)
		if !ok || c.BN < learnBins {
			continue
		}
		z := c.z(name, v)
		if z > 1 {
			sum += (z - 1) * (z - 1)
			ev = append(ev, Evidence{Signal: name, Baseline: natural(name, c.Mu), Current: natural(name, v), Z: z})
		}
	}
	sort.SliceStable(ev, func(i, j int) bool { return ev[i].Z > ev[j].Z })
	return math.Sqrt(sum), ev
}

// learn updates each channel's normal from its current value, unless a
// warning is open or the value is far from normal.
func (d *Detector) learn() {
	if d.Open {
		return
	}
	b := 1 - math.Exp2(-1/baseBins)
	for _, name := range d.names() {
		c := d.Ch[name]
		v, ok := value(name, c)
		if !ok {
			continue
		}
		if c.BN >= learnBins && c.z(name, v) > freezeZ {
			continue
		}
		w := math.Max(b, 1/float64(c.BN+1))
		if c.BN == 0 {
			c.Mu = v
		}
		dev := math.Abs(v - c.Mu)
		c.Mu += w * (v - c.Mu)
		if c.BN > 0 {
			c.Dev += math.Max(w, 1/float64(c.BN)) * (dev - c.Dev)
		}
		c.BN++
	}
}

// breakdown closes an open warning at t and restarts the smoothing.
func (d *Detector) breakdown(t int64) []Change {
	var out []Change
	if d.Open {
		out = append(out, d.close(t, true))
	}
	for _, c := range d.Ch {
		c.Num, c.Den, c.NumS, c.DenS, c.N = 0, 0, 0, 0, 0
	}
	d.RunNs, d.RunCount, d.Elevated = 0, 0, 0
	return out
}

func (d *Detector) close(t int64, breakdown bool) Change {
	c := Change{Start: time.Unix(0, d.OpenStart), At: time.Unix(0, t), OpenedAt: time.Unix(0, d.OpenAt), Score: d.Score, Evidence: d.Evidence, Breakdown: breakdown}
	d.Open, d.Quiet, d.Evidence, d.Score = false, 0, nil, 0
	return c
}

func (d *Detector) names() []string {
	names := make([]string, 0, len(d.Ch))
	for n := range d.Ch {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
