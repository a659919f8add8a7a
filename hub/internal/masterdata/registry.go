package masterdata

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// Registry merges the imported equipment records over the base registry
// (the configuration's YAML): a record replaces the base entry of the same
// site and equipment id (whatever its line) and adds equipment the base
// does not list. The result is sorted by site, line and id.
func Registry(base []activity.Equipment, recs []Record, loc *time.Location) []activity.Equipment {
	imported := map[[2]string]Record{}
	for _, r := range recs {
		imported[[2]string{r["site"], r["id"]}] = r
	}
	var out []activity.Equipment
	for _, eq := range base {
		if _, ok := imported[[2]string{eq.Key.Site, eq.Key.Equipment}]; !ok {
			out = append(out, eq)
		}
	}
	for _, r := range recs {
		out = append(out, EquipmentOf(r, loc))
	}
	slices.SortFunc(out, func(a, b activity.Equipment) int { return strings.Compare(a.Key.String(), b.Key.String()) })
	return out
}

// EquipmentOf is an equipment record as the figures take it.
func EquipmentOf(r Record, loc *time.Location) activity.Equipment {
	eq := activity.Equipment{Key: signal.Key{Site: r["site"], Line: r["line"], Equipment: r["id"]}, Class: r["class"],
		Registered: true, Criticality: r["criticality"]}
	if v, err := strconv.ParseFloat(r["ideal_cycle_s"], 64); err == nil {
		eq.IdealCycle = time.Duration(v * float64(time.Second))
	}
	if v, err := strconv.ParseFloat(r["rated_power_kw"], 64); err == nil {
		eq.RatedPower = v
	}
	eq.InService.From, _ = ParseDate(r["in_service_from"], loc)
	eq.InService.Until, _ = ParseDate(r["in_service_until"], loc)
	return eq
}

// KnownOf returns the sites and lines rows may name: the hub's site, those
// of the base registry and of lines with their own calendar (given as
// "site/line"), and the stored sites and lines.
func KnownOf(site string, base []activity.Equipment, calendarLines []string, sites, lines []Record) Known {
	k := Known{Site: site, Sites: map[string]bool{site: true}, Lines: map[string]bool{}}
	for _, eq := range base {
		k.Sites[eq.Key.Site] = true
		k.Lines[eq.Key.Site+"/"+eq.Key.Line] = true
	}
	for _, l := range calendarLines {
		k.Lines[l] = true
	}
	for _, r := range sites {
		k.Sites[r["id"]] = true
	}
	for _, r := range lines {
		k.Lines[r["site"]+"/"+r["id"]] = true
	}
	return k
}

// Restate returns, for an equipment import's changes, the equipment whose
// figures change and from when: a change of the in-service dates only
// restates from the earliest date that moved; any other change (class,
// line, ...) restates the equipment's whole service, from its earliest
// start (zero: from the beginning of what is held). Both the old and the
// new key are returned when a record moved to another line.
func Restate(changes []Change, loc *time.Location) map[signal.Key]time.Time {
	out := map[signal.Key]time.Time{}
	mark := func(k signal.Key, t time.Time) {
		if prev, ok := out[k]; !ok || t.Before(prev) {
			out[k] = t
		}
	}
	for _, c := range changes {
		if c.Entity != Equipment {
			continue
		}
		after := EquipmentOf(c.After, loc)
		if c.Before == nil {
			mark(after.Key, after.InService.From) // an equipment added counts from its start
			continue
		}
		before := EquipmentOf(c.Before, loc)
		if before.Key != after.Key || !sameButDates(c.Before, c.After) {
			from := earliest(before.InService.From, after.InService.From)
			mark(before.Key, from)
			mark(after.Key, from)
			continue
		}
		// A zero start is the beginning of time, a zero end the end of it.
		if b, a := before.InService.From, after.InService.From; !b.Equal(a) {
			mark(after.Key, earliest(b, a))
		}
		if b, a := before.InService.Until, after.InService.Until; !b.Equal(a) {
			switch {
			case b.IsZero():
				mark(after.Key, a)
			case a.IsZero() || b.Before(a):
				mark(after.Key, b)
			default:
				mark(after.Key, a)
			}
		}
	}
	return out
}

// earliest is the earlier of two bounds, a zero bound being the earliest.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || b.IsZero() {
		return time.Time{}
	}
	if a.Before(b) {
		return a
	}
	return b
}

func sameButDates(a, b Record) bool {
	for k, v := range a {
		if k != "in_service_from" && k != "in_service_until" && b[k] != v {
			return false
		}
	}
	return true
}
