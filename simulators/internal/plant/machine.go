package plant

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/floorpulse/floorpulse/pkg/signal"
)

// States a machine reports in its state signal.
const (
	Running = "running"
	Idle    = "idle"
	Setup   = "setup"
	Down    = "down"
)

// machine generates one machine's behaviour. During its line's shifts it
// cycles idle -> running -> idle/setup -> ...; a run may end in a breakdown,
// whose repair goes on regardless of shifts. Outside shifts it is idle (not
// running) unless it is still down. An injected fault or planned stop holds
// the reported state (down or idle) while the generator goes on underneath;
// when it ends the machine reports the generator's state again.
type machine struct {
	line *line
	name string
	r    *rand.Rand
	seed int64

	// behaviour
	idleMean time.Duration
	cycle    time.Duration // real cycle time per part made (production.go)
	kw       float64       // power while running
	base     float64       // counter value at the generator's start

	// production and energy (production.go)
	ideal     time.Duration // ideal cycle time per part
	perf      float64       // performance factor: ideal over real cycle time
	scrapRate float64       // share of the parts made that are scrap
	meter     bool          // the machine has an energy meter
	meterKWh  float64       // the meter's reading (since its last restart)
	drawKW    float64       // power drawn: the value published last
	drawFrom  time.Time     // when it was published
	scrapBase float64       // scrap made when the scrap counter last restarted

	// generator state
	st       string
	on       bool      // within a shift
	phaseEnd time.Time // next transition
	cut      bool      // the phase ends because the shift ends
	after    string    // state after the phase when not cut
	runMs    int64     // reported running time since the generator's start, up to runFrom
	runFrom  time.Time // start of the current run when reported running
	runOn    bool      // reported running

	// injected faults and planned stops
	forces []force
	bnds   []time.Time // their starts and ends, sorted, unique
	nb     int         // next boundary not yet passed
	forced string      // state forced now; empty: none

	// operators
	opq []opChange
	ops []string // logged in, sorted

	// emission
	started    bool
	nextSample time.Time
	pubState   string
	pubRun     bool
	pubOps     string
	pubAlarm   string // the alarm code published; empty: none
	acct       *account

	alarmR *rand.Rand // draws alarm codes

	wear *wear // degradation; nil without
}

// alarmCodes are the codes a machine of a class raises when it breaks
// down (defaultAlarms for other classes).
var (
	alarmCodes = map[string][]string{
		"cnc":      {"E101", "E205", "E330", "E412"},
		"press":    {"P12", "P17", "P40"},
		"assembly": {"A3", "A7", "A9"},
	}
	defaultAlarms = []string{"F1", "F2", "F3"}
)

// alarmFor is the alarm code while the machine reports st: none unless it
// is down; a down stretch keeps the code drawn when it began.
func (m *machine) alarmFor(st string) string {
	if st != Down {
		return ""
	}
	if m.pubAlarm != "" {
		return m.pubAlarm
	}
	codes, ok := alarmCodes[m.line.cfg.Class]
	if !ok {
		codes = defaultAlarms
	}
	return codes[m.alarmR.IntN(len(codes))]
}

func (m *machine) dur(mean time.Duration, lo, hi float64) time.Duration {
	d := time.Duration(float64(mean) * (lo + (hi-lo)*m.r.Float64())).Truncate(time.Millisecond)
	return max(d, time.Millisecond)
}

// startIdle is the idle time at the start of a shift or after a repair;
// rarely used machines often stay idle much longer.
func (m *machine) startIdle() time.Duration {
	if m.idleMean > 2*m.line.cfg.MeanIdle {
		return m.dur(m.idleMean, 0.05, 1.2)
	}
	return m.dur(m.line.cfg.MeanIdle, 0.1, 0.6)
}

// initGen starts the generator at t.
func (m *machine) initGen(t time.Time) {
	if m.line.cal.covered(t) {
		m.on = true
		m.beginPhase(t, Idle, m.startIdle(), Running)
		return
	}
	m.goOff(t)
}

func (m *machine) goOff(t time.Time) {
	m.setState(t, Idle)
	m.on, m.cut = false, false
	m.phaseEnd = m.line.cal.nextStart(t)
}

func (m *machine) setState(t time.Time, st string) {
	m.st = st
	m.syncRun(t)
}

// eff is the state the machine reports: the forced one, if any, else the
// generator's.
func (m *machine) eff() string {
	if m.forced != "" {
		return m.forced
	}
	return m.st
}

// syncRun keeps the reported running time (which drives the counter) up to
// date after the reported state may have changed at t.
func (m *machine) syncRun(t time.Time) {
	if m.wear != nil {
		m.foldParts(t)
	}
	run := m.eff() == Running
	if m.runOn && !run {
		m.runMs += t.Sub(m.runFrom).Milliseconds()
	}
	if run && !m.runOn {
		m.runFrom = t
	}
	m.runOn = run
}

// beginPhase enters state st at t for d (cut short by the end of the shift),
// then after.
func (m *machine) beginPhase(t time.Time, st string, d time.Duration, after string) {
	m.setState(t, st)
	sched := t.Add(d)
	end := m.line.cal.workEnd(t, sched)
	m.phaseEnd, m.cut, m.after = end, end.Before(sched), after
}

func (m *machine) beginRun(t time.Time) {
	d := m.dur(m.line.cfg.MeanRun, 0.5, 1.5)
	rate := *m.line.cfg.BreakdownsPerDay
	if rate > 0 && m.r.Float64() < 1-math.Exp(-rate*d.Hours()/24) {
		at := time.Duration(float64(d) * m.r.Float64()).Truncate(time.Millisecond)
		m.runPhase(t, max(at, time.Millisecond), Down)
		return
	}
	next := Idle
	if m.r.Float64() < 0.15 {
		next = Setup
	}
	m.runPhase(t, d, next)
}

// runPhase runs for d, then after; with degradation a due breakdown or a
// micro-stop may end the run sooner.
func (m *machine) runPhase(t time.Time, d time.Duration, after string) {
	if m.wear != nil {
		if b, ok := m.wear.startRun(); ok && b < d {
			d, after = b, Down
		}
		if u, ok := m.wear.microStop(t, d); ok {
			d, after = u, microStop
		}
	}
	m.beginPhase(t, Running, d, after)
}

// microStop is the phase after a run that a micro-stop interrupts.
const microStop = "micro_stop"

// advance makes the transition due at phaseEnd.
func (m *machine) advance() {
	t := m.phaseEnd
	cfg := m.line.cfg
	switch {
	case m.st == Down: // repaired
		if m.line.cal.covered(t) {
			m.on = true
			m.beginPhase(t, Idle, m.startIdle(), Running)
		} else {
			m.goOff(t)
		}
	case !m.on: // a shift starts
		m.on = true
		m.beginPhase(t, Idle, m.startIdle(), Running)
	case m.cut: // the shift ended
		m.goOff(t)
	case m.after == Down:
		m.setState(t, Down)
		mean := float64(cfg.MeanRepair)
		d := time.Duration(mean * math.Min(4, math.Max(0.25, -math.Log(1-m.r.Float64())))).Truncate(time.Millisecond)
		m.phaseEnd, m.cut = t.Add(max(d, time.Millisecond)), false
		if m.wear != nil {
			m.wear.down(m.line, m.name, t, m.phaseEnd)
		}
	case m.after == microStop:
		m.beginPhase(t, Idle, m.wear.microLen(), Running)
	case m.after == Running:
		m.beginRun(t)
	case m.after == Setup:
		m.beginPhase(t, Setup, m.dur(cfg.MeanSetup, 0.5, 1.5), Running)
	default: // idle
		next := Running
		if m.r.Float64() < 0.1 {
			next = Setup
		}
		m.beginPhase(t, Idle, m.dur(m.idleMean, 0.5, 1.5), next)
	}
}

// nextOp returns the time of the machine's next operator change.
func (m *machine) nextOp() time.Time {
	for len(m.opq) == 0 || !m.opq[0].t.Before(m.line.horizon()) {
		m.line.planNext()
	}
	return m.opq[0].t
}

// applyOps applies the operator changes at t.
func (m *machine) applyOps(t time.Time) {
	for m.nextOp().Equal(t) {
		c := m.opq[0]
		m.opq = m.opq[1:]
		i, found := slices.BinarySearch(m.ops, c.op)
		switch {
		case c.in && !found:
			m.ops = slices.Insert(m.ops, i, c.op)
		case !c.in && found:
			m.ops = slices.Delete(m.ops, i, i+1)
		}
	}
}

// peek returns the time of the machine's next batch of events.
func (m *machine) peek() time.Time {
	t := m.phaseEnd
	if o := m.nextOp(); o.Before(t) {
		t = o
	}
	if m.started && m.nextSample.Before(t) {
		t = m.nextSample
	}
	if m.nb < len(m.bnds) && m.bnds[m.nb].Before(t) {
		t = m.bnds[m.nb]
	}
	if m.wear != nil && m.wear.next().Before(t) {
		t = m.wear.next()
	}
	return t
}

// step processes everything due at t = peek() and returns the events to publish.
func (m *machine) step(t time.Time) []Event {
	if m.wear != nil && !m.wear.next().After(t) {
		m.due(t)
	}
	for !m.phaseEnd.After(t) {
		m.advance()
	}
	if m.nb < len(m.bnds) && !m.bnds[m.nb].After(t) {
		for m.nb < len(m.bnds) && !m.bnds[m.nb].After(t) {
			m.nb++
		}
		m.forced = forcedAt(m.forces, t)
		m.syncRun(t)
	}
	if m.nextOp().Equal(t) {
		m.applyOps(t)
	}
	if !m.started {
		return nil
	}
	var evs []Event
	st := m.eff()
	run := st == Running
	sample := m.nextSample.Equal(t)
	if st != m.pubState {
		evs = append(evs, m.event(t, signal.State, signal.String(st)))
		if run != m.pubRun {
			evs = append(evs, m.event(t, signal.Run, signal.Bool(run)))
		}
	}
	if st != m.pubState || sample {
		evs = append(evs, m.meters(t)...)
	}
	if sample {
		evs = append(evs, m.gauges(t)...)
		m.nextSample = m.nextSample.Add(m.line.sample)
	}
	if ops := strings.Join(m.ops, ","); ops != m.pubOps {
		evs = append(evs, m.event(t, signal.Operator, signal.String(ops)))
	}
	alarm := m.pubAlarm
	m.publish(t)
	if m.pubAlarm != alarm {
		evs = append(evs, m.event(t, signal.Alarm, signal.String(m.pubAlarm)))
	}
	return evs
}

// all returns every signal of the machine at t (initial and final samples).
func (m *machine) all(t time.Time) []Event {
	st := m.eff()
	evs := []Event{
		m.event(t, signal.State, signal.String(st)),
		m.event(t, signal.Run, signal.Bool(st == Running)),
	}
	evs = append(evs, m.meters(t)...)
	return append(append(evs,
		m.event(t, signal.Operator, signal.String(strings.Join(m.ops, ","))),
		m.event(t, signal.Alarm, signal.String(m.pubAlarm)),
	), m.gauges(t)...)
}

// publish records the published values at t, after accounting up to t.
func (m *machine) publish(t time.Time) {
	st := m.eff()
	alarm := m.alarmFor(st)
	m.acct.observe(t, st, m.ops, alarm, m.drawKW)
	m.pubState, m.pubRun, m.pubOps, m.pubAlarm = st, st == Running, strings.Join(m.ops, ","), alarm
}

func (m *machine) event(t time.Time, name string, v signal.Value) Event {
	return Event{Time: t, Line: m.line.cfg.Name, Equipment: m.name, Source: m.line.source, Name: name, Value: v}
}

// power is the machine's power draw in kW at t: a level by state with noise
// that depends only on the machine and t.
func (m *machine) power(t time.Time) float64 {
	level := 0.06
	switch st := m.eff(); {
	case st == Running:
		level = 1
	case st == Setup:
		level = 0.3
	case st == Down:
		level = 0.04
	case m.on:
		level = 0.18
	}
	n := float64(hash(m.line.cfg.Name, m.name, t.UTC().Format(time.RFC3339Nano))^uint64(m.seed)) / float64(math.MaxUint64)
	return math.Round(m.kw*level*(0.92+0.16*n)*100) / 100
}
