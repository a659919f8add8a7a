package app

import (
	"testing"
	"time"
)

// The horizon is the start of the plant-local month holding the instant
// retention.state ago, so whole months are restated or none.
func TestHorizon(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	day := 24 * time.Hour
	for _, c := range []struct {
		now  time.Time
		keep time.Duration
		want time.Time
	}{
		{time.Date(2027, 3, 15, 12, 0, 0, 0, berlin), 400 * day, time.Date(2026, 2, 1, 0, 0, 0, 0, berlin)},
		{time.Date(2027, 3, 1, 0, 30, 0, 0, berlin), 31 * day, time.Date(2027, 1, 1, 0, 0, 0, 0, berlin)},
		// Months are the plant's: 23:30 UTC on 1 December is 2 December in Berlin.
		{time.Date(2026, 12, 1, 23, 30, 0, 0, time.UTC), 31 * day, time.Date(2026, 11, 1, 0, 0, 0, 0, berlin)},
	} {
		if got := horizon(c.now, c.keep, berlin); !got.Equal(c.want) {
			t.Errorf("horizon(%s, %s) = %s, want %s", c.now, c.keep, got, c.want)
		}
	}
}
