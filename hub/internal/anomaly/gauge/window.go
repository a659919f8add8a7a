package gauge

import (
	"math"
	"sort"
)

// window is the baseline of one feature: the capacity values that came
// before the last lag values. The baseline is held both in arrival order (a
// ring) and sorted, so that quantiles cost O(1) and tail means O(tail); the
// lag values wait in a delay line, so that the baseline an anomaly is scored
// against does not yet hold the anomaly's own first samples. It holds finite
// values only.
type window struct {
	ring   []float64 // baseline, len == capacity; valid entries: n
	next   int       // ring index the next value goes to
	n      int
	sorted []float64
	delay  []float64 // the last lag values, oldest first
	lag    int
}

func newWindow(capacity, lag int) window {
	return window{
		ring:   make([]float64, capacity),
		sorted: make([]float64, 0, capacity),
		delay:  make([]float64, 0, lag),
		lag:    lag,
	}
}

// push adds v to the delay line; the value leaving the delay line joins the
// baseline, which drops its oldest value when full.
func (w *window) push(v float64) {
	if w.lag > 0 {
		if len(w.delay) < w.lag {
			w.delay = append(w.delay, v)
			return
		}
		out := w.delay[0]
		copy(w.delay, w.delay[1:])
		w.delay[w.lag-1] = v
		v = out
	}
	w.admit(v)
}

// admit adds v to the baseline.
func (w *window) admit(v float64) {
	if w.n == len(w.ring) {
		old := w.ring[w.next]
		i := sort.SearchFloat64s(w.sorted, old)
		copy(w.sorted[i:], w.sorted[i+1:])
		w.sorted = w.sorted[:len(w.sorted)-1]
	} else {
		w.n++
	}
	w.ring[w.next] = v
	w.next = (w.next + 1) % len(w.ring)
	i := sort.SearchFloat64s(w.sorted, v)
	w.sorted = append(w.sorted, 0)
	copy(w.sorted[i+1:], w.sorted[i:])
	w.sorted[i] = v
}

// values returns the baseline and then the delay line, oldest first:
// pushing them in this order into an empty window rebuilds this one.
func (w *window) values() []float64 {
	out := make([]float64, 0, w.n+len(w.delay))
	start := (w.next - w.n + len(w.ring)) % len(w.ring)
	for k := 0; k < w.n; k++ {
		out = append(out, w.ring[(start+k)%len(w.ring)])
	}
	return append(out, w.delay...)
}

// quantile returns the p-quantile (0 <= p <= 1) by linear interpolation
// between order statistics. The window must not be empty.
func (w *window) quantile(p float64) float64 {
	s := w.sorted
	pos := p * float64(len(s)-1)
	i := int(math.Floor(pos))
	if i >= len(s)-1 {
		return s[len(s)-1]
	}
	f := pos - float64(i)
	return s[i] + f*(s[i+1]-s[i])
}

// excessAbove returns the mean of v-u over held values v > u.
func (w *window) excessAbove(u float64) float64 {
	s := w.sorted
	i := sort.Search(len(s), func(k int) bool { return s[k] > u })
	if i == len(s) {
		return 0
	}
	sum := 0.0
	for _, v := range s[i:] {
		sum += v - u
	}
	return sum / float64(len(s)-i)
}

// excessBelow returns the mean of u-v over held values v < u.
func (w *window) excessBelow(u float64) float64 {
	s := w.sorted
	i := sort.SearchFloat64s(s, u) // first index with s[i] >= u
	if i == 0 {
		return 0
	}
	sum := 0.0
	for _, v := range s[:i] {
		sum += u - v
	}
	return sum / float64(i)
}

// countAtMost returns how many held values are <= u.
func (w *window) countAtMost(u float64) int {
	s := w.sorted
	return sort.Search(len(s), func(k int) bool { return s[k] > u })
}
