package backoff

import (
	"testing"
	"time"
)

func TestJitterStaysInTheUpperHalf(t *testing.T) {
	for _, d := range []time.Duration{time.Millisecond, 500 * time.Millisecond, 30 * time.Second} {
		lo, hi := d, time.Duration(0)
		for range 1000 {
			j := Jitter(d)
			if j < d/2 || j > d {
				t.Fatalf("Jitter(%s) = %s, outside [%s, %s]", d, j, d/2, d)
			}
			lo, hi = min(lo, j), max(hi, j)
		}
		if d >= 500*time.Millisecond && hi-lo < d/4 {
			t.Errorf("Jitter(%s) spread only over [%s, %s]", d, lo, hi)
		}
	}
}
