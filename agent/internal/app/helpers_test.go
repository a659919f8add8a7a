package app

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/floorpulse/floorpulse/agent/internal/config"
)

// runAgent runs an in-process agent on doc until the returned stop is
// called (or the test ends).
func runAgent(t *testing.T, doc string) (*App, func()) {
	t.Helper()
	var cfg config.Config
	if err := loadString(doc, &cfg); err != nil {
		t.Fatal(err)
	}
	a := New(&cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
	t.Cleanup(stop)
	return a, stop
}

// scrape returns what the agent's /metrics serves.
func scrape(a *App) string {
	rec := httptest.NewRecorder()
	a.Metrics.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	return rec.Body.String()
}

// metric reads one sample (name with labels, if any) from the agent's metrics.
func metric(a *App, name string) float64 {
	v, _ := metricValue(scrape(a), name)
	return v
}

func ready(a *App) bool { ok, _ := a.Metrics.Ready(); return ok }
