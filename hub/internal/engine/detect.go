package engine

import (
	"sort"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/anomaly"
	"github.com/floorpulse/floorpulse/hub/internal/state"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// SettingsFunc returns an equipment's detector thresholds.
type SettingsFunc func(eq activity.Equipment) anomaly.Settings

// Detect runs the timeline detectors over the dirty ranges. live says, per
// equipment, whether its last state may be extended to now (its plant is
// live); events are sorted by equipment and start.
func (e *Engine) Detect(dirty Dirty, now time.Time, live func(signal.Key) bool, settings SettingsFunc) []anomaly.Event {
	e.mu.RLock()
	defer e.mu.RUnlock()
	dirty = e.retained(dirty)
	keys := make([]signal.Key, 0, len(dirty))
	for k := range dirty {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
	var out []anomaly.Event
	for _, k := range keys {
		r := dirty[k]
		out = append(out, e.detect(k, r.From, now, live(k), settings)...)
	}
	return out
}

// DetectLive runs the timeline detectors at the live edge of every
// equipment for which live is true: what lasts from its last observation to
// now (stops crossing their threshold, silence beyond the timeout).
func (e *Engine) DetectLive(now time.Time, live func(signal.Key) bool, settings SettingsFunc) ([]anomaly.Event, []signal.Key) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	var out []anomaly.Event
	var keys []signal.Key
	for k, tl := range e.timelines {
		if !live(k) {
			continue
		}
		_, h, ok := tl.Span()
		if !ok {
			continue
		}
		keys = append(keys, k)
		out = append(out, e.detect(k, h, now, true, settings)...)
	}
	return out, keys
}

func (e *Engine) detect(k signal.Key, lo int64, now time.Time, live bool, settings SettingsFunc) []anomaly.Event {
	eq := e.equipment[k]
	in := anomaly.Input{Key: k, Timeline: e.timelines[k], Calendar: e.opts.Calendar(k.Site, k.Line),
		Settings: settings(eq), Loc: e.opts.Location}
	var l anomaly.Live
	if live {
		l.Now = now
	}
	return anomaly.Detect(in, lo, l)
}

// Running reports whether the equipment ran throughout [a, b).
func (e *Engine) Running(k signal.Key, a, b int64) bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	tl := e.timelines[k]
	if tl == nil || b <= a {
		return false
	}
	segs := tl.Segments(a, b, nil)
	return len(segs) == 1 && segs[0].State == state.Running
}

// Horizon returns an equipment's latest observation.
func (e *Engine) Horizon(k signal.Key) (time.Time, bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	tl := e.timelines[k]
	if tl == nil {
		return time.Time{}, false
	}
	_, h, ok := tl.Span()
	return time.Unix(0, h), ok
}

// Equipment returns an equipment's registry entry (class, registered).
func (e *Engine) Equipment(k signal.Key) activity.Equipment {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if eq, ok := e.equipment[k]; ok {
		return eq
	}
	return activity.Equipment{Key: k}
}
