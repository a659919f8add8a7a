// Package plant is the simulator's pure core: a seeded, deterministic model
// of a shop floor that turns a configuration, a seed and start times into the
// stream of signal events its machines publish, and into the ground truth of
// what happened.
//
// What always holds: the same configuration, seed and start times give the
// same events; events come in time order, every time truncated to the
// millisecond; a machine's first events are all its signals at its start
// (the initial sample) and Final gives all of them again at the end; the
// Truth is computed from exactly the emitted events and the lines' shifts.
// Injected faults and planned stops only change what a machine reports while
// they last; the generator goes on underneath, so without them the events are
// the same. Days and months are cut in the plant's time zone. The package
// does no I/O and never reads the clock.
package plant

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/floorpulse/floorpulse/pkg/signal"
)

// Power is the name of the machines' power gauge (kW).
const Power = "power"

// Event is one published value of one signal of one machine.
type Event struct {
	Time      time.Time
	Line      string
	Equipment string
	Source    string // SourceMQTT or SourceOPCUA
	Name      string
	Value     signal.Value
}

// Machine names a simulated machine.
type Machine struct {
	Line, Equipment, Class, Source string
}

// Plant generates the events of every machine in time order.
type Plant struct {
	cfg      Config
	loc      *time.Location
	lines    []*line
	machines []*machine
	pending  []Event // initial samples not yet returned, per start time
	ended    bool
	end      time.Time
	opMonths map[string]map[string]float64
	sessions map[string][]Session
	opLine   map[string]*line
	faults   []injected
	stops    []injected
}

// New builds the plant. Machines of MQTT lines start at start, machines of
// OPC UA lines at liveStart (they are only served live). cfg must be valid.
func New(cfg Config, start, liveStart time.Time) (*Plant, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	loc, err := time.LoadLocation(cfg.Timezone)
	if err != nil {
		return nil, err
	}
	start, liveStart = start.Truncate(time.Millisecond), liveStart.Truncate(time.Millisecond)
	p := &Plant{cfg: cfg, loc: loc, opMonths: map[string]map[string]float64{}, sessions: map[string][]Session{}, opLine: map[string]*line{}}
	shiftIdx := map[string]int{}
	for i, s := range cfg.Shifts {
		shiftIdx[s.Name] = i
	}
	opN, global := 0, 0
	for li, lc := range cfg.Lines {
		lc = lc.withDefaults()
		ls := lc.Shifts
		var shifts [][2]int
		for _, name := range ls {
			s := cfg.Shifts[shiftIdx[name]]
			a, _ := parseClock(s.Start)
			b, _ := parseClock(s.End)
			shifts = append(shifts, [2]int{a, b})
		}
		st := start
		if lc.Source == SourceOPCUA {
			st = liveStart
		}
		l := &line{cfg: lc, idx: li, source: lc.Source, start: st, seed: cfg.Seed, sample: cfg.SampleInterval,
			cal: newCalendar(loc, shifts, lc.Weekend, st.Add(-48*time.Hour)), ops: make([][]string, len(shifts))}
		for i := 0; i < lc.Operators; i++ {
			opN++
			op := fmt.Sprintf("op%02d", opN)
			l.ops[i%len(shifts)] = append(l.ops[i%len(shifts)], op)
			l.all = append(l.all, op)
			p.opMonths[op] = map[string]float64{}
			p.opLine[op] = l
		}
		// Skip the instances that end long before the warm-up starts.
		for l.cal.at(l.nextIns).end.Before(st.Add(-48 * time.Hour)) {
			l.nextIns++
		}
		for mi := 0; mi < lc.Machines; mi++ {
			m := newMachine(l, mi, global, cfg.Seed)
			if cfg.Degradation != nil {
				m.wear = newWear(*cfg.Degradation, cfg.Seed, lc.Name, m.name, loc, st.Add(-48*time.Hour))
			}
			global++
			l.machines = append(l.machines, m)
		}
		for _, m := range l.machines {
			m.initGen(st.Add(-48 * time.Hour))
		}
		p.lines = append(p.lines, l)
		p.machines = append(p.machines, l.machines...)
	}
	p.inject(liveStart)
	for _, m := range p.machines {
		m.warmUp(p, m.line.start)
	}
	return p, nil
}

func newMachine(l *line, idx, global int, seed int64) *machine {
	name := fmt.Sprintf("M%02d", idx+1)
	r := rand.New(rand.NewPCG(uint64(seed), hash(l.cfg.Name, name)))
	m := &machine{line: l, name: name, r: r, seed: seed,
		// Alarm codes come from their own stream, so the behaviour drawn
		// from r is what it was before machines raised alarms.
		alarmR: rand.New(rand.NewPCG(uint64(seed), hash(l.cfg.Name, name, signal.Alarm)))}
	// A machine's utilization: most are busy, some moderately, a few rarely
	// run (well under 80 h a month).
	run := float64(l.cfg.MeanRun)
	switch global % 5 {
	case 2:
		f := 0.07 + 0.08*r.Float64()
		m.idleMean = time.Duration(run * (1 - f) / f)
	case 4:
		f := 0.3 + 0.15*r.Float64()
		m.idleMean = time.Duration(run * (1 - f) / f)
	default:
		m.idleMean = time.Duration(float64(l.cfg.MeanIdle) * (0.7 + 0.8*r.Float64()))
	}
	m.idleMean = max(m.idleMean.Truncate(time.Millisecond), time.Millisecond)
	_ = r.IntN(160) // once the cycle time; kept so later draws stay as they were
	m.kw = 5 + float64(r.IntN(40))
	m.base = float64(r.IntN(100000))
	m.production(global, seed)
	return m
}

// warmUp runs the generator up to start without emitting, then makes the
// initial sample pending.
func (m *machine) warmUp(p *Plant, start time.Time) {
	for !m.peek().After(start) {
		m.step(m.peek())
	}
	m.started = true
	m.nextSample = start.Add(m.line.sample)
	m.acct = newAccount(p.loc, m.line, m.name, start, p.opMonths, p.sessions)
	m.drawKW, m.drawFrom = m.power(start), start
	m.publish(start)
	p.pending = append(p.pending, m.all(start)...)
}

// Machines lists the plant's machines in configuration order.
func (p *Plant) Machines() []Machine {
	var out []Machine
	for _, m := range p.machines {
		out = append(out, Machine{Line: m.line.cfg.Name, Equipment: m.name, Class: m.line.cfg.Class, Source: m.line.source})
	}
	return out
}

// Peek returns the time of the next events.
func (p *Plant) Peek() time.Time {
	if len(p.pending) > 0 {
		t := p.pending[0].Time
		for _, e := range p.pending {
			if e.Time.Before(t) {
				t = e.Time
			}
		}
		if t2, _ := p.nextMachine(); !t2.Before(t) {
			return t
		}
	}
	t, _ := p.nextMachine()
	return t
}

func (p *Plant) nextMachine() (time.Time, *machine) {
	var best *machine
	var bt time.Time
	for _, m := range p.machines {
		if t := m.peek(); best == nil || t.Before(bt) {
			best, bt = m, t
		}
	}
	return bt, best
}

// Next returns the next events, all of one time (possibly none).
func (p *Plant) Next() []Event {
	if p.ended {
		return nil
	}
	t := p.Peek()
	var out []Event
	if len(p.pending) > 0 {
		rest := p.pending[:0:0]
		for _, e := range p.pending {
			if e.Time.Equal(t) {
				out = append(out, e)
			} else {
				rest = append(rest, e)
			}
		}
		p.pending = rest
		if len(out) > 0 {
			return out
		}
	}
	mt, m := p.nextMachine()
	return m.step(mt)
}

// Final ends the simulation at end: it processes what is due up to end and
// returns every signal of every started machine at end (the final sample).
// The caller must have taken every event before end from Next.
func (p *Plant) Final(end time.Time) []Event {
	end = end.Truncate(time.Millisecond)
	for !p.Peek().After(end) {
		p.Next()
	}
	p.ended, p.end = true, end
	var out []Event
	for _, m := range p.machines {
		if m.line.start.After(end) {
			continue
		}
		m.publish(end)
		m.acct.finish(end)
		out = append(out, m.all(end)...)
	}
	return out
}

// Truth returns the ground truth; Final must have been called.
func (p *Plant) Truth() Truth {
	t := Truth{Site: p.cfg.Site, Timezone: p.cfg.Timezone, Equipment: []EquipmentTruth{}, Operators: []OperatorTruth{}}
	t.Faults, t.PlannedStops = p.injectedTruth()
	t.Breakdowns = p.breakdownTruth()
	for _, m := range p.machines {
		if m.line.start.After(p.end) {
			continue
		}
		days, months := periods(m.line.start, p.end, p.loc)
		e := EquipmentTruth{Line: m.line.cfg.Name, Equipment: m.name, Class: m.line.cfg.Class, Source: m.line.source,
			Start: m.line.start.UTC(), End: p.end.UTC(), Months: map[string]PeriodTruth{}, Days: map[string]PeriodTruth{},
			IdealCycleMs: m.ideal.Milliseconds(), EnergyMeter: m.meter}
		for _, d := range days {
			e.Days[d] = period(m.acct.days[d], m.acct.daySt[d], dayLength(d, p.loc))
		}
		for _, mo := range months {
			pt := period(m.acct.months[mo], m.acct.monthSt[mo], monthLength(mo, p.loc))
			pt.DownByAlarm = m.acct.monthAlarm[mo]
			pt.Production = m.productionTruth(mo, pt.States)
			if pt.DownByAlarm == nil {
				pt.DownByAlarm = map[string]int64{}
			}
			e.Months[mo] = pt
		}
		t.Equipment = append(t.Equipment, e)
	}
	var ops []string
	for op := range p.opMonths {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	for _, op := range ops {
		l := p.opLine[op]
		if l.start.After(p.end) {
			continue
		}
		o := OperatorTruth{Operator: op, Sessions: append([]Session{}, p.sessions[op]...), Months: map[string]RunSeconds{}}
		sortSessions(o.Sessions)
		_, months := periods(l.start, p.end, p.loc)
		for _, mo := range months {
			o.Months[mo] = RunSeconds{p.opMonths[op][mo] / 1000}
		}
		t.Operators = append(t.Operators, o)
	}
	return t
}

// hash mixes strings into a seed.
func hash(parts ...string) uint64 {
	h := fnv.New64a()
	for _, s := range parts {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return h.Sum64()
}
