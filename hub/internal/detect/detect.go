// Package detect runs the anomaly detectors inside the hub and hands what
// they find to the event store. It owns when detection happens:
//
//   - for every consumed batch, its gauge samples (gauge anomalies,
//     flatlines), before the batch is acknowledged;
//   - for every flushed set of pending ranges, the timeline detectors over
//     those ranges (downtime, out-of-shift activity, signal loss, micro-stop
//     bursts, activity drops), before the ranges are cleared;
//   - every tick, at the live edge of every live equipment (whose data
//     arrives current), so a stop is reported when it crosses its threshold
//     even if no new signal arrives.
//
// Events are functions of the durable state (timelines) or of the signal
// stream, with stable ids, so running a detector again after a crash or a
// redelivery finds the same events; the store makes re-detection a no-op.
// Gauge detectors are streaming, so their events depend on every sample
// seen: the state of every gauge a batch touched is saved with that batch's
// events, in one transaction of the event store (GaugeStore), before the
// batch is acked, and a gauge's state is restored from there when it is
// first seen after a restart. A gauge skips samples not after its last one,
// so a batch redelivered after a crash is not fed twice. The gauge events
// of a restarted hub are those of one that ran through.
// An open event that a later detection no longer finds (late data restated
// the range) is closed, so nothing stays open for ever.
package detect

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/anomaly"
	"github.com/floorpulse/floorpulse/hub/internal/engine"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// Sink takes detected events (the event store).
type Sink interface {
	Apply(detected []anomaly.Event, now time.Time) ([]anomaly.Record, error)
}

// GaugeStore keeps the gauge detector states (the event store): ApplyGauges
// is Sink.Apply that also saves the given states, by gauge key, in the same
// transaction.
type GaugeStore interface {
	ApplyGauges(detected []anomaly.Event, states map[string][]byte, now time.Time) ([]anomaly.Record, error)
	GaugeState(key string) (state []byte, ok bool, err error)
}

// Options configure a Runner.
type Options struct {
	Engine *engine.Engine
	Sink   Sink
	Gauges *anomaly.Gauges
	// Risks, when set, runs the failure-risk detectors over every signal.
	Risks *anomaly.Risks
	// States, when set, keeps the gauge and failure-risk states across
	// restarts (nil: a restarted gauge starts afresh, resuming only its
	// open flatline).
	States   GaugeStore
	Settings engine.SettingsFunc
	// Timeout is the signal timeout: an equipment is live while its data is
	// at most this old when it arrives.
	Timeout time.Duration
	// LiveHold is how long an equipment stays live after its last current
	// data (so an outage is still seen as signal loss). Default 24h.
	LiveHold time.Duration
	// Open are the open records at start (to close vanished events and to
	// resume flatlines).
	Open  []anomaly.Record
	Clock func() time.Time
	Log   *slog.Logger
}

// Runner runs the detectors.
type Runner struct {
	o       Options
	mu      sync.Mutex
	open    map[string]anomaly.Event // open events by id
	live    map[signal.Key]time.Time // wall time of an equipment's last current data
	pending []anomaly.Event          // detected, not yet applied (a failed sink)
	touched map[gaugeID]bool         // gauges whose state is not yet saved
}

type gaugeID struct {
	key  signal.Key
	name string
}

// riskName is the name under which an equipment's failure-risk detector is
// kept in the GaugeStore (no gauge is named so: signal names are tokens).
const riskName = "#failure_risk"

// storeKey is a gauge's key in the GaugeStore.
func (g gaugeID) storeKey() string {
	return g.key.Site + "\x00" + g.key.Line + "\x00" + g.key.Equipment + "\x00" + g.name
}

// timeline event types: re-detected whole by every detection of their equipment.
var timelineTypes = map[string]bool{
	anomaly.UnplannedDowntime: true, anomaly.OutOfShiftActivity: true, anomaly.SignalLoss: true,
	anomaly.MicroStopBurst: true, anomaly.IdleRunning: true,
}

// New returns a runner.
func New(o Options) *Runner {
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.LiveHold == 0 {
		o.LiveHold = 24 * time.Hour
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Minute
	}
	r := &Runner{o: o, open: map[string]anomaly.Event{}, live: map[signal.Key]time.Time{}, touched: map[gaugeID]bool{}}
	for _, rec := range o.Open {
		if rec.Status != anomaly.Resolved && rec.Event.Open() {
			r.open[rec.ID] = rec.Event
		}
	}
	return r
}

// isLive reports whether an equipment is live now: its data arrived
// current (not replayed history) within LiveHold. Equipment whose history is
// being replayed is judged on its data alone, even when other equipment of
// its plant is already live.
func (r *Runner) isLive(now time.Time) func(signal.Key) bool {
	return func(k signal.Key) bool {
		t, ok := r.live[k]
		return ok && now.Sub(t) < r.o.LiveHold
	}
}

// Signals handles a consumed batch (already applied to the engine and
// saved): it notes which equipment is live and runs the gauge detectors. It
// returns once the events are in the store, so the batch may then be acked.
func (r *Runner) Signals(sigs []signal.Signal) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.o.Clock()
	var found []anomaly.Event
	settings := map[signal.Key]anomaly.Settings{} // of the batch's equipment
	settingsOf := func(k signal.Key) anomaly.Settings {
		st, ok := settings[k]
		if !ok {
			st = r.o.Settings(r.o.Engine.Equipment(k))
			settings[k] = st
		}
		return st
	}
	for _, s := range sigs {
		if now.Sub(s.Time) <= r.o.Timeout {
			r.live[s.Key()] = now
		}
		if r.o.Risks != nil {
			k := s.Key()
			if err := r.restoreRisk(k); err != nil {
				r.pending = append(r.pending, found...)
				return err
			}
			if evs := r.o.Risks.Observe(s, settingsOf(k)); len(evs) > 0 || r.o.Risks.Tracks(k) {
				found = append(found, evs...)
				if r.o.States != nil {
					r.touched[gaugeID{k, riskName}] = true
				}
			}
		}
		if r.o.Gauges == nil || !anomaly.IsGauge(s) {
			continue
		}
		k := s.Key()
		if err := r.restore(k, s.Name); err != nil {
			// What the batch found so far is applied with the next call.
			r.pending = append(r.pending, found...)
			return err
		}
		st := settingsOf(k)
		running := func(a, b int64) bool { return r.o.Engine.Running(k, a, b) }
		found = append(found, r.o.Gauges.Observe(s, st, running, r.seed)...)
		if r.o.States != nil {
			r.touched[gaugeID{k, s.Name}] = true
		}
	}
	return r.apply(found, nil, now)
}

// restore loads a gauge's saved state when the runner first sees it. A state
// that cannot be restored (other detector parameters) is logged, and the
// gauge starts afresh.
func (r *Runner) restore(k signal.Key, name string) error {
	if r.o.States == nil || r.o.Gauges.Tracks(k, name) {
		return nil
	}
	data, ok, err := r.o.States.GaugeState(gaugeID{k, name}.storeKey())
	if err != nil {
		return fmt.Errorf("reading the state of gauge %s/%s/%s %s: %w", k.Site, k.Line, k.Equipment, name, err)
	}
	if !ok {
		return nil
	}
	if err := r.o.Gauges.Restore(k, name, data); err != nil {
		r.o.Log.Warn("gauge state not restored; the gauge starts afresh", "site", k.Site, "line", k.Line,
			"equipment", k.Equipment, "gauge", name, "err", err)
	}
	return nil
}

// restoreRisk loads an equipment's saved failure-risk detector when the
// runner first sees the equipment; one that cannot be restored is logged and
// starts afresh.
func (r *Runner) restoreRisk(k signal.Key) error {
	if r.o.States == nil || r.o.Risks.Tracks(k) {
		return nil
	}
	data, ok, err := r.o.States.GaugeState(gaugeID{k, riskName}.storeKey())
	if err != nil {
		return fmt.Errorf("reading the failure-risk state of %s/%s/%s: %w", k.Site, k.Line, k.Equipment, err)
	}
	if !ok {
		return nil
	}
	if err := r.o.Risks.Restore(k, data); err != nil {
		r.o.Log.Warn("failure-risk state not restored; the detector starts afresh", "site", k.Site, "line", k.Line,
			"equipment", k.Equipment, "err", err)
	}
	return nil
}

// seed resumes an open flatline after a restart.
func (r *Runner) seed(k signal.Key, name string) (time.Time, float64, bool) {
	for _, e := range r.open {
		if e.Type == anomaly.Flatline && e.Key() == k && e.Signal == name {
			return e.Start, e.Evidence["value"], true
		}
	}
	return time.Time{}, 0, false
}

// Flushed runs the timeline detectors over pending ranges whose figures were
// written; it returns once their events are in the store.
func (r *Runner) Flushed(dirty engine.Dirty) error {
	if len(dirty) == 0 {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.o.Clock()
	found := r.o.Engine.Detect(dirty, now, r.isLive(now), r.o.Settings)
	keys := make([]signal.Key, 0, len(dirty))
	for k := range dirty {
		keys = append(keys, k)
	}
	return r.apply(found, keys, now)
}

// Tick runs the detectors at the live edge.
func (r *Runner) Tick() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.o.Clock()
	found, keys := r.o.Engine.DetectLive(now, r.isLive(now), r.o.Settings)
	return r.apply(found, keys, now)
}

// apply closes vanished open events of the re-detected equipment, hands
// everything to the sink, and tracks what is open.
func (r *Runner) apply(found []anomaly.Event, redetected []signal.Key, now time.Time) error {
	if len(redetected) > 0 {
		seen := map[string]bool{}
		for _, e := range found {
			seen[e.ID] = true
		}
		again := map[signal.Key]bool{}
		for _, k := range redetected {
			again[k] = true
		}
		for id, e := range r.open {
			if timelineTypes[e.Type] && again[e.Key()] && !seen[id] {
				// Later data restated the range: the condition never lasted.
				end := e.Start
				e.End = &end
				e.Reason = "no longer found: later data restated the range (" + e.Reason + ")"
				found = append(found, e)
			}
		}
	}
	all := append(r.pending, found...)
	if len(all) == 0 && len(r.touched) == 0 {
		return nil
	}
	var err error
	if len(r.touched) > 0 {
		var states map[string][]byte
		if states, err = r.gaugeStates(); err == nil {
			_, err = r.o.States.ApplyGauges(all, states, now)
		}
	} else {
		_, err = r.o.Sink.Apply(all, now)
	}
	if err != nil {
		r.pending = all
		return err
	}
	r.pending = nil
	clear(r.touched)
	for _, e := range all {
		if e.Open() {
			r.open[e.ID] = e
		} else {
			delete(r.open, e.ID)
		}
	}
	return nil
}

// gaugeStates encodes the states of the touched gauges.
func (r *Runner) gaugeStates() (map[string][]byte, error) {
	states := make(map[string][]byte, len(r.touched))
	for g := range r.touched {
		var data []byte
		var ok bool
		var err error
		if g.name == riskName {
			data, ok, err = r.o.Risks.State(g.key)
		} else {
			data, ok, err = r.o.Gauges.State(g.key, g.name)
		}
		if err != nil {
			return nil, fmt.Errorf("encoding the state of gauge %s: %w", g.name, err)
		}
		if ok {
			states[g.storeKey()] = data
		}
	}
	return states, nil
}

// Run ticks every interval until ctx ends.
func (r *Runner) Run(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := r.Tick(); err != nil {
			if failures%50 == 0 {
				r.o.Log.Warn("live detection failed; retrying", "err", err)
			}
			failures++
		} else {
			failures = 0
		}
	}
}

// SettingsFrom adapts per-line/class thresholds to the engine's form.
func SettingsFrom(f func(line, class string) anomaly.Settings) engine.SettingsFunc {
	return func(eq activity.Equipment) anomaly.Settings { return f(eq.Key.Line, eq.Class) }
}
