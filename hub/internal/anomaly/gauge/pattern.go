package gauge

// pattern remembers the recent shapes of the signal, to tell a familiar
// excursion (one the gauge has made before: a daily cycle's edge, a spike of
// a kind it often has) from a new one. Each sample is given a level by its
// rank in the level baseline: levels+1 for a value above the baseline's
// maximum, 0 below its minimum, and 1..levels between, by equal shares of the
// baseline. The last word levels, as one number in base levels+2, are the
// current pattern; the memory holds the patterns of the last memory samples,
// with a count of each.
type pattern struct {
	levels, word int
	base         uint64 // levels + 2
	mod          uint64 // base^word
	cur          uint64 // the current pattern
	have         int    // levels in cur, at most word
	ring         []uint64
	next, n      int
	counts       map[uint64]int32
}

func newPattern(levels, word, memory int) pattern {
	p := pattern{levels: levels, word: word, base: uint64(levels + 2), mod: 1}
	for k := 0; k < word; k++ {
		p.mod *= p.base
	}
	if memory > 0 {
		p.ring = make([]uint64, memory)
		p.counts = make(map[uint64]int32, memory)
	}
	return p
}

// level returns the level of v against the baseline w (not empty).
func (p *pattern) level(w *window, v float64) uint64 {
	switch {
	case v > w.sorted[len(w.sorted)-1]:
		return uint64(p.levels) + 1
	case v < w.sorted[0]:
		return 0
	}
	return 1 + uint64(float64(w.countAtMost(v))/float64(w.n+1)*float64(p.levels))
}

// observe appends level to the current pattern and reports whether the
// pattern, once word levels long, is in the memory; then it remembers it.
func (p *pattern) observe(level uint64) (familiar bool) {
	if len(p.ring) == 0 {
		return false
	}
	p.cur = (p.cur*p.base + level) % p.mod
	if p.have < p.word {
		p.have++
		if p.have < p.word {
			return false
		}
	}
	familiar = p.counts[p.cur] > 0
	p.remember(p.cur)
	return familiar
}

// remember adds a pattern to the memory, forgetting the oldest when full.
func (p *pattern) remember(w uint64) {
	if p.n == len(p.ring) {
		old := p.ring[p.next]
		if p.counts[old]--; p.counts[old] <= 0 {
			delete(p.counts, old)
		}
	} else {
		p.n++
	}
	p.ring[p.next] = w
	p.next = (p.next + 1) % len(p.ring)
	p.counts[w]++
}

// held returns the remembered patterns, oldest first.
func (p *pattern) held() []uint64 {
	out := make([]uint64, 0, p.n)
	start := (p.next - p.n + len(p.ring)) % max(len(p.ring), 1)
	for k := 0; k < p.n; k++ {
		out = append(out, p.ring[(start+k)%len(p.ring)])
	}
	return out
}
