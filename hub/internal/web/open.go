package web

import (
	"log/slog"
	"sort"
	"sync"

	"github.com/floorpulse/floorpulse/hub/internal/anomaly"
	"github.com/floorpulse/floorpulse/hub/internal/api"
	"github.com/floorpulse/floorpulse/hub/internal/events/ledger"
)

// openIndex keeps the events that are not resolved (opened or
// acknowledged), following the event store's change feed: each look reads
// only the changes since the last one, so the live boards and the overview
// do not read every record of the store each time. The feed lists a
// record again at each of its changes, with its state at the time of
// reading, so the index ends each look with every record's latest state.
type openIndex struct {
	ev  Events
	log *slog.Logger

	mu     sync.Mutex
	cursor string
	open   map[string]anomaly.Record // by id
}

func newOpenIndex(ev Events, log *slog.Logger) *openIndex {
	return &openIndex{ev: ev, log: log, open: map[string]anomaly.Record{}}
}

// feedPage is how many changes a look reads at a time.
const feedPage = 1000

// refresh reads the changes since the last look; x.mu is held.
func (x *openIndex) refresh() {
	for {
		recs, next, more, err := x.ev.List(ledger.Filter{}, x.cursor, feedPage)
		if err != nil {
			x.log.Warn("reading the event feed", "err", err)
			return
		}
		for _, r := range recs {
			if r.Status == anomaly.Resolved {
				delete(x.open, r.ID)
			} else {
				x.open[r.ID] = r
			}
		}
		x.cursor = next
		if !more {
			return
		}
	}
}

// list returns the open events of a site's line ("": every line), the
// latest started first.
func (x *openIndex) list(site, line string) []anomaly.Record {
	if x == nil || x.ev == nil {
		return nil
	}
	x.mu.Lock()
	x.refresh()
	var out []anomaly.Record
	for _, r := range x.open {
		if r.Site == site && (line == "" || r.Line == line) {
			out = append(out, r)
		}
	}
	x.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Start.Equal(out[j].Start) {
			return out[i].Start.After(out[j].Start)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// OpenEvents lists a line's events that are not resolved, the latest
// started first, for the live boards (api.WithOpenEvents), following the
// event store's change feed.
func OpenEvents(ev Events, log *slog.Logger) api.OpenEvents {
	return newOpenIndex(ev, log).list
}

// openEvents lists the open events of a site's line ("": all) for the pages.
func (h *handler) openEvents(site, line string) []anomaly.Record { return h.open.list(site, line) }
