package app

import (
	"net/http"
	"path/filepath"
	"sort"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/config"
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
	return st, nil
}

// masterDataHooks connect equipment imports to a partition: before the
// import commits, the ranges it changes are stored as pending (a crash
// after the commit restates them at the next start); after it, the
// engine's registry is swapped and the ranges are stored and marked again,
// so the flusher restates them with the new registry.
func (pt *part) masterDataHooks(h *hub) masterdata.Hooks {
	var dirty map[signal.Key]state.Range
	return masterdata.Hooks{
		Prepare: func(_ masterdata.Diff, restate map[signal.Key]time.Time) error {
			dirty = pt.restateRanges(restate, h.clock(), h.cfg.Location)
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

// Registry is the equipment registry a hub that is not running computes
// with (its offline commands): the configuration's with the imported
// equipment over it. A partitioned hub's is the configuration's.
func Registry(cfg *config.Config) ([]activity.Equipment, error) {
	if cfg.Partitions.Count > 1 {
		return cfg.Equipment(), nil
	}
	return masterdata.LoadRegistry(masterDataPath(cfg), masterDataBase(cfg))
}
