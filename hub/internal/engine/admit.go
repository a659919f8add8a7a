package engine

import "github.com/floorpulse/floorpulse/pkg/signal"

// Admit applies the registry policy to a batch before it is applied: a
// signal of registered equipment is kept; one of equipment missing from the
// registry is kept unless RejectUnregistered, while its site holds fewer
// than MaxUnregistered such equipment (equipment the engine already holds
// is always kept, so a limit never cuts a machine off mid-stream), and is
// counted either way (Stats.UnregisteredAccepted, UnregisteredRejected).
// Apply after Admit adds the new equipment kept; a batch Admit did not see
// may take a site past the limit. sigs is not changed.
func (e *Engine) Admit(sigs []signal.Signal) (kept, rejected []signal.Signal) {
	e.mu.Lock() // the stats are written
	defer e.mu.Unlock()
	var fresh map[signal.Key]bool // equipment this batch adds
	var added map[string]int      // per site
	for i, s := range sigs {
		k := s.Key()
		eq, known := e.equipment[k]
		ok := known && eq.Registered
		if !ok {
			switch {
			case e.opts.RejectUnregistered:
			case known || fresh[k]:
				ok = true
			case e.opts.MaxUnregistered == 0 || e.unregistered[k.Site]+added[k.Site] < e.opts.MaxUnregistered:
				if fresh == nil {
					fresh, added = map[signal.Key]bool{}, map[string]int{}
				}
				fresh[k] = true
				added[k.Site]++
				ok = true
			}
			if ok {
				e.stats.UnregisteredAccepted++
			} else {
				e.stats.UnregisteredRejected++
			}
		}
		switch {
		case !ok && rejected == nil:
			kept = append(make([]signal.Signal, 0, len(sigs)), sigs[:i]...)
			rejected = append(rejected, s)
		case !ok:
			rejected = append(rejected, s)
		case rejected != nil:
			kept = append(kept, s)
		}
	}
	if rejected == nil {
		return sigs, nil
	}
	return kept, rejected
}
