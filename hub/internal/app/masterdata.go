package app

import (
	"net/http"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/calendar"
	"github.com/floorpulse/floorpulse/hub/internal/config"
	"github.com/floorpulse/floorpulse/hub/internal/engine"
	"github.com/floorpulse/floorpulse/hub/internal/masterdata"
	"github.com/floorpulse/floorpulse/hub/internal/state"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// masterDataPath is the master data store of a hub.
func masterDataPath(cfg *config.Config) string { return filepath.Join(cfg.DataDir, "masterdata.db") }

// masterDataBase is the configuration's master data: the layer imports go over.
func masterDataBase(cfg *config.Config) masterdata.Base {
	var lines []string
	for l := range cfg.LineCalendars {
		lines = append(lines, cfg.Site+"/"+l)
	}
	sort.Strings(lines)
	var people []string
	for id := range cfg.Events.Alerts.People {
		people = append(people, id)
	}
	shifts := func(line string) []string {
		cal, ok := cfg.LineCalendars[line]
		if !ok {
			cal = cfg.Calendar
		}
		var out []string
		for _, w := range cal.Shifts {
			out = append(out, w.Name)
		}
		return out
	}
	return masterdata.Base{Site: cfg.Site, Location: cfg.Location, Registry: cfg.Equipment(), CalendarLines: lines,
		Shifts: shifts, People: people}
}

// openMasterData opens the master data store and its service; the hooks
// are set once the partition is built (masterDataHooks).
func (h *hub) openMasterData() (*masterdata.Store, error) {
	st, err := masterdata.Open(masterDataPath(h.cfg))
	if err != nil {
		return nil, err
	}
	h.md = masterdata.NewService(masterDataBase(h.cfg), st, masterdata.Hooks{})
	rosters, err := h.md.Rosters()
	if err != nil {
		st.Close()
		return nil, err
	}
	h.dated.Set(rosters)
	cals, err := h.md.Calendars()
	if err != nil {
		st.Close()
		return nil, err
	}
	h.cals.set(cals)
	return st, nil
}

// calendars are the lines' calendars: the configuration's with the
// imported shift calendars, planned stops and closures over them, swapped
// at once by an import.
type calendars struct {
	cfg *config.Config
	cur atomic.Pointer[importedCalendars]
}

// importedCalendars are the calendars of the lines of the hub's site that
// imported records concern: built at once for the lines with records of
// their own, on first use for the others when closures hold for every line.
type importedCalendars struct {
	imported masterdata.Calendars
	m        map[string]*calendar.Calendar
	others   sync.Map // line -> *calendar.Calendar
}

func newCalendars(cfg *config.Config) *calendars {
	c := &calendars{cfg: cfg}
	c.set(masterdata.Calendars{})
	return c
}

// set replaces the imported calendar records.
func (c *calendars) set(imported masterdata.Calendars) {
	ic := &importedCalendars{imported: imported, m: map[string]*calendar.Calendar{}}
	for _, line := range imported.Lines() {
		ic.m[line] = imported.Of(c.cfg.CalendarOf(c.cfg.Site, line), line, c.cfg.Location)
	}
	c.cur.Store(ic)
}

// of returns a line's calendar (nil: around the clock).
func (c *calendars) of(site, line string) *calendar.Calendar {
	if site != c.cfg.Site {
		return c.cfg.CalendarOf(site, line)
	}
	ic := c.cur.Load()
	if cal, ok := ic.m[line]; ok {
		return cal
	}
	if len(ic.imported.Closures[masterdata.AllLines]) == 0 {
		return c.cfg.CalendarOf(site, line)
	}
	if cal, ok := ic.others.Load(line); ok {
		return cal.(*calendar.Calendar)
	}
	cal, _ := ic.others.LoadOrStore(line, ic.imported.Of(c.cfg.CalendarOf(site, line), line, c.cfg.Location))
	return cal.(*calendar.Calendar)
}

// masterDataHooks connect equipment imports to a partition: before the
// import commits, the ranges it changes are stored as pending (a crash
// after the commit restates them at the next start); after it, the
// engine's registry is swapped and the ranges are stored and marked again,
// so the flusher restates them with the new registry.
func (pt *part) masterDataHooks(h *hub) masterdata.Hooks {
	var dirty map[signal.Key]state.Range
	return masterdata.Hooks{
		Prepare: func(_ masterdata.Diff, restate masterdata.Restatement) error {
			from := pt.restateFrom(h, restate)
			dirty = pt.restateRanges(from, h.clock(), h.cfg.Location)
			return pt.st.Save(nil, dirty)
		},
		Applied: func(reg []activity.Equipment) {
			pt.eng.SetRegistry(registryOf(reg, pt.n, pt.p))
			if err := pt.st.Save(nil, dirty); err != nil {
				pt.log.Warn("storing the ranges to restate after a master data import", "err", err)
			}
			pt.fl.mark(dirty)
		},
	}
}

// restateRanges are the ranges to restate for equipment changed from the
// given instants: whole months, from the month holding the instant (the
// first data held for a zero one) up to now or the latest data.
func (pt *part) restateRanges(restate map[signal.Key]time.Time, now time.Time, loc *time.Location) map[signal.Key]state.Range {
	first, horizon, ok := pt.eng.Span()
	to := now
	if ok && horizon.After(to) {
		to = horizon
	}
	out := map[signal.Key]state.Range{}
	for k, from := range restate {
		if from.IsZero() {
			from = now
			if ok && first.Before(now) {
				from = first
			}
		}
		start := activity.MonthOf(from, loc).Start
		if start.After(to) {
			continue // the current periods are written with the next flush
		}
		out[k] = state.Range{From: start.UnixNano(), To: to.UnixNano()}
	}
	return out
}

// withMasterData serves the master data API beside api.
func (h *hub) withMasterData(api http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/api/v1/masterdata/", masterdata.Handler(h.md, h.log.With("part", "masterdata")))
	mux.Handle("/", api)
	return mux
}

// EngineOptions are the engine options a hub that is not running computes
// with (its offline commands): the configuration's with the imported
// equipment, shift calendars, planned stops and closures over them. A
// partitioned hub's imported master data is read from its stream on the
// NATS server (sharedRecords).
func EngineOptions(cfg *config.Config) (engine.Options, error) {
	opts := cfg.EngineOptions()
	var recs map[masterdata.Entity][]masterdata.Record
	var err error
	if cfg.Partitions.Count > 1 {
		recs, err = sharedRecords(cfg, masterdata.Equipment, masterdata.Shifts, masterdata.PlannedStops, masterdata.Closures)
	} else {
		recs, err = masterdata.LoadRecords(masterDataPath(cfg), masterdata.Equipment, masterdata.Shifts, masterdata.PlannedStops, masterdata.Closures)
	}
	if err != nil {
		return opts, err
	}
	opts.Registry = masterdata.Registry(opts.Registry, recs[masterdata.Equipment], cfg.Location)
	cals := newCalendars(cfg)
	cals.set(masterdata.CalendarsOf(recs[masterdata.Shifts], recs[masterdata.PlannedStops], recs[masterdata.Closures], cfg.Location))
	opts.Calendar = cals.of
	return opts, nil
}

// operatorNames are the imported operators' names by id, for the pages.
func (h *hub) operatorNames() map[string]string {
	recs, err := h.md.Records(masterdata.Operators)
	if err != nil {
		h.log.Warn("reading the operators' names", "err", err)
		return nil
	}
	out := make(map[string]string, len(recs))
	for _, r := range recs {
		if r["name"] != "" {
			out[r["id"]] = r["name"]
		}
	}
	return out
}
