package plant

import (
	"math/rand/v2"
	"sort"
	"time"
)

// line is the runtime of one configured line: its calendar, machines and the
// operators' shift attendance, generated shift by shift.
type line struct {
	cfg      Line
	idx      int
	source   string
	start    time.Time
	cal      *calendar
	machines []*machine
	// ops[s] are the operators of the line's shift s.
	ops     [][]string
	all     []string
	seed    int64
	sample  time.Duration
	nextIns int      // next calendar instance whose logins are not generated yet
	stops   []window // injected planned stops, by start
}

// inStop reports whether t is inside one of the line's planned stops.
func (l *line) inStop(t time.Time) bool {
	for _, w := range l.stops {
		if !w.start.After(t) && w.end.After(t) {
			return true
		}
	}
	return false
}

// opChange is an operator logging in (in) or out at a machine.
type opChange struct {
	t  time.Time
	op string
	in bool
}

// horizon is the time before which every operator change of the line is known.
func (l *line) horizon() time.Time { return l.cal.at(l.nextIns).start }

// planNext generates the logins and logouts of the next shift instance: who
// of the shift's operators came that day, and at which machines they log in.
// Most machines get one operator; spare operators share a machine, and when
// operators are short one operator covers two machines.
func (l *line) planNext() {
	ins := l.cal.at(l.nextIns)
	l.nextIns++
	team := l.ops[ins.shift]
	if len(team) == 0 {
		return
	}
	r := rand.New(rand.NewPCG(uint64(l.seed), hash(l.cfg.Name, "shift", ins.start.UTC().Format(time.RFC3339))))
	var present []string
	for _, op := range team {
		if r.Float64() >= 0.08 { // absent for the day otherwise
			present = append(present, op)
		}
	}
	if len(present) == 0 {
		return
	}
	r.Shuffle(len(present), func(i, j int) { present[i], present[j] = present[j], present[i] })
	n := len(l.machines)
	order := r.Perm(n)
	assign := make([][]string, n)
	k := len(present)
	for i := 0; i < min(k, n); i++ {
		assign[order[i]] = append(assign[order[i]], present[i])
	}
	for i := n; i < k; i++ { // more operators than machines: some share one
		m := order[r.IntN(n)]
		assign[m] = append(assign[m], present[i])
	}
	for i := k; i < n; i++ { // fewer operators: some cover a second machine
		if r.Float64() < 0.75 {
			assign[order[i]] = append(assign[order[i]], present[(i-k)%k])
		}
	}
	length := ins.end.Sub(ins.start)
	loginJitter := min(10*time.Minute, length/8)
	logoutJitter := min(5*time.Minute, length/16)
	login := map[string]time.Time{}
	logout := map[string]time.Time{}
	for _, op := range present {
		login[op] = ins.start.Add(jitter(r, loginJitter))
		logout[op] = ins.end.Add(-jitter(r, logoutJitter))
	}
	for mi, ops := range assign {
		m := l.machines[mi]
		for _, op := range ops {
			m.opq = append(m.opq, opChange{t: login[op], op: op, in: true}, opChange{t: logout[op], op: op})
		}
		sort.SliceStable(m.opq, func(i, j int) bool { return m.opq[i].t.Before(m.opq[j].t) })
	}
}

// jitter returns a random duration in [0, max), whole milliseconds.
func jitter(r *rand.Rand, max time.Duration) time.Duration {
	if max < time.Millisecond {
		return 0
	}
	return time.Duration(r.Int64N(int64(max/time.Millisecond))) * time.Millisecond
}
