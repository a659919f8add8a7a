// Package backoff spreads reconnect attempts: agents that lost the same
// server at the same moment must not come back at the same moment.
package backoff

import (
	"math/rand/v2"
	"time"
)

// Jitter spreads d over its upper half, [d/2, d].
func Jitter(d time.Duration) time.Duration {
	return d/2 + rand.N(d/2+1)
}
