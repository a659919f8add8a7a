package engine

import (
	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// SetRegistry replaces the registry at once, for admission, the figures
// and the API alike: equipment it adds is registered (a machine that
// reported before is registered from now on), equipment it no longer lists
// becomes reporting equipment when it has a timeline and is forgotten
// otherwise, and the entries it keeps take their new class and in-service
// dates. The caller restates the periods the change touches.
func (e *Engine) SetRegistry(reg []activity.Equipment) {
	e.mu.Lock()
	defer e.mu.Unlock()
	next := make(map[signal.Key]activity.Equipment, len(reg))
	for _, eq := range reg {
		eq.Registered = true
		next[eq.Key] = eq
	}
	for k, eq := range e.equipment {
		if _, ok := next[k]; ok || !eq.Registered {
			continue
		}
		if e.timelines[k] == nil {
			e.removeEquipment(k)
			continue
		}
		e.equipment[k] = activity.Equipment{Key: k}
		e.unregistered[k.Site]++
	}
	for k, eq := range next {
		old, ok := e.equipment[k]
		switch {
		case !ok:
			e.addEquipment(eq)
		case !old.Registered:
			e.unregistered[k.Site]--
			e.equipment[k] = eq
		default:
			e.equipment[k] = eq
		}
	}
	clear(e.opMonths)
}
