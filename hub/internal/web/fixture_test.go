package web

import (
	"fmt"
	"hash/fnv"
	"log/slog"
	"math"
	"math/rand"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/action"
	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/anomaly"
	"github.com/floorpulse/floorpulse/hub/internal/api"
	"github.com/floorpulse/floorpulse/hub/internal/auth"
	"github.com/floorpulse/floorpulse/hub/internal/config"
	"github.com/floorpulse/floorpulse/hub/internal/detect"
	"github.com/floorpulse/floorpulse/hub/internal/engine"
	"github.com/floorpulse/floorpulse/hub/internal/events"
	"github.com/floorpulse/floorpulse/hub/internal/segment"
	"github.com/floorpulse/floorpulse/hub/internal/store"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// The people of the fixture, one per role, all with this password.
const (
	viewerUser = "vera"
	leaderUser = "sam"
	password   = "correct horse battery"
)

// fixture is a hub's HTTP side over real data: the demo configuration
// (configs/hub.yaml), a simulated history of 13 months applied by the real
// engine and committed to a real state store, the engine rebuilt from that
// store, anomaly events detected by the real detectors into a real event
// store, and the pages behind the real authentication.
type fixture struct {
	cfg *config.Config
	eng *engine.Engine
	st  *store.Store
	ev  *events.Store
	srv *httptest.Server
	// actions is the action store behind the actions page and API.
	actions *action.Store
	// segs are the segment reports behind the pages and API.
	segs *segment.Source
	now  time.Time

	mu sync.Mutex // one batch at a time, as the hub applies them
}

// tb is what newFixture needs of a test.
type tb interface {
	Helper()
	Fatal(args ...any)
	Cleanup(func())
	TempDir() string
}

// scale sizes a fixture's plant and history.
type scale struct {
	// lines of machines each replace the demo registry (0: the demo's).
	lines, machines int
	// sparse: machines report only their changes, about every four hours,
	// and silence is never unknown (the signal timeout is off): a big plant
	// over a year in a few million signals.
	sparse bool
	// cacheSegments keeps the segment reports for the hub's default
	// segments.refresh, as the hub does (its refresher computes this
	// month's and last month's every segments.refresh); without it every
	// page computes them.
	cacheSegments bool
}

// newFixture builds the demo plant's fixture; it takes a few seconds.
func newFixture(t tb, root string) *fixture { return newScaledFixture(t, root, scale{}) }

// newScaledFixture builds a fixture of the plant sc says.
func newScaledFixture(t tb, root string, sc scale) *fixture {
	t.Helper()
	cfg, err := config.Load(filepath.Join(root, "configs", "hub.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.DataDir = t.TempDir()
	if sc.lines > 0 {
		cfg.Registry = nil
		for l := range sc.lines {
			r := config.Registered{Line: fmt.Sprintf("B%02d", l+1), Class: "cnc"}
			for m := range sc.machines {
				r.IDs = append(r.IDs, fmt.Sprintf("M%03d", m+1))
			}
			cfg.Registry = append(cfg.Registry, r)
		}
	}
	if sc.sparse {
		cfg.State.SignalTimeout = 0
	}
	f := &fixture{cfg: cfg, now: time.Now()}
	opts := cfg.EngineOptions()

	// The history, applied month by month and committed as the hub does.
	st, err := store.Open(cfg.StatePath())
	if err != nil {
		t.Fatal(err)
	}
	eng := engine.New(opts, nil)
	from := activity.MonthOf(f.now, cfg.Location).Start.AddDate(0, -12, 0)
	sigs := simulate(cfg, from, f.now, sc.sparse)
	const batch = 20000
	for i := 0; i < len(sigs); i += batch {
		changes, dirty := eng.Apply(sigs[i:min(i+batch, len(sigs))])
		if err := st.Save(changes, dirty); err != nil {
			t.Fatal(err)
		}
	}
	saved, err := st.Load()
	if err != nil {
		t.Fatal(err)
	}
	f.eng, f.st = engine.New(opts, saved), st
	t.Cleanup(func() { st.Close() })

	// Events of the last week, from the real detectors.
	f.ev, err = events.Open(filepath.Join(cfg.DataDir, "events.db"), events.Options{Location: cfg.Location, Calendar: cfg.CalendarOf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.ev.Close() })
	dirty := engine.Dirty{}
	for _, k := range f.eng.Keys() {
		dirty.Mark(k, f.now.Add(-7*24*time.Hour).UnixNano(), f.now.UnixNano())
	}
	settings := detect.SettingsFrom(func(line, class string) anomaly.Settings {
		s := cfg.Events.Detectors.For(line, class)
		return anomaly.Settings{DowntimeMin: s.DowntimeMin, OutOfShiftMin: s.OutOfShiftMin,
			MicroStopMax: s.MicroStopMax, MicroStopBurst: s.MicroStopBurst, MicroStopWindow: s.MicroStopWindow,
			ActivityDrop: s.ActivityDrop, ActivityWeeks: s.ActivityWeeks, FlatlineMin: s.FlatlineMin,
			GaugeThreshold: s.GaugeThreshold, IdleRunningMin: s.IdleRunningMin}
	})
	detected := f.eng.Detect(dirty, f.now, func(signal.Key) bool { return true }, settings)
	if _, err := f.ev.Apply(detected, f.now); err != nil {
		t.Fatal(err)
	}

	// The people, and the hub's handler behind its guard.
	for _, u := range []struct {
		name string
		role auth.Role
	}{{viewerUser, auth.Viewer}, {leaderUser, auth.ShiftLeader}} {
		if err := auth.AddUser(cfg.Users(), u.name, u.role, []byte(password), f.now); err != nil {
			t.Fatal(err)
		}
	}
	accounts, err := auth.OpenAccounts(cfg.Users(), cfg.Tokens())
	if err != nil {
		t.Fatal(err)
	}
	// Segments and actions as the hub wires them, over a real action store.
	eqRules, opRules := cfg.SegmentRules()
	segs := segment.Source{Engine: f.eng, Location: cfg.Location, Equipment: eqRules, Operators: opRules}
	if sc.cacheSegments {
		segs.Cache = segment.NewCache(cfg.Segments.Refresh)
	}
	f.segs = &segs
	if f.actions, err = action.OpenStore(filepath.Join(cfg.DataDir, "actions.db")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.actions.Close() })
	acts := action.Options{Store: f.actions, Location: cfg.Location, Site: cfg.Site, WindowDays: cfg.Actions.EffectDays,
		Day: api.ActionDay(f.eng), Known: api.ActionKnown(f.eng), Event: func(id string) (action.Subject, bool) {
			rec, err := f.ev.Get(id)
			return action.Subject{Site: rec.Site, Line: rec.Line, Equipment: rec.Equipment}, err == nil
		}}
	jsonAPI := api.New(f.eng, cfg.Location, cfg.Site, nil, api.WithEvents(f.ev.Handler()),
		api.WithOpenEvents(OpenEvents(f.ev, slog.New(slog.DiscardHandler))), api.WithSegments(segs, time.Now),
		api.WithActions(action.Handler(acts)))
	pages, err := New(Options{Engine: f.eng, Location: cfg.Location, Site: cfg.Site, Events: f.ev, API: jsonAPI, Poll: 250 * time.Millisecond,
		Segments: &segs, Actions: &acts})
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewServer(auth.New(auth.Options{Accounts: accounts}).Wrap(pages))
	t.Cleanup(f.srv.Close)
	return f
}

// apply applies signals and commits them, as the hub does with a batch.
func (f *fixture) apply(t testing.TB, sigs []signal.Signal) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	changes, dirty := f.eng.Apply(sigs)
	if err := f.st.Save(changes, dirty); err != nil {
		t.Fatal(err)
	}
}

// simulate returns a deterministic history of every registered machine
// from from to to, as the demo plant reports it: a state signal at every
// change and every 20 minutes while it lasts (the signal timeout is 30
// minutes), and the operators logged in at each shift change. The fifth
// machine of L1 never reports (as in the demo). Each machine's run share
// drifts by month, so months, lines and machines differ; the last machine
// of L4 (which works every shift of every day) is down since 40 minutes before to, every other machine runs then.
// L2's M06 fades: half its share the month before last, a quarter last
// month and none after its 10th (a declining machine, then at risk).
func simulate(cfg *config.Config, from, to time.Time, sparse bool) []signal.Signal {
	stretch, every := time.Duration(1), 20*time.Minute
	if sparse {
		stretch, every = 4, 100*24*time.Hour
	}
	var out []signal.Signal
	for _, eq := range cfg.Equipment() {
		k := eq.Key
		if k.Line == "L1" && k.Equipment == "M05" {
			continue
		}
		h := fnv.New64a()
		fmt.Fprint(h, k.String())
		rng := rand.New(rand.NewSource(int64(h.Sum64())))
		sig := func(name string, v signal.Value, at time.Time) {
			out = append(out, signal.Signal{Site: k.Site, Line: k.Line, Equipment: k.Equipment, Name: name, Value: v, Time: at, Quality: signal.Good})
		}
		bias := 0.3 + 0.6*rng.Float64() // how much this machine runs
		lastDown := k.Line == "L4" && k.Equipment == "M03"
		fades := k.Line == "L2" && k.Equipment == "M06"
		lastMonth := activity.MonthOf(to, cfg.Location).Start.AddDate(0, -1, 0)
		end := to.Add(-40 * time.Minute)
		shiftOp := ""
		parts, kwh := 0.0, 0.0
		alarmOn := false
		for t := from; t.Before(end); {
			month := int(t.Month())
			share := bias * (0.75 + 0.25*float64((month*7+len(k.Equipment))%5)/4)
			if lt := t.In(cfg.Location); fades && !lt.Before(lastMonth.AddDate(0, -1, 0)) && lt.Before(lastMonth.AddDate(0, 1, 0)) {
				switch {
				case lt.Before(lastMonth):
					share *= 0.5
				case lt.Day() <= 10:
					share *= 0.25
				default:
					share = 0
				}
			}
			var st string
			var d time.Duration
			switch p := rng.Float64(); {
			case p < share:
				st, d = "running", time.Duration(40+rng.Intn(150))*time.Minute
			case p < share+0.08:
				st, d = "down", time.Duration(10+rng.Intn(60))*time.Minute
			case p < share+0.13:
				st, d = "setup", time.Duration(15+rng.Intn(40))*time.Minute
			default:
				st, d = "idle", time.Duration(10+rng.Intn(90))*time.Minute
			}
			d *= stretch
			segEnd := t.Add(d)
			if segEnd.After(end) {
				segEnd = end
			}
			// A breakdown carries an alarm code (from its start time, so the
			// draws above stay as they were), cleared when it ends.
			switch {
			case st == "down":
				sig(signal.Alarm, signal.String(fixtureAlarms[(t.Minute()+t.Hour())%len(fixtureAlarms)]), t)
				alarmOn = true
			case alarmOn:
				sig(signal.Alarm, signal.Number(0), t)
				alarmOn = false
			}
			for at := t; at.Before(segEnd); at = at.Add(every) {
				sig(signal.State, signal.String(st), at)
				// Good parts while running, but not always on M02 of L1
				// (idle running).
				if st == "running" && !(k.Line == "L1" && k.Equipment == "M02" && at.Month()%2 == 0) {
					parts += float64(1 + rng.Intn(20))
				}
				sig(signal.Count, signal.Number(parts), at)
				// Scrap, a share of the parts; an energy meter drawing by
				// state (no draw from the random stream, so the rest stays).
				sig(signal.Scrap, signal.Number(math.Floor(parts*0.03)), at)
				kwh += fixtureKW[st] * every.Hours()
				sig(signal.Energy, signal.Number(kwh), at)
				lt := at.In(cfg.Location)
				if op := operatorAt(k, lt); op != shiftOp {
					sig(signal.Operator, signal.String(op), at)
					shiftOp = op
				}
			}
			t = segEnd
		}
		final := "running"
		if lastDown {
			final = "down"
		}
		for at := end; at.Before(to); at = at.Add(10 * time.Minute) {
			sig(signal.State, signal.String(final), at)
		}
		sig(signal.State, signal.String(final), to.Add(-time.Second))
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}

// fixtureKW is the fixture machines' draw by state, kW.
var fixtureKW = map[string]float64{"running": 22, "idle": 5, "setup": 9, "down": 1.5}

// fixtureAlarms are the alarm codes of the fixture's breakdowns.
var fixtureAlarms = []string{"E101", "E205", "E205", "E330"}

// operatorAt names who works a machine in the shift holding lt: one of four
// operators of the line, by shift and day; now and then two together.
func operatorAt(k signal.Key, lt time.Time) string {
	shift := lt.Hour() / 8 // 0 night, 1 early, 2 late
	n := (lt.YearDay() + shift + len(k.Equipment) + int(k.Equipment[len(k.Equipment)-1])) % 4
	op := fmt.Sprintf("%s-op%d", k.Line, n+1)
	if lt.Day()%9 == 0 && shift == 1 {
		op += fmt.Sprintf(",%s-op%d", k.Line, (n+1)%4+1)
	}
	return op
}

// client is a logged-in HTTP client of the fixture's hub.
func (f *fixture) client(t testing.TB, user string) *http.Client {
	t.Helper()
	return login(t, f.srv.URL, user)
}

// login logs user in at the hub at base.
func login(t testing.TB, base, user string) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.PostForm(base+"/login", map[string][]string{"name": {user}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login of %s: %s", user, resp.Status)
	}
	return c
}
