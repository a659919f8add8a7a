// Package masterdata keeps the plant's master data that other systems own
// (MES, ERP, HR, the shift planning): sites, lines, equipment, operators,
// shift calendars, planned stops, closures and rosters, imported as CSV or
// JSON rows, validated as a whole (every bad row named with its line and
// column; nothing applied when one is bad), stored as versioned records
// with effective dates in a bbolt file, and every change audited with who
// made it and when. Applying the same rows twice changes nothing and audits
// nothing. The YAML registry of the hub's configuration is the base layer:
// an imported equipment record replaces the YAML entry of the same site and
// id, and adds equipment the YAML does not list; a line's imported shifts
// and planned stops replace its configured ones on the days they hold, and
// imported closures are added to the configured ones.
//
// Parsing, validation and the registry merge are pure (values in, values
// out, dates in the plant's time zone); the store and the HTTP handler are
// the edges.
package masterdata

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/calendar"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// Entity names a kind of master data record; it is the name in the API path.
type Entity string

// The entities.
const (
	Sites     Entity = "sites"
	Lines     Entity = "lines"
	Equipment Entity = "equipment"
	Operators Entity = "operators"
	Rosters   Entity = "rosters"
	Shifts    Entity = "shifts"
	// PlannedStops are recurring daily planned stops (breaks, maintenance).
	PlannedStops Entity = "planned_stops"
	// Closures are absolute planned stops (holidays, shutdowns).
	Closures Entity = "closures"
)

// Entities lists every entity, in the order their references need them
// imported (a line names its site, equipment its line).
var Entities = []Entity{Sites, Lines, Equipment, Operators, Shifts, PlannedStops, Closures, Rosters}

// AllLines is the line of a closure of every line of the hub's site.
const AllLines = "*"

// kind is how a column's text is checked and written.
type kind int

const (
	kindToken  kind = iota // a name as agents send it: no spaces, dots, '*' or '>'
	kindText               // free text (trimmed)
	kindDate               // a local date 2006-01-02 or date-time 2006-01-02T15:04
	kindNumber             // a number >= 0
	kindDay                // a local date 2006-01-02
	kindPeople             // person ids separated by ';'
	kindClock              // a local time of day HH:MM
	kindDays               // week days: mon..sun or ranges, separated by ';'
	kindScope              // a line (a name), or '*' for every line
	kindFlag               // yes or no (empty)
)

// Column is one column of an entity's CSV file.
type Column struct {
	Name     string
	Required bool
	kind     kind
	// Doc says what the column holds (docs/master-data.md).
	Doc string
}

// Spec is an entity's file format: its columns in export order and the
// columns that make a record's key.
type Spec struct {
	Entity  Entity
	Columns []Column
	Key     []string
	// From and Until are the columns of the effective interval.
	From, Until string
}

var specs = map[Entity]Spec{
	Sites: {Entity: Sites, Key: []string{"id"}, From: "valid_from", Until: "valid_until", Columns: []Column{
		{Name: "id", Required: true, kind: kindToken, Doc: "site name as the agents send it"},
		{Name: "name", kind: kindText, Doc: "display name"},
		{Name: "valid_from", kind: kindDate, Doc: "first day the site is in use (empty: always)"},
		{Name: "valid_until", kind: kindDate, Doc: "first day it is no longer in use (empty: open)"},
	}},
	Lines: {Entity: Lines, Key: []string{"site", "id"}, From: "valid_from", Until: "valid_until", Columns: []Column{
		{Name: "id", Required: true, kind: kindToken, Doc: "line name as the agents send it"},
		{Name: "site", kind: kindToken, Doc: "site of the line (empty: the hub's site); must be known"},
		{Name: "name", kind: kindText, Doc: "display name"},
		{Name: "valid_from", kind: kindDate, Doc: "first day the line runs (empty: always)"},
		{Name: "valid_until", kind: kindDate, Doc: "first day it no longer runs (empty: open)"},
	}},
	Equipment: {Entity: Equipment, Key: []string{"site", "id"}, From: "in_service_from", Until: "in_service_until", Columns: []Column{
		{Name: "id", Required: true, kind: kindToken, Doc: "equipment id as the agents send it"},
		{Name: "site", kind: kindToken, Doc: "site (empty: the hub's site)"},
		{Name: "line", Required: true, kind: kindToken, Doc: "line; must be known (YAML registry, line calendars or imported lines)"},
		{Name: "class", kind: kindToken, Doc: "equipment class (class thresholds, detector settings)"},
		{Name: "ideal_cycle_s", kind: kindNumber, Doc: "ideal cycle time of one part, seconds"},
		{Name: "rated_power_kw", kind: kindNumber, Doc: "rated electrical power, kW"},
		{Name: "criticality", kind: kindText, Doc: "the plant's rating, e.g. A, B, C"},
		{Name: "in_service_from", kind: kindDate, Doc: "when it enters service (empty: always was)"},
		{Name: "in_service_until", kind: kindDate, Doc: "when it leaves service, retirement (empty: in service)"},
	}},
	Operators: {Entity: Operators, Key: []string{"id"}, From: "valid_from", Until: "valid_until", Columns: []Column{
		{Name: "id", Required: true, kind: kindToken, Doc: "operator id as the badge or HMI sends it"},
		{Name: "name", kind: kindText, Doc: "full name"},
		{Name: "team", kind: kindText, Doc: "team"},
		{Name: "site", kind: kindToken, Doc: "site of the home line (empty: the hub's site)"},
		{Name: "home_line", kind: kindToken, Doc: "home line; must be known when given"},
		{Name: "valid_from", kind: kindDate, Doc: "first day employed (empty: always)"},
		{Name: "valid_until", kind: kindDate, Doc: "first day no longer employed (empty: open)"},
	}},
	Shifts: {Entity: Shifts, Key: []string{"line", "name", "valid_from"}, From: "valid_from", Until: "valid_until", Columns: []Column{
		{Name: "line", Required: true, kind: kindToken, Doc: "line of the hub's site; must be known"},
		{Name: "name", Required: true, kind: kindToken, Doc: "shift name"},
		{Name: "start", Required: true, kind: kindClock, Doc: "start, `HH:MM` plant time"},
		{Name: "end", Required: true, kind: kindClock, Doc: "end, `HH:MM`; not after the start: the next day"},
		{Name: "days", kind: kindDays, Doc: "week days it starts on: `mon`..`sun` or ranges like `mon-fri`, separated by ';' (empty: every day)"},
		{Name: "valid_from", kind: kindDay, Doc: "first day of this calendar (empty: always)"},
		{Name: "valid_until", kind: kindDay, Doc: "first day it no longer holds (empty: open)"},
	}},
	PlannedStops: {Entity: PlannedStops, Key: []string{"line", "name", "valid_from"}, From: "valid_from", Until: "valid_until", Columns: []Column{
		{Name: "line", Required: true, kind: kindToken, Doc: "line of the hub's site; must be known"},
		{Name: "name", Required: true, kind: kindText, Doc: "stop name, e.g. `lunch`"},
		{Name: "start", kind: kindClock, Doc: "start, `HH:MM` plant time (empty with `end`: no stop, see below)"},
		{Name: "end", kind: kindClock, Doc: "end, `HH:MM`; before the start: the next day (not equal to it)"},
		{Name: "days", kind: kindDays, Doc: "week days it starts on: `mon`..`sun` or ranges like `mon-fri`, separated by ';' (empty: every day)"},
		{Name: "valid_from", kind: kindDay, Doc: "first day of these stops (empty: always)"},
		{Name: "valid_until", kind: kindDay, Doc: "first day they no longer hold (empty: open)"},
	}},
	Closures: {Entity: Closures, Key: []string{"line", "name", "from"}, From: "from", Until: "to", Columns: []Column{
		{Name: "line", kind: kindScope, Doc: "line of the hub's site, must be known; empty or `*`: every line of the site"},
		{Name: "name", Required: true, kind: kindText, Doc: "what is closed for, e.g. `Christmas`"},
		{Name: "from", Required: true, kind: kindDate, Doc: "when it starts: `YYYY-MM-DD` (midnight) or `YYYY-MM-DDTHH:MM`, plant time"},
		{Name: "to", Required: true, kind: kindDate, Doc: "when it ends (not included), after `from`, in the same forms"},
		{Name: "cancelled", kind: kindFlag, Doc: "`yes`: the closure does not take place (empty or `no`: it does)"},
	}},
	Rosters: {Entity: Rosters, Key: []string{"date", "line", "shift"}, Columns: []Column{
		{Name: "date", Required: true, kind: kindDay, Doc: "the date the shift starts (a night shift belongs to the day it begins), `YYYY-MM-DD`"},
		{Name: "line", Required: true, kind: kindToken, Doc: "line of the hub's site; must be known"},
		{Name: "shift", Required: true, kind: kindToken, Doc: "shift name of the line's calendar"},
		{Name: "leaders", kind: kindPeople, Doc: "who leads it: person ids of events.alerts.people, separated by ';' (empty: the YAML roster)"},
	}},
}

// SpecOf returns an entity's file format; false for an unknown entity.
func SpecOf(e Entity) (Spec, bool) {
	s, ok := specs[e]
	return s, ok
}

// ParseEntity returns the entity of a name.
func ParseEntity(s string) (Entity, error) {
	if _, ok := specs[Entity(s)]; ok {
		return Entity(s), nil
	}
	names := make([]string, len(Entities))
	for i, e := range Entities {
		names[i] = string(e)
	}
	return "", fmt.Errorf("unknown master data entity %q (want %s)", s, strings.Join(names, ", "))
}

// Record is one row of an entity: its columns' values as text, in canonical
// form (trimmed, dates and numbers written one way, the default site filled
// in), so two records are equal when their fields are.
type Record map[string]string

// KeyOf returns a record's key: its key columns joined by '/' (site/id for
// lines and equipment, id otherwise).
func (s Spec) KeyOf(r Record) string {
	parts := make([]string, len(s.Key))
	for i, c := range s.Key {
		parts[i] = r[c]
	}
	return strings.Join(parts, "/")
}

// Known are the sites and lines a row may name: the configuration's, the
// stored ones and those of the file itself when it imports sites or lines;
// and the shifts and people a roster may name.
type Known struct {
	// Site is the hub's site, the default of an empty site column.
	Site string
	// Sites and Lines ("site/line") known.
	Sites map[string]bool
	Lines map[string]bool
	// Shifts returns the shift names of a line's calendar.
	Shifts func(line string) []string
	// People are the people alerts can reach.
	People map[string]bool
}

// dateLayouts are the accepted date forms, in the plant's zone.
var dateLayouts = []string{"2006-01-02", "2006-01-02T15:04", "2006-01-02T15:04:05"}

// ParseDate reads a date column in loc: a local date (midnight) or a local
// date-time. Empty is the zero time (an open bound).
func ParseDate(s string, loc *time.Location) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, l := range dateLayouts {
		if t, err := time.ParseInLocation(l, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, badField("bad_date", "value", s)
}

// maxText bounds a free text field.
const maxText = 200

// canonical checks one field's text and returns it in canonical form.
func canonical(k kind, v string, loc *time.Location) (string, *fieldError) {
	switch k {
	case kindToken:
		if !signal.ValidToken(v) {
			return "", badField("bad_name", "value", v)
		}
	case kindScope:
		if v == AllLines {
			return v, nil
		}
		if !signal.ValidToken(v) {
			return "", badField("bad_name", "value", v)
		}
	case kindFlag:
		switch strings.ToLower(v) {
		case "yes", "true", "1":
			return "yes", nil
		case "no", "false", "0":
			return "", nil
		}
		return "", badField("bad_flag", "value", v)
	case kindText:
		if len(v) > maxText {
			return "", badField("too_long", "max", strconv.Itoa(maxText))
		}
	case kindDate:
		t, err := ParseDate(v, loc)
		if err != nil {
			return "", badField("bad_date", "value", v)
		}
		if t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 {
			return t.Format("2006-01-02"), nil
		}
		return t.Format("2006-01-02T15:04:05"), nil
	case kindDay:
		t, err := time.ParseInLocation("2006-01-02", v, loc)
		if err != nil {
			return "", badField("bad_day", "value", v)
		}
		return t.Format("2006-01-02"), nil
	case kindPeople:
		var ids []string
		for _, id := range strings.Split(v, ";") {
			if id = strings.TrimSpace(id); id == "" {
				continue
			}
			if !signal.ValidToken(id) {
				return "", badField("bad_person", "value", id)
			}
			ids = append(ids, id)
		}
		return strings.Join(ids, ";"), nil
	case kindClock:
		c, err := calendar.ParseClock(v)
		if err != nil {
			return "", badField("bad_time", "value", v)
		}
		return c.String(), nil
	case kindDays:
		var days []string
		for _, d := range strings.Split(v, ";") {
			if d = strings.ToLower(strings.TrimSpace(d)); d == "" {
				continue
			}
			if _, err := calendar.ParseWeekdays([]string{d}); err != nil {
				return "", badField("bad_weekday", "value", d)
			}
			days = append(days, d)
		}
		return strings.Join(days, ";"), nil
	case kindNumber:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || f != f || f > 1e12 {
			return "", badField("bad_number", "value", v)
		}
		return strconv.FormatFloat(f, 'f', -1, 64), nil
	}
	return v, nil
}
