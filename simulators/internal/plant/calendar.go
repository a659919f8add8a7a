package plant

import (
	"sort"
	"time"
)

// instance is one worked shift of a line: a shift on a local day.
type instance struct {
	shift      int // index into the line's shifts
	start, end time.Time
}

// calendar lists a line's shift instances in start order, generated day by
// day as far as they are asked for. Instances belong to the local day they
// start on; lines that do not work weekends have no instances starting on a
// Saturday or Sunday.
type calendar struct {
	loc     *time.Location
	shifts  [][2]int // start, end in minutes after local midnight
	weekend bool
	inst    []instance
	nextDay time.Time // local midnight of the first day not generated yet
}

// maxShift bounds a shift's length (a day plus a DST hour), so instances
// that can contain t start after t-maxShift.
const maxShift = 25 * time.Hour

func newCalendar(loc *time.Location, shifts [][2]int, weekend bool, from time.Time) *calendar {
	l := from.In(loc)
	first := time.Date(l.Year(), l.Month(), l.Day()-2, 0, 0, 0, 0, loc)
	return &calendar{loc: loc, shifts: shifts, weekend: weekend, nextDay: first}
}

// ensure generates days until instances starting up to t plus two days exist.
func (c *calendar) ensure(t time.Time) {
	limit := t.Add(48 * time.Hour)
	for !c.nextDay.After(limit) {
		d := c.nextDay
		wd := d.Weekday()
		if c.weekend || (wd != time.Saturday && wd != time.Sunday) {
			var day []instance
			for i, s := range c.shifts {
				st := time.Date(d.Year(), d.Month(), d.Day(), s[0]/60, s[0]%60, 0, 0, c.loc)
				ed := d.Day()
				if s[1] <= s[0] {
					ed++
				}
				en := time.Date(d.Year(), d.Month(), ed, s[1]/60, s[1]%60, 0, 0, c.loc)
				if en.After(st) {
					day = append(day, instance{shift: i, start: st, end: en})
				}
			}
			sort.SliceStable(day, func(i, j int) bool { return day[i].start.Before(day[j].start) })
			c.inst = append(c.inst, day...)
		}
		c.nextDay = time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, c.loc)
	}
}

// at returns the instance with index i, generating days as needed.
func (c *calendar) at(i int) instance {
	for i >= len(c.inst) {
		c.ensure(c.nextDay)
	}
	return c.inst[i]
}

// coveringEnd returns the latest end of the instances containing t, and
// whether any does.
func (c *calendar) coveringEnd(t time.Time) (time.Time, bool) {
	c.ensure(t)
	i := sort.Search(len(c.inst), func(i int) bool { return c.inst[i].start.After(t) })
	var end time.Time
	ok := false
	for j := i - 1; j >= 0 && c.inst[j].start.After(t.Add(-maxShift)); j-- {
		if c.inst[j].end.After(t) && c.inst[j].end.After(end) {
			end, ok = c.inst[j].end, true
		}
	}
	return end, ok
}

// covered reports whether some shift instance contains t.
func (c *calendar) covered(t time.Time) bool {
	_, ok := c.coveringEnd(t)
	return ok
}

// workEnd returns when the contiguous work starting at t (covered) ends, or
// limit if work continues until then.
func (c *calendar) workEnd(t, limit time.Time) time.Time {
	e, ok := c.coveringEnd(t)
	if !ok {
		return t
	}
	for e.Before(limit) {
		n, ok := c.coveringEnd(e)
		if !ok {
			return e
		}
		e = n
	}
	return limit
}

// nextStart returns the first instance start after t.
func (c *calendar) nextStart(t time.Time) time.Time {
	c.ensure(t)
	for {
		i := sort.Search(len(c.inst), func(i int) bool { return c.inst[i].start.After(t) })
		if i < len(c.inst) {
			return c.inst[i].start
		}
		c.ensure(c.nextDay)
	}
}

// onDuty returns the line shift (index into the line's shifts) of the
// instance on duty at t: of those containing t, the earliest started.
func (c *calendar) onDuty(t time.Time) (int, bool) {
	c.ensure(t)
	i := sort.Search(len(c.inst), func(i int) bool { return c.inst[i].start.After(t) })
	shift, ok := 0, false
	for j := i - 1; j >= 0 && c.inst[j].start.After(t.Add(-maxShift)); j-- {
		if c.inst[j].end.After(t) {
			shift, ok = c.inst[j].shift, true
		}
	}
	return shift, ok
}

// cuts appends to out the instance starts and ends strictly inside (a, b).
func (c *calendar) cuts(a, b time.Time, out []time.Time) []time.Time {
	c.ensure(b)
	from := a.Add(-maxShift)
	i := sort.Search(len(c.inst), func(i int) bool { return c.inst[i].start.After(from) })
	for ; i < len(c.inst) && c.inst[i].start.Before(b); i++ {
		for _, x := range []time.Time{c.inst[i].start, c.inst[i].end} {
			if x.After(a) && x.Before(b) {
				out = append(out, x)
			}
		}
	}
	return out
}
