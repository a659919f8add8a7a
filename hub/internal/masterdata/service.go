package masterdata

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/alert"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// Base is the master data of the hub's configuration, the layer imports go
// over: the hub's site, the YAML registry and the lines with a calendar of
// their own ("site/line").
type Base struct {
	Site          string
	Location      *time.Location
	Registry      []activity.Equipment
	CalendarLines []string
	// Shifts returns the shift names of a line's calendar (nil: not checked).
	Shifts func(line string) []string
	// People are the ids of the people alerts reach (events.alerts.people).
	People []string
}

// Hooks connect imports to the figures. Prepare runs inside the store's
// transaction, before it commits: it makes the restatement of what the
// diff changes durable (a crash after it restates figures that did not
// change, which is harmless; one before it loses the import). Applied runs
// after the commit with the new registry: it swaps it in. Either may be nil.
type Hooks struct {
	Prepare func(d Diff, restate Restatement) error
	Applied func(registry []activity.Equipment)
	// Rosters runs after a roster import commits, with the whole dated roster.
	Rosters func(map[alert.DatedKey][]string)
	// Calendars runs after an import of shifts, planned stops or closures
	// commits, with all the imported calendar records, before the restated
	// ranges are marked.
	Calendars func(Calendars)
}

// Restatement is what an import changes the figures of, and from when:
// equipment (an equipment import) or every equipment of a line of the
// hub's site (an import of shifts, planned stops or closures; AllLines:
// every line). A zero time is from the beginning.
type Restatement struct {
	Equipment map[signal.Key]time.Time
	Lines     map[string]time.Time
}

// Backend keeps the records and the audit log: Store (a bbolt file, one
// hub's) or Shared (a JetStream stream, the hubs of a partitioned
// deployment's).
type Backend interface {
	Records(e Entity) ([]Record, error)
	// Apply upserts records (Store.Apply): check, when not nil, sees the
	// diff before anything is written, and its error aborts the apply.
	Apply(e Entity, recs []Record, by string, at time.Time, dryRun bool, check func(Diff) error) (Diff, error)
	Audit(after uint64, limit int) ([]Change, error)
	AuditLast(n int) ([]Change, error)
}

var _ Backend = (*Store)(nil)

// RestatementOf is what changes restate: Restate's equipment, and the
// lines whose shift calendars, planned stops or closures they change.
func RestatementOf(changes []Change, loc *time.Location) Restatement {
	return Restatement{Equipment: Restate(changes, loc), Lines: restateLines(changes, loc)}
}

// Service validates and applies imports over a store, one at a time.
type Service struct {
	base  Base
	store Backend
	hooks Hooks
	now   func() time.Time
	mu    sync.Mutex // imports
}

// NewService builds the service of a store.
func NewService(base Base, st Backend, hooks Hooks) *Service {
	return &Service{base: base, store: st, hooks: hooks, now: time.Now}
}

// SetHooks sets the hooks (before the first import).
func (s *Service) SetHooks(h Hooks) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hooks = h
}

// Location is the plant's time zone, in which dates are read.
func (s *Service) Location() *time.Location { return s.base.Location }

// Known returns the sites and lines rows may name now.
func (s *Service) Known() (Known, error) {
	sites, err := s.store.Records(Sites)
	if err != nil {
		return Known{}, err
	}
	lines, err := s.store.Records(Lines)
	if err != nil {
		return Known{}, err
	}
	shifts, err := s.store.Records(Shifts)
	if err != nil {
		return Known{}, err
	}
	k := KnownOf(s.base.Site, s.base.Registry, s.base.CalendarLines, sites, lines)
	k.People = map[string]bool{}
	if s.base.Shifts != nil {
		k.Shifts = func(line string) []string {
			names := s.base.Shifts(line)
			for _, r := range shifts {
				if r["line"] == line && !slices.Contains(names, r["name"]) {
					names = append(names, r["name"])
				}
			}
			return names
		}
	}
	for _, p := range s.base.People {
		k.People[p] = true
	}
	return k, nil
}

// Rosters returns the dated roster: the imported roster entries that name leaders.
func (s *Service) Rosters() (map[alert.DatedKey][]string, error) {
	recs, err := s.store.Records(Rosters)
	if err != nil {
		return nil, err
	}
	return RosterOf(recs), nil
}

// RosterOf is the dated roster of roster records; entries naming nobody are left out.
func RosterOf(recs []Record) map[alert.DatedKey][]string {
	out := map[alert.DatedKey][]string{}
	for _, r := range recs {
		if r["leaders"] != "" {
			out[alert.DatedKey{Date: r["date"], Line: r["line"], Shift: r["shift"]}] = strings.Split(r["leaders"], ";")
		}
	}
	return out
}

// Calendars returns the imported shift calendars, planned stops and closures.
func (s *Service) Calendars() (Calendars, error) {
	var recs [3][]Record
	for i, e := range []Entity{Shifts, PlannedStops, Closures} {
		var err error
		if recs[i], err = s.store.Records(e); err != nil {
			return Calendars{}, err
		}
	}
	return CalendarsOf(recs[0], recs[1], recs[2], s.base.Location), nil
}

// Registry returns the equipment registry: the imported records over the base.
func (s *Service) Registry() ([]activity.Equipment, error) {
	recs, err := s.store.Records(Equipment)
	if err != nil {
		return nil, err
	}
	return Registry(s.base.Registry, recs, s.base.Location), nil
}

// Records returns an entity's imported records.
func (s *Service) Records(e Entity) ([]Record, error) { return s.store.Records(e) }

// Audit returns up to limit changes after the sequence number after.
func (s *Service) Audit(after uint64, limit int) ([]Change, error) {
	return s.store.Audit(after, limit)
}

// AuditLast returns the latest n changes, oldest first.
func (s *Service) AuditLast(n int) ([]Change, error) { return s.store.AuditLast(n) }

// Import applies records parsed by ParseCSV or ParseJSON (with Known) on
// behalf of by: the whole set or, on an error, nothing. With dryRun it only
// says what would change. An equipment change restates the figures it
// touches (Hooks.Prepare, with the equipment keys and the instant each is
// restated from) and swaps the registry (Hooks.Applied); a change of
// shifts, planned stops or closures swaps the calendars (Hooks.Calendars)
// and restates every equipment of the lines it concerns.
func (s *Service) Import(e Entity, recs []Record, by string, dryRun bool) (Diff, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var prepare func(Diff) error
	if !dryRun && s.hooks.Prepare != nil && (e == Equipment || calendarEntity(e)) {
		prepare = func(d Diff) error {
			if len(d.Changes) == 0 {
				return nil
			}
			return s.hooks.Prepare(d, Restatement{Equipment: Restate(d.Changes, s.base.Location), Lines: restateLines(d.Changes, s.base.Location)})
		}
	}
	d, err := s.store.Apply(e, recs, by, s.now(), dryRun, prepare)
	if err != nil || dryRun || len(d.Changes) == 0 {
		return d, err
	}
	if e == Rosters && s.hooks.Rosters != nil {
		r, err := s.Rosters()
		if err != nil {
			return d, fmt.Errorf("reading the rosters after the import: %w", err)
		}
		s.hooks.Rosters(r)
	}
	if calendarEntity(e) && s.hooks.Calendars != nil {
		cals, err := s.Calendars()
		if err != nil {
			return d, fmt.Errorf("reading the calendars after the import: %w", err)
		}
		s.hooks.Calendars(cals)
	}
	if e != Equipment && !calendarEntity(e) {
		return d, nil
	}
	reg, err := s.Registry()
	if err != nil {
		return d, fmt.Errorf("reading the registry after the import: %w", err)
	}
	if s.hooks.Applied != nil {
		s.hooks.Applied(reg)
	}
	return d, nil
}

// LoadRecords returns the records of some entities from the store at path,
// for the hub's offline commands (the hub must not be running); none when
// there is no store.
func LoadRecords(path string, entities ...Entity) (map[Entity][]Record, error) {
	out := map[Entity][]Record{}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return out, nil
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 300 * time.Millisecond})
	if err != nil {
		return nil, fmt.Errorf("opening master data store %s: %w", path, err)
	}
	st := &Store{db: db}
	defer st.Close()
	for _, e := range entities {
		if out[e], err = st.Records(e); err != nil {
			return nil, err
		}
	}
	return out, nil
}
