package activity

import "time"

// Interval is when an equipment is in service: [From, Until), a zero bound
// open (in service since ever, or still in service).
type Interval struct {
	From, Until time.Time
}

// Open reports whether the interval has no bound: always in service.
func (i Interval) Open() bool { return i.From.IsZero() && i.Until.IsZero() }

// Clip returns the part of the period the equipment is in service, as
// [from, to); ok is false when the interval does not overlap the period.
func (i Interval) Clip(p Period) (from, to time.Time, ok bool) {
	from, to = p.Start, p.End
	if !i.From.IsZero() && i.From.After(from) {
		from = i.From
	}
	if !i.Until.IsZero() && i.Until.Before(to) {
		to = i.Until
	}
	return from, to, to.After(from)
}

// InPeriod is the equipment as it counts in period p: its registration holds
// only while its in-service interval overlaps the period (outside it the
// equipment is treated as missing from the registry: figures of its own,
// left out of the rates).
func (eq Equipment) InPeriod(p Period) Equipment {
	if eq.Registered && !eq.InService.Open() {
		if _, _, ok := eq.InService.Clip(p); !ok {
			eq.Registered = false
		}
	}
	return eq
}

// ServicePeriod is the part of p a registered equipment is in service: p
// itself for equipment always in service or not registered; ok is false
// when it is not in service at all in p. Operator figures count a machine's
// run time only there.
func (eq Equipment) ServicePeriod(p Period) (Period, bool) {
	if !eq.Registered || eq.InService.Open() {
		return p, true
	}
	from, to, ok := eq.InService.Clip(p)
	if !ok {
		return p, false
	}
	p.Start, p.End = from, to
	return p, true
}
