package rest

import (
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/anomaly"
	"github.com/floorpulse/floorpulse/hub/internal/auth"
	"github.com/floorpulse/floorpulse/hub/internal/events/ledger"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// runningFrom is a clock that reads origin when it is made and then runs
// in real time.
func runningFrom(origin time.Time) func() time.Time {
	t0 := time.Now()
	return func() time.Time { return origin.Add(time.Since(t0)) }
}

var berlin = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		panic(err)
	}
	return loc
}()

func local(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, berlin)
	if err != nil {
		panic(err)
	}
	return t
}

// openLedger opens a ledger that records changes and owes nothing for them.
func openLedger(t *testing.T) *ledger.Store {
	t.Helper()
	s, err := ledger.Open(filepath.Join(t.TempDir(), "events.db"), ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// downtime is an open unplanned downtime of plant1/L1/<eq> that started 5 minutes before detected.
func downtime(eq string, detected time.Time) anomaly.Event {
	k := signal.Key{Site: "plant1", Line: "L1", Equipment: eq}
	start := detected.Add(-5 * time.Minute)
	return anomaly.Event{ID: anomaly.EventID(anomaly.UnplannedDowntime, k, "", start), Type: anomaly.UnplannedDowntime,
		Severity: anomaly.Warning, Site: k.Site, Line: k.Line, Equipment: k.Equipment, Start: start, Detected: detected,
		Evidence: map[string]float64{"min_duration_s": 300}, Reason: "stopped in shift"}
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// signedIn serves h as package auth would, for the identity *who (none when
// its name is empty).
func signedIn(h http.Handler, who *auth.Identity) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if who.Name != "" {
			r = r.WithContext(auth.WithIdentity(r.Context(), *who))
		}
		h.ServeHTTP(w, r)
	})
}
