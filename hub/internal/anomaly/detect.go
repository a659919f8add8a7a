package anomaly

import (
	"fmt"
	"sort"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/calendar"
	"github.com/floorpulse/floorpulse/hub/internal/state"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// Settings are one equipment's detector thresholds (0 disables a detector).
type Settings struct {
	DowntimeMin     time.Duration
	OutOfShiftMin   time.Duration
	MicroStopMax    time.Duration
	MicroStopBurst  int
	MicroStopWindow time.Duration
	ActivityDrop    float64
	ActivityWeeks   int
	FlatlineMin     time.Duration
	GaugeThreshold  float64
	IdleRunningMin  time.Duration
	// RiskThreshold and RiskHold: a failure-risk score at least this high
	// for this long (hours with running time) opens a failure_risk event.
	RiskThreshold float64
	RiskHold      time.Duration
}

// Input is what the timeline detectors look at for one equipment.
type Input struct {
	Key      signal.Key
	Timeline *state.Timeline
	Calendar *calendar.Calendar // nil: around the clock
	Settings Settings
	Loc      *time.Location
}

// Live extends an equipment's last observed state to Now when its data is
// current: the plant is live and the equipment's last observation is less
// than its timeout old. Without it (history replay, or Now zero) the data
// ends at its last observation.
type Live struct {
	Now time.Time
}

// seg is a stretch of one state, with the calendar kind it lies in.
type seg struct {
	start, end int64
	st         state.State
}

// segments returns the state segments of [a, b) under the line's calendar
// (Detect extends the last one to the live end itself).
func segments(in Input, a, b int64) []seg {
	var spans []calendar.Span
	if in.Calendar != nil {
		spans = in.Calendar.Spans(a, b)
	}
	var out []seg
	for _, s := range in.Timeline.Segments(a, b, spans) {
		out = append(out, seg{s.Start, s.End, s.State})
	}
	return out
}

// runStart walks back from t to where the run of segments matching pred
// that holds t began.
func runStart(in Input, t int64, pred func(state.State) bool) int64 {
	first, _, _ := in.Timeline.Span()
	for w := int64(time.Hour); ; w *= 2 {
		lo := max(t-w, first)
		segs := segments(in, lo, t+1)
		i := len(segs) - 1
		for i > 0 && pred(segs[i-1].st) {
			i--
		}
		if segs[i].start > lo || lo == first {
			return segs[i].start
		}
	}
}

func isRunning(s state.State) bool { return s == state.Running }

func isStop(s state.State) bool { return s == state.Down || s == state.Idle }

// edge returns the end of the equipment's data for detection: its horizon,
// or, when live, now (bounded by the horizon plus the timeout).
func edge(in Input, live Live) (end int64, extended bool) {
	_, horizon, _ := in.Timeline.Span()
	if live.Now.IsZero() {
		return horizon, false
	}
	now := live.Now.UnixNano()
	if now <= horizon {
		return horizon, false
	}
	if to := in.Timeline.Timeout; to > 0 && now > horizon+to {
		return horizon + to, true
	}
	return now, true
}

func (in Input) event(typ, severity string, start, detected int64, end *int64) Event {
	st := time.Unix(0, start).In(in.Loc)
	e := Event{ID: EventID(typ, in.Key, "", st), Type: typ, Severity: severity,
		Site: in.Key.Site, Line: in.Key.Line, Equipment: in.Key.Equipment,
		Start: st, Detected: time.Unix(0, detected).In(in.Loc), Evidence: map[string]float64{}}
	if end != nil {
		t := time.Unix(0, *end).In(in.Loc)
		e.End = &t
	}
	if in.Calendar != nil {
		for _, sp := range in.Calendar.Spans(start, start+1) {
			if sp.Kind != calendar.NoShift && sp.Shift != "" {
				e.Shift, e.ShiftStart = sp.Shift, time.Unix(0, sp.ShiftStart).In(in.Loc)
			}
		}
	}
	return e
}

// Detect returns the timeline events from from to the data's end: unplanned
// downtime, out-of-shift activity, signal loss and micro-stop bursts. An
// event that began before from is found with its true start, so its id is
// the same whichever range finds it; a range is always evaluated to the
// data's end, as a stop lasting there is open (End nil).
func Detect(in Input, from int64, live Live) []Event {
	if in.Timeline == nil {
		return nil
	}
	first, horizon, ok := in.Timeline.Span()
	if !ok {
		return nil
	}
	end, extended := edge(in, live)
	to := end
	from = max(from, first)
	if to <= from {
		return nil
	}
	// Start where the stop or the running stretch holding from began, so an
	// event that began earlier is found with its true start (and id).
	lo := from
	if from > first {
		switch at := stateAt(in, from-1); {
		case isStop(at):
			lo = runStart(in, from-1, isStop)
		case at == state.Running:
			lo = runStart(in, from-1, isRunning)
		}
	}
	// Look back far enough for bursts and out-of-shift runs too.
	lo = min(lo, from-int64(max(in.Settings.MicroStopWindow, in.Settings.OutOfShiftMin)))
	lo = max(lo, first)
	segs := segments(in, lo, min(to, horizon))
	if extended {
		// The state observed at the horizon lasts while the data is current,
		// cut where the calendar changes.
		var spans []calendar.Span
		if in.Calendar != nil {
			spans = in.Calendar.Spans(horizon, to)
		} else {
			spans = []calendar.Span{{Start: horizon, End: to, Kind: calendar.Shift}}
		}
		for _, sp := range spans {
			st := in.Timeline.StateAt(horizon, sp.Kind)
			if n := len(segs); n > 0 && segs[n-1].st == st && segs[n-1].end == sp.Start {
				segs[n-1].end = sp.End
			} else {
				segs = append(segs, seg{sp.Start, sp.End, st})
			}
		}
	} else if n := len(segs); n > 0 && segs[n-1].end == horizon {
		// The observation at the horizon says what comes next: a stop it
		// ends is over (a zero-length segment marks the change).
		kind := calendar.Shift
		if in.Calendar != nil {
			if sp := in.Calendar.Spans(horizon, horizon+1); len(sp) == 1 {
				kind = sp[0].Kind
			}
		}
		if st := in.Timeline.StateAt(horizon, kind); st != segs[n-1].st && st != state.Unknown {
			segs = append(segs, seg{horizon, horizon, st})
		}
	}
	var out []Event
	out = append(out, in.downtime(segs, from)...)
	out = append(out, in.outOfShift(segs, lo, from, to)...)
	out = append(out, in.signalLoss(from, live)...)
	out = append(out, in.microStops(segs, from)...)
	out = append(out, in.idleRunning(segs, from)...)
	out = append(out, in.activityDrop(from, min(to, horizon))...)
	for i := range out {
		settle(&out[i])
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Start.Equal(out[j].Start) {
			return out[i].Start.Before(out[j].Start)
		}
		return out[i].Type < out[j].Type
	})
	return out
}

func stateAt(in Input, t int64) state.State {
	segs := segments(in, t, t+1)
	if len(segs) != 1 {
		return state.Unknown
	}
	return segs[0].st
}

// runs groups consecutive segments matching pred into [start, end) runs,
// with how long each matched state lasted.
type run struct {
	start, end int64
	secs       [state.NumStates]int64
	last       bool // the run reaches the end of the segments
}

func group(segs []seg, pred func(seg) bool) []run {
	var out []run
	for i, s := range segs {
		if !pred(s) {
			continue
		}
		if n := len(out); n > 0 && out[n-1].end == s.start {
			out[n-1].end = s.end
		} else {
			out = append(out, run{start: s.start, end: s.end})
		}
		out[len(out)-1].secs[s.st] += s.end - s.start
		out[len(out)-1].last = i == len(segs)-1
	}
	return out
}

// downtime: a stop (down, or idle inside a shift and not planned) lasting at
// least DowntimeMin. It ends when the equipment leaves the stop: it runs or
// sets up, a planned stop begins, no shift follows (no_shift), or a data gap
// begins (unknown). A change between back-to-back shifts does not end it. A
// stop still lasting at the data's end is open.
func (in Input) downtime(segs []seg, from int64) []Event {
	least := int64(in.Settings.DowntimeMin)
	if least <= 0 {
		return nil
	}
	var out []Event
	for _, r := range group(segs, func(s seg) bool { return isStop(s.st) }) {
		if r.end-r.start < least || r.end < from {
			continue
		}
		sev := Warning
		if r.secs[state.Down] > 0 {
			sev = Critical
		}
		var end *int64
		if !r.last {
			e := r.end
			end = &e
		}
		ev := in.event(UnplannedDowntime, sev, r.start, r.start+least, end)
		ev.Evidence["duration_s"] = float64(r.end-r.start) / 1e9
		ev.Evidence["down_s"] = float64(r.secs[state.Down]) / 1e9
		ev.Evidence["idle_s"] = float64(r.secs[state.Idle]) / 1e9
		ev.Evidence["threshold_s"] = float64(least) / 1e9
		ev.Reason = fmt.Sprintf("stopped %s (down %s, idle %s) in shift, threshold %s",
			dur(r.end-r.start), dur(r.secs[state.Down]), dur(r.secs[state.Idle]), dur(least))
		out = append(out, ev)
	}
	return out
}

// outOfShift: running outside every shift for at least OutOfShiftMin.
func (in Input) outOfShift(segs []seg, lo, from, to int64) []Event {
	least := int64(in.Settings.OutOfShiftMin)
	if least <= 0 || in.Calendar == nil || len(in.Calendar.Shifts) == 0 {
		return nil
	}
	spans := in.Calendar.Spans(lo, to)
	// Running pieces that lie outside shifts.
	var pieces []seg
	j := 0
	for _, s := range segs {
		if s.st != state.Running {
			continue
		}
		for j < len(spans) && spans[j].End <= s.start {
			j++
		}
		for k := j; k < len(spans) && spans[k].Start < s.end; k++ {
			if spans[k].Kind == calendar.NoShift {
				a, b := max(s.start, spans[k].Start), min(s.end, spans[k].End)
				if b > a {
					pieces = append(pieces, seg{a, b, state.Running})
				}
			}
		}
	}
	var out []Event
	for _, r := range group(pieces, func(seg) bool { return true }) {
		if r.end-r.start < least || r.end < from {
			continue
		}
		var end *int64
		if r.end < to {
			e := r.end
			end = &e
		}
		ev := in.event(OutOfShiftActivity, Info, r.start, r.start+least, end)
		ev.Evidence["duration_s"] = float64(r.end-r.start) / 1e9
		ev.Evidence["threshold_s"] = float64(least) / 1e9
		ev.Reason = fmt.Sprintf("running %s outside every shift, threshold %s", dur(r.end-r.start), dur(least))
		out = append(out, ev)
	}
	return out
}

// signalLoss: no usable data inside the equipment's data span (a silence
// beyond the timeout, or a range the agent reported lost), and, when live, a
// silence at the live edge longer than the timeout.
func (in Input) signalLoss(from int64, live Live) []Event {
	first, horizon, _ := in.Timeline.Span()
	var out []Event
	for _, r := range in.Timeline.Unknown(first, horizon) {
		if r.End < from || r.Start <= first {
			continue
		}
		e := r.End
		ev := in.event(SignalLoss, Warning, r.Start, r.Start, &e)
		ev.Evidence["duration_s"] = float64(r.End-r.Start) / 1e9
		ev.Reason = fmt.Sprintf("no usable data for %s", dur(r.End-r.Start))
		out = append(out, ev)
	}
	if to := in.Timeline.Timeout; to > 0 && !live.Now.IsZero() && live.Now.UnixNano() > horizon+to {
		ev := in.event(SignalLoss, Warning, horizon+to, horizon+to, nil)
		ev.Evidence["timeout_s"] = float64(to) / 1e9
		ev.Reason = fmt.Sprintf("silent since %s (timeout %s)", time.Unix(0, horizon).In(in.Loc).Format(time.RFC3339), dur(to))
		out = append(out, ev)
	}
	return out
}

// microStops: at least MicroStopBurst stops shorter than MicroStopMax
// starting in one MicroStopWindow (windows are aligned to the Unix epoch, so
// a burst is the same whichever range finds it). The event starts at the
// window's first micro stop.
func (in Input) microStops(segs []seg, from int64) []Event {
	maxLen, n, win := int64(in.Settings.MicroStopMax), in.Settings.MicroStopBurst, int64(in.Settings.MicroStopWindow)
	if maxLen <= 0 || n <= 0 || win <= 0 {
		return nil
	}
	buckets := map[int64][]run{}
	var order []int64
	for _, r := range group(segs, func(s seg) bool { return isStop(s.st) }) {
		if r.end-r.start < maxLen && !r.last {
			b := r.start - ((r.start%win)+win)%win
			if _, ok := buckets[b]; !ok {
				order = append(order, b)
			}
			buckets[b] = append(buckets[b], r)
		}
	}
	var out []Event
	for _, b := range order {
		stops := buckets[b]
		if len(stops) < n || b+win < from {
			continue
		}
		var lost int64
		for _, s := range stops {
			lost += s.end - s.start
		}
		e := stops[len(stops)-1].end
		ev := in.event(MicroStopBurst, Warning, stops[0].start, stops[n-1].end, &e)
		if b+win > e {
			ev.End = nil // the window is not over yet: more stops may join
			if _, h, _ := in.Timeline.Span(); h >= b+win {
				ev.End = &[]time.Time{time.Unix(0, e).In(in.Loc)}[0]
			}
		}
		ev.Evidence["stops"] = float64(len(stops))
		ev.Evidence["lost_s"] = float64(lost) / 1e9
		ev.Evidence["window_s"] = float64(win) / 1e9
		ev.Reason = fmt.Sprintf("%d short stops (under %s) in %s, losing %s", len(stops), dur(maxLen), dur(win), dur(lost))
		out = append(out, ev)
	}
	return out
}

// idleRunning: running for at least IdleRunningMin without the counter
// going up (equipment that reports a counter). It ends at the next increase
// or when the running stretch ends.
func (in Input) idleRunning(segs []seg, from int64) []Event {
	least := int64(in.Settings.IdleRunningMin)
	if least <= 0 || len(in.Timeline.Counts()) == 0 {
		return nil
	}
	var out []Event
	for _, r := range group(segs, func(s seg) bool { return s.st == state.Running }) {
		cuts := append([]int64{r.start}, in.Timeline.Increases(r.start, r.end)...)
		cuts = append(cuts, r.end)
		for i := 0; i+1 < len(cuts); i++ {
			p0, p1 := cuts[i], cuts[i+1]
			if p1-p0 < least || p1 < from {
				continue
			}
			var end *int64
			if !(i+2 == len(cuts) && r.last) {
				e := p1
				end = &e
			}
			ev := in.event(IdleRunning, Warning, p0, p0+least, end)
			ev.Evidence["duration_s"] = float64(p1-p0) / 1e9
			ev.Evidence["threshold_s"] = float64(least) / 1e9
			ev.Reason = fmt.Sprintf("running %s without a counted part, threshold %s", dur(p1-p0), dur(least))
			out = append(out, ev)
		}
	}
	return out
}

// activityDrop: a complete clock hour whose run time fell below
// (1 - ActivityDrop) times the median run time of the same hour of the week
// over the last ActivityWeeks weeks (at least two of them with data, and a
// median of at least 15 minutes).
func (in Input) activityDrop(from, to int64) []Event {
	drop, weeks := in.Settings.ActivityDrop, in.Settings.ActivityWeeks
	if drop <= 0 || weeks <= 0 {
		return nil
	}
	first, _, _ := in.Timeline.Span()
	var out []Event
	for _, h := range activity.Between(activity.Hour, time.Unix(0, from), time.Unix(0, to), in.Loc, nil) {
		if h.End.UnixNano() > to {
			break // only complete hours
		}
		run := in.runIn(h)
		var base []float64
		for k := 1; k <= weeks; k++ {
			p := activity.HourOf(h.Start.AddDate(0, 0, -7*k), in.Loc)
			if p.Start.UnixNano() < first {
				break
			}
			if f := activity.Compute(activity.Equipment{Key: in.Key}, in.Timeline, in.Calendar, p, 0); f.Coverage() >= 0.9 {
				base = append(base, f.RunSeconds())
			}
		}
		if len(base) < 2 {
			continue
		}
		sort.Float64s(base)
		med := base[len(base)/2]
		if len(base)%2 == 0 {
			med = (base[len(base)/2-1] + base[len(base)/2]) / 2
		}
		if med < 900 || run >= (1-drop)*med {
			continue
		}
		end := h.End.UnixNano()
		ev := in.event(ActivityDrop, Info, h.Start.UnixNano(), end, &end)
		ev.Evidence["run_s"] = run
		ev.Evidence["baseline_s"] = med
		ev.Evidence["weeks"] = float64(len(base))
		ev.Reason = fmt.Sprintf("ran %s in the hour from %s; the same hour of the week ran %s (median of %d weeks)",
			dur(int64(run*1e9)), h.Start.Format("Mon 15:04"), dur(int64(med*1e9)), len(base))
		out = append(out, ev)
	}
	return out
}

func (in Input) runIn(p activity.Period) float64 {
	return activity.Compute(activity.Equipment{Key: in.Key}, in.Timeline, in.Calendar, p, 0).RunSeconds()
}

func dur(ns int64) string { return time.Duration(ns).Round(time.Second).String() }
