package web

import (
	"encoding/json"
	"net/http"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/anomaly"
	"github.com/floorpulse/floorpulse/hub/internal/api"
	"github.com/floorpulse/floorpulse/hub/internal/events/ledger"
	"github.com/floorpulse/floorpulse/hub/internal/state"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// running is the name of the running state.
var running = state.Running.String()

// maxTrend bounds the months of a trend; maxHistoryDays a history's days.
const (
	maxTrend       = 24
	maxHistoryDays = 62
)

// months lists the months that hold data, oldest first.
func (h *handler) months() []string {
	var out []string
	if first, last, ok := h.opts.Engine.Span(); ok {
		for _, m := range activity.MonthsBetween(first, last, h.opts.Location) {
			out = append(out, m.Name())
		}
	}
	return out
}

// month reads ?month=YYYY-MM; without it (or when it is not a month), the
// latest month with data, or the current one.
func (h *handler) month(r *http.Request) (activity.Period, []string) {
	all := h.months()
	if m, err := activity.ParseMonth(r.URL.Query().Get("month"), h.opts.Location); err == nil {
		return m, all
	}
	if len(all) > 0 {
		m, _ := activity.ParseMonth(all[len(all)-1], h.opts.Location)
		return m, all
	}
	return activity.MonthOf(h.opts.Clock(), h.opts.Location), all
}

// prevMonth is the month before m.
func (h *handler) prevMonth(m activity.Period) activity.Period {
	return activity.MonthOf(m.Start.Add(-time.Hour), h.opts.Location)
}

// TrendMonth is one month of a trend: the site's figures and each line's.
type TrendMonth struct {
	Month string                  `json:"month"`
	Site  api.LineJSON            `json:"site"`
	Lines map[string]api.LineJSON `json:"lines"`
}

// trend returns the n months ending with m, oldest first, and the month
// figures of each (as /api/v1/months/{month} answers them).
func (h *handler) trend(m activity.Period, n int) ([]TrendMonth, []api.MonthJSON) {
	ms := make([]activity.Period, n)
	p := m
	for i := n - 1; i >= 0; i-- {
		ms[i] = p
		p = h.prevMonth(p)
	}
	out := make([]TrendMonth, n)
	full := make([]api.MonthJSON, n)
	// The months are computed on every core: each only reads the engine.
	workers := min(runtime.GOMAXPROCS(0), n)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				mj := api.Month(h.opts.Engine, h.opts.Location, h.opts.Site, ms[i])
				tm := TrendMonth{Month: mj.Month, Site: mj.Site, Lines: map[string]api.LineJSON{}}
				for _, l := range mj.Lines {
					tm.Lines[l.Line] = l
				}
				out[i], full[i] = tm, mj
			}
		}()
	}
	wg.Wait()
	return out, full
}

// trendJSON serves GET /api/v1/trend?month=YYYY-MM&months=N: the site's and
// lines' figures of the N months (default 12, at most 24) ending with month.
func (h *handler) trendJSON(w http.ResponseWriter, r *http.Request) {
	m, _ := h.month(r)
	if s := r.URL.Query().Get("month"); s != "" && m.Name() != s {
		jsonError(w, http.StatusBadRequest, "month must be YYYY-MM")
		return
	}
	n := 12
	if s := r.URL.Query().Get("months"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 || v > maxTrend {
			jsonError(w, http.StatusBadRequest, "months must be 1 to 24")
			return
		}
		n = v
	}
	tr, _ := h.trend(m, n)
	writeJSON(w, map[string]any{"timezone": h.opts.Location.String(), "months": tr})
}

// Interval is a stretch of one state in the JSON of a history.
type Interval struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	State string    `json:"state"`
}

// Session is a stretch with operators logged in.
type Session struct {
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	Operators []string  `json:"operators"`
}

// HistoryJSON is the answer of /api/v1/equipment/{line}/{equipment}/history.
type HistoryJSON struct {
	Site      string     `json:"site"`
	Line      string     `json:"line"`
	Equipment string     `json:"equipment"`
	Timezone  string     `json:"timezone"`
	From      time.Time  `json:"from"`
	To        time.Time  `json:"to"`
	States    []Interval `json:"states"`
	Sessions  []Session  `json:"sessions"`
}

// history returns an equipment's states and sessions over [from, to).
func (h *handler) history(line, eq string, from, to time.Time) (HistoryJSON, bool) {
	k := signal.Key{Site: h.opts.Site, Line: line, Equipment: eq}
	hist, ok := h.opts.Engine.History(k, from, to)
	if !ok {
		return HistoryJSON{}, false
	}
	out := HistoryJSON{Site: k.Site, Line: line, Equipment: eq, Timezone: h.opts.Location.String(),
		From: from.In(h.opts.Location), To: to.In(h.opts.Location), States: []Interval{}, Sessions: []Session{}}
	for _, s := range hist.States {
		out.States = append(out.States, Interval{Start: h.at(s.Start), End: h.at(s.End), State: s.State.String()})
	}
	// A session is known up to the equipment's latest word, not beyond.
	horizon, seen := h.opts.Engine.Horizon(k)
	for _, s := range hist.Operators {
		end := h.at(s.End)
		if seen && end.After(horizon) {
			end = horizon.In(h.opts.Location)
		}
		if !seen || !end.After(h.at(s.Start)) {
			continue
		}
		out.Sessions = append(out.Sessions, Session{Start: h.at(s.Start), End: end, Operators: s.Ops})
	}
	return out, true
}

func (h *handler) at(ns int64) time.Time { return time.Unix(0, ns).In(h.opts.Location) }

// historyJSON serves GET /api/v1/equipment/{line}/{equipment}/history
// ?from=YYYY-MM-DD&to=YYYY-MM-DD: the equipment's state intervals and
// operator sessions over those days (to included, at most 62 days).
func (h *handler) historyJSON(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	from, err1 := time.ParseInLocation("2006-01-02", q.Get("from"), h.opts.Location)
	to, err2 := time.ParseInLocation("2006-01-02", q.Get("to"), h.opts.Location)
	if err1 != nil || err2 != nil || to.Before(from) {
		jsonError(w, http.StatusBadRequest, "from and to must be days YYYY-MM-DD, from not after to")
		return
	}
	end := to.AddDate(0, 0, 1)
	if end.Sub(from) > maxHistoryDays*25*time.Hour {
		jsonError(w, http.StatusBadRequest, "at most 62 days")
		return
	}
	out, ok := h.history(r.PathValue("line"), r.PathValue("equipment"), from, end)
	if !ok {
		jsonError(w, http.StatusNotFound, "no such equipment")
		return
	}
	writeJSON(w, out)
}

// runByDay sums the running time of states per day of the month m, in hours.
func (h *handler) runByDay(states []Interval, m activity.Period) []float64 {
	var days []activity.Period
	for d := activity.DayOf(m.Start, h.opts.Location); d.Start.Before(m.End); d = activity.DayOf(d.End, h.opts.Location) {
		days = append(days, d)
	}
	out := make([]float64, len(days))
	i := 0
	for _, s := range states {
		if s.State != running {
			continue
		}
		for a, end := s.Start.UnixNano(), s.End.UnixNano(); a < end; {
			for i < len(days)-1 && a >= days[i].End.UnixNano() {
				i++
			}
			b := min(end, days[i].End.UnixNano())
			if b <= a { // past the last day
				break
			}
			out[i] += float64(b-a) / 3600e9
			a = b
		}
	}
	return out
}

// listEvents returns up to limit records matching f, the latest changed
// first, reading at most 5,000.
func (h *handler) listEvents(f ledger.Filter, limit int) []anomaly.Record {
	if h.opts.Events == nil {
		return nil
	}
	var all []anomaly.Record
	cursor := ""
	for len(all) < 5000 {
		recs, next, more, err := h.opts.Events.List(f, cursor, 500)
		if err != nil {
			h.opts.Log.Warn("listing events", "err", err)
			break
		}
		all = append(all, recs...)
		if !more {
			break
		}
		cursor = next
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].Start.After(all[j].Start) })
	if len(all) > limit {
		all = all[:limit]
	}
	return all
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func jsonError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
