package gauge

import "math"

// extremes are the smallest and largest values a quantity has taken since it
// was first tracked: the gauge's own all-time range, or a feature's. Unlike
// the baselines they never forget, so they tell a new extreme (a value the
// gauge has never shown) from a repeat of an old one.
type extremes struct {
	lo, hi float64
	seen   bool
}

func (x *extremes) add(v float64) {
	if !x.seen {
		x.lo, x.hi, x.seen = v, v, true
		return
	}
	x.lo = math.Min(x.lo, v)
	x.hi = math.Max(x.hi, v)
}

// within reports whether v lies inside the range (ends included); a range
// not yet seen holds nothing.
func (x *extremes) within(v float64, twoSided bool) bool {
	if !x.seen {
		return false
	}
	return v <= x.hi && (!twoSided || v >= x.lo)
}

// beyond returns by how much v lies outside the range, as a fraction of the
// range's width (0 inside it, or when the range has no width).
func (x *extremes) beyond(v float64) float64 {
	span := x.hi - x.lo
	if !x.seen || !(span > 0) {
		return 0
	}
	return math.Max(0, math.Max(v-x.hi, x.lo-v)/span)
}
