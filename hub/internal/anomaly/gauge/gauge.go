// Package gauge is the streaming anomaly detector for numeric gauges
// (temperature, power, spindle load, vibration). A Detector takes one sample
// at a time, in time order, and returns an anomaly score in [0, 1] computed
// from that sample and the past only: the score of a sample never depends on
// samples that come after it.
//
// The detector watches six features of the signal (the value, its mean over
// 8 and 64 samples, its change over 1 and 8 samples and the shape of its
// distribution over 64 samples; a seventh, its spread over 32 samples, only
// when Config.Spread is set, as in version 2). Each feature is
// compared with its own baseline, the Window values before its last 64 (so an
// anomaly's first samples do not judge the next ones): beyond the 10 % and 90 %
// quantiles the tail is modelled as exponential, fitted to the mean excess
// over the quantile (peaks over threshold), which gives a tail probability
// p. A feature value no more extreme than the feature has ever been (a
// repeat) has its surprise -log10(p) scaled by Repeat. The largest surprise
// over the features, less a Bonferroni correction for the number of tests, is
// scaled by Familiar when the sample's recent shape (a pattern of levels) is
// in the pattern memory, and raised when the value is a record (beyond the
// gauge's all-time range), then mapped to a raw score in [0, 1).
// An episode opens when the raw score reaches Threshold; the published score
// of the following samples is scaled down (kept below Threshold) until the
// refractory period is over and the raw score has stayed below Rearm for
// Quiet samples, so an anomaly yields one detection, at its onset.
//
// Everything here is pure: no I/O, no clock, no goroutines. The whole state
// round-trips through MarshalBinary and UnmarshalBinary, and a restored
// detector scores the next samples exactly as the original would.
package gauge

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Config holds the detector's parameters. The same values serve every gauge:
// all lengths are in samples, all levels are scale free.
type Config struct {
	// Window is how many past values of each feature form its baseline
	// (the values before the most recent 64).
	Window int
	// MinHistory is how many baseline values a feature needs before it is
	// scored; until then it contributes nothing.
	MinHistory int
	// HalfSurprise is the corrected surprise, -log10 of a tail probability,
	// that maps to a raw score of 0.5: raw = 1 - 2^(-surprise/HalfSurprise).
	HalfSurprise float64
	// Threshold is the raw score at which an episode opens (and the score a
	// consumer should treat as an anomaly).
	Threshold float64
	// Rearm is the raw score the signal must fall below, for Quiet
	// samples in a row, before a new episode can open.
	Rearm float64
	// Quiet is how many samples in a row the raw score must stay below
	// Rearm to end an episode.
	Quiet int
	// Refractory is the least number of samples between two episode onsets.
	Refractory int
	// Levels is how many equal shares of the level baseline a sample's
	// rank is cut into to form patterns (two more levels hold values
	// beyond the baseline's extremes); 0 turns the pattern memory off.
	Levels int
	// Word is how many consecutive levels make a pattern.
	Word int
	// Memory is how many recent patterns are remembered.
	Memory int
	// Familiar scales the surprise of a sample whose pattern is in the
	// memory (0 ignores familiar patterns, 1 treats them as new).
	Familiar float64
	// RecordAfter is how many samples the detector takes to learn the
	// gauge's range before it trusts its extremes; 0 turns records off.
	// After that, a value beyond the range seen so far by more than
	// RecordMargin of its width is a record and opens an episode, and a
	// feature whose value lies within its own range so far has its
	// surprise scaled by Repeat.
	RecordAfter int
	// RecordMargin is the least excess, as a fraction of the range's
	// width, of a record.
	RecordMargin float64
	// Repeat scales the surprise of a feature value no more extreme than
	// one the feature has taken before (1 treats it as new).
	Repeat float64
	// Spread turns on the spread32 feature, the standard deviation of the
	// last 32 values. Version 2 scored it; it is off by default, as on NAB
	// it opened more false detections than it found anomalies.
	Spread bool
	// Retrigger is the raw score that opens a new episode while one is
	// still open, once Refractory samples have passed since the last onset
	// (0 turns it off): evidence this strong is taken as a new anomaly
	// rather than the tail of the last one.
	Retrigger float64
}

// DefaultConfig returns the parameters documented in the package README.
func DefaultConfig() Config {
	return Config{
		Window:       1024,
		MinHistory:   128,
		HalfSurprise: 3.5,
		Threshold:    0.5,
		Rearm:        0.3,
		Quiet:        32,
		Refractory:   96,
		Levels:       4,
		Word:         5,
		Memory:       4096,
		Familiar:     0.5,
		RecordAfter:  512,
		RecordMargin: 0.01,
		Repeat:       0.45,
		Retrigger:    0.998,
	}
}

// Validate reports every invalid parameter at once.
func (c Config) Validate() error {
	var errs []error
	if c.Window < 16 || c.Window > 1<<20 {
		errs = append(errs, fmt.Errorf("window: %d not in [16, %d]", c.Window, 1<<20))
	}
	if c.MinHistory < 10 || c.MinHistory > c.Window {
		errs = append(errs, fmt.Errorf("min_history: %d not in [10, window]", c.MinHistory))
	}
	if !(c.HalfSurprise > 0) || math.IsInf(c.HalfSurprise, 0) {
		errs = append(errs, fmt.Errorf("half_surprise: %v must be positive and finite", c.HalfSurprise))
	}
	if !(c.Threshold > 0 && c.Threshold < 1) {
		errs = append(errs, fmt.Errorf("threshold: %v not in (0, 1)", c.Threshold))
	}
	if !(c.Rearm >= 0 && c.Rearm <= c.Threshold) {
		errs = append(errs, fmt.Errorf("rearm: %v not in [0, threshold]", c.Rearm))
	}
	if c.Quiet < 1 || c.Quiet > 1<<30 {
		errs = append(errs, fmt.Errorf("quiet: %d not in [1, %d]", c.Quiet, 1<<30))
	}
	if c.Refractory < 0 || c.Refractory > 1<<30 {
		errs = append(errs, fmt.Errorf("refractory: %d not in [0, %d]", c.Refractory, 1<<30))
	}
	if c.Levels != 0 {
		if c.Levels < 2 || c.Levels > 62 {
			errs = append(errs, fmt.Errorf("levels: %d not 0 or in [2, 62]", c.Levels))
		} else if c.Word < 1 || float64(c.Word)*math.Log2(float64(c.Levels+2)) > 63 {
			errs = append(errs, fmt.Errorf("word: %d not in [1, %d] for %d levels", c.Word,
				int(63/math.Log2(float64(c.Levels+2))), c.Levels))
		}
		if c.Memory < 1 || c.Memory > 1<<20 {
			errs = append(errs, fmt.Errorf("memory: %d not in [1, %d]", c.Memory, 1<<20))
		}
		if !(c.Familiar >= 0 && c.Familiar <= 1) {
			errs = append(errs, fmt.Errorf("familiar: %v not in [0, 1]", c.Familiar))
		}
	}
	if c.RecordAfter < 0 || c.RecordAfter > 1<<30 {
		errs = append(errs, fmt.Errorf("record_after: %d not in [0, %d]", c.RecordAfter, 1<<30))
	}
	if c.RecordAfter > 0 {
		if !(c.RecordMargin >= 0 && c.RecordMargin <= 1) {
			errs = append(errs, fmt.Errorf("record_margin: %v not in [0, 1]", c.RecordMargin))
		}
		if !(c.Repeat >= 0 && c.Repeat <= 1) {
			errs = append(errs, fmt.Errorf("repeat: %v not in [0, 1]", c.Repeat))
		}
	}
	if c.Retrigger != 0 && !(c.Retrigger >= c.Threshold && c.Retrigger < 1) {
		errs = append(errs, fmt.Errorf("retrigger: %v not 0 or in [threshold, 1)", c.Retrigger))
	}
	return errors.Join(errs...)
}

// MaxAbs bounds the magnitude of an accepted value: larger finite values are
// clamped to ±MaxAbs, so that no sum or square overflows.
const MaxAbs = 1e15

const (
	histLen   = 64  // raw values kept for the short-term features
	shapeBins = 8   // equiprobable bins of the distribution-shape feature
	tailProb  = 0.1 // quantile beyond which the tail is modelled
	// recordTail is the least surprise, -log10 of the tail probability
	// against the level baseline, of a record: a new extreme that the
	// recent values make unremarkable is not one.
	recordTail = 3
)

// Features, in the order of Result.Feature.
var featureNames = [...]string{"value", "mean8", "mean64", "step1", "step8", "spread32", "shape64"}

const (
	fValue = iota
	fMean8
	fMean64
	fStep1
	fStep8
	fSpread32
	fShape64
	numFeatures
)

// bonferroni is log10 of the number of one-sided tests per sample with every
// feature on (two tails of each of the seven features, one more than needed
// as shape64 is one-sided); it stays the same when spread32 is off.
var bonferroni = math.Log10(2 * numFeatures)

// Result is the outcome of one sample.
type Result struct {
	// Score is the published anomaly score in [0, 1]: Raw, except while an
	// episode is open, when it is Raw*Threshold (below Threshold).
	Score float64
	// Raw is the score before episode suppression, in [0, 1).
	Raw float64
	// Onset is true on the sample that opened an episode.
	Onset bool
	// Feature names the most surprising feature ("" when none is scored),
	// or "record" when the value is a record that raised the surprise.
	Feature string
	// Surprise is -log10 of that feature's tail probability, less the
	// Bonferroni correction (>= 0), times Config.Familiar when Familiar.
	Surprise float64
	// Familiar is true when the sample's pattern is in the pattern memory.
	Familiar bool
	// Skipped is true when the sample was ignored: a NaN or infinite value,
	// or a timestamp before the previous sample's.
	Skipped bool
}

// Detector is a streaming anomaly detector for one gauge. It is not safe for
// concurrent use.
type Detector struct {
	cfg      Config
	n        uint64 // accepted samples
	lastT    int64  // unix nanoseconds of the last accepted sample
	hist     [histLen]float64
	histNext int
	since    int // samples since the last onset, capped at Refractory
	armed    bool
	quiet    int // samples in a row below Rearm while not armed
	feats    [numFeatures]window
	pat      pattern
	rng      extremes              // of the values, from the first sample
	franges  [numFeatures]extremes // of each feature, once it is scored
}

// New returns a detector with the given parameters.
func New(cfg Config) (*Detector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("gauge detector config: %w", err)
	}
	d := &Detector{cfg: cfg, since: cfg.Refractory, armed: true}
	for i := range d.feats {
		d.feats[i] = newWindow(cfg.Window, histLen)
	}
	if cfg.Levels > 0 {
		d.pat = newPattern(cfg.Levels, cfg.Word, cfg.Memory)
	}
	return d, nil
}

// Config returns the detector's parameters.
func (d *Detector) Config() Config { return d.cfg }

// Samples returns how many samples the detector has accepted.
func (d *Detector) Samples() uint64 { return d.n }

// Update scores the sample (t, v) against the past and adds it to the state.
// Samples must come in time order; equal timestamps are accepted.
func (d *Detector) Update(t time.Time, v float64) Result {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return Result{Skipped: true}
	}
	ns := t.UnixNano()
	if d.n > 0 && ns < d.lastT {
		return Result{Skipped: true}
	}
	v = math.Max(-MaxAbs, math.Min(MaxAbs, v))
	d.lastT = ns
	d.n++
	d.hist[d.histNext] = v
	d.histNext = (d.histNext + 1) % histLen

	var vals [numFeatures]float64
	var ok [numFeatures]bool
	d.features(&vals, &ok)

	best, arg := 0.0, -1
	valueSurprise := 0.0
	if level := &d.feats[fValue]; level.n >= d.cfg.MinHistory {
		floor := 1e-6*(math.Abs(level.quantile(0.5))+level.quantile(1-tailProb)-level.quantile(tailProb)) + 1e-12
		for i := range vals {
			w := &d.feats[i]
			if !ok[i] || w.n < d.cfg.MinHistory {
				continue
			}
			f, twoSided := floor, true
			if i == fShape64 {
				f, twoSided = 0.01, false
			}
			s := surprise(w, vals[i], f, twoSided)
			if i == fValue {
				valueSurprise = s
			}
			if d.recording() && d.franges[i].within(vals[i], twoSided) {
				s *= d.cfg.Repeat
			}
			if s > best {
				best, arg = s, i
			}
		}
	}
	for i := range vals {
		if ok[i] {
			d.feats[i].push(vals[i])
			if d.feats[i].n >= d.cfg.MinHistory {
				d.franges[i].add(vals[i])
			}
		}
	}

	r := Result{}
	if arg >= 0 {
		r.Feature = featureNames[arg]
		r.Surprise = math.Max(0, best-bonferroni)
	}
	if level := &d.feats[fValue]; d.cfg.Levels > 0 && level.n >= d.cfg.MinHistory {
		if r.Familiar = d.pat.observe(d.pat.level(level, v)); r.Familiar {
			r.Surprise *= d.cfg.Familiar
		}
	}
	// A record, a new extreme that is also in its baseline's recordTail:
	// raw = 1 - 2^-(1+e) for an excess e over the range.
	if e := d.rng.beyond(v); d.recording() && e > d.cfg.RecordMargin && valueSurprise >= recordTail &&
		d.cfg.HalfSurprise*(1+e) > r.Surprise {
		r.Surprise = d.cfg.HalfSurprise * (1 + e)
		r.Feature = "record"
	}
	d.rng.add(v)
	r.Raw = 1 - math.Exp2(-r.Surprise/d.cfg.HalfSurprise)
	d.episode(&r)
	return r
}

// recording reports whether records are on and the range has been learnt.
func (d *Detector) recording() bool {
	return d.cfg.RecordAfter > 0 && d.n > uint64(d.cfg.RecordAfter)
}

// episode applies the onset, refractory and rearm rules to r.
func (d *Detector) episode(r *Result) {
	if d.since < d.cfg.Refractory {
		d.since++
	}
	if !d.armed {
		if r.Raw < d.cfg.Rearm {
			d.quiet++
		} else {
			d.quiet = 0
		}
		if d.quiet >= d.cfg.Quiet {
			d.armed, d.quiet = true, 0
		}
	}
	switch {
	case d.armed && d.since >= d.cfg.Refractory && r.Raw >= d.cfg.Threshold:
		r.Onset = true
		r.Score = r.Raw
		d.armed = false
		d.since = 0
	case !d.armed && d.cfg.Retrigger > 0 && d.since >= d.cfg.Refractory && r.Raw >= d.cfg.Retrigger:
		r.Onset = true
		r.Score = r.Raw
		d.since = 0
	case !d.armed || d.since < d.cfg.Refractory:
		r.Score = r.Raw * d.cfg.Threshold
	default:
		r.Score = r.Raw
	}
}

// recent returns the k-th most recent raw value (k = 0 is the newest).
func (d *Detector) recent(k int) float64 {
	return d.hist[(d.histNext-1-k+2*histLen)%histLen]
}

func (d *Detector) mean(from, k int) float64 {
	s := 0.0
	for j := from; j < from+k; j++ {
		s += d.recent(j)
	}
	return s / float64(k)
}

// features computes the feature values of the newest sample; ok[i] is false
// while feature i lacks history.
func (d *Detector) features(vals *[numFeatures]float64, ok *[numFeatures]bool) {
	n := d.n
	vals[fValue], ok[fValue] = d.recent(0), true
	if n >= 2 {
		vals[fStep1], ok[fStep1] = d.recent(0)-d.recent(1), true
	}
	if n >= 8 {
		vals[fMean8], ok[fMean8] = d.mean(0, 8), true
	}
	if n >= 16 {
		vals[fStep8], ok[fStep8] = d.mean(0, 8)-d.mean(8, 8), true
	}
	if n >= 32 && d.cfg.Spread {
		m := d.mean(0, 32)
		ss := 0.0
		for j := 0; j < 32; j++ {
			e := d.recent(j) - m
			ss += e * e
		}
		vals[fSpread32], ok[fSpread32] = math.Sqrt(ss/32), true
	}
	if n >= histLen {
		vals[fMean64], ok[fMean64] = d.mean(0, histLen), true
		if level := &d.feats[fValue]; level.n >= d.cfg.MinHistory {
			vals[fShape64], ok[fShape64] = d.shape(level), true
		}
	}
}

// shape returns the Kullback-Leibler divergence of the distribution of the
// last histLen values from that of the level baseline, over shapeBins bins
// whose edges are the baseline's k/shapeBins quantiles.
func (d *Detector) shape(level *window) float64 {
	var edges [shapeBins - 1]float64
	for k := range edges {
		edges[k] = level.quantile(float64(k+1) / shapeBins)
	}
	var recent, base [shapeBins]float64
	for j := 0; j < histLen; j++ {
		v := d.recent(j)
		b := 0
		for b < len(edges) && v > edges[b] {
			b++
		}
		recent[b]++
	}
	prev := 0
	for k := 0; k < shapeBins; k++ {
		c := level.n
		if k < len(edges) {
			c = level.countAtMost(edges[k])
		}
		base[k] = float64(c - prev)
		prev = c
	}
	kl := 0.0
	for k := range recent {
		p := (recent[k] + 0.5) / (histLen + 0.5*shapeBins)
		q := (base[k] + 0.5) / (float64(level.n) + 0.5*shapeBins)
		kl += p * math.Log(p/q)
	}
	return kl
}

// surprise returns -log10 of the tail probability of y under w: 0 between
// the 10 % and 90 % quantiles, and beyond them an exponential tail whose
// scale is the mean excess of the baseline over the quantile (at least
// floor), starting at probability 0.1.
func surprise(w *window, y, floor float64, twoSided bool) float64 {
	if hi := w.quantile(1 - tailProb); y > hi {
		s := math.Max(w.excessAbove(hi), floor)
		return 1 + (y-hi)/(s*math.Ln10)
	}
	if !twoSided {
		return 0
	}
	if lo := w.quantile(tailProb); y < lo {
		s := math.Max(w.excessBelow(lo), floor)
		return 1 + (lo-y)/(s*math.Ln10)
	}
	return 0
}
