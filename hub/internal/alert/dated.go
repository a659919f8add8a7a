package alert

import (
	"sync/atomic"
	"time"
)

// DatedKey names one shift of one line on one date: the plant-local date
// of the shift's start (a night shift belongs to the day it begins).
type DatedKey struct {
	Date  string // YYYY-MM-DD
	Line  string
	Shift string
}

// Dated is a roster by date (imported master data): who leads a given
// shift of a line on a given date. It goes before the roster by line and
// shift, and is replaced as a whole at run time, safe for concurrent use.
type Dated struct {
	m atomic.Pointer[map[DatedKey][]string]
}

// Set replaces the dated roster.
func (d *Dated) Set(m map[DatedKey][]string) { d.m.Store(&m) }

// lookup returns the leaders of a dated shift; false when none are set.
func (d *Dated) lookup(k DatedKey) ([]string, bool) {
	if d == nil {
		return nil, false
	}
	m := d.m.Load()
	if m == nil {
		return nil, false
	}
	p, ok := (*m)[k]
	return p, ok && len(p) > 0
}

// LeadersOn returns the people leading a line's shift that started at
// start: the dated roster's entry for its date, else Leaders.
func (r Roster) LeadersOn(line, shift string, start time.Time) []string {
	if shift != "" && !start.IsZero() {
		if p, ok := r.Dated.lookup(DatedKey{Date: start.Format("2006-01-02"), Line: line, Shift: shift}); ok {
			return p
		}
	}
	return r.Leaders(line, shift)
}
