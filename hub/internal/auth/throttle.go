package auth

import (
	"net"
	"strings"
	"sync"
	"time"
)

// Failed logins are throttled, as Grafana's brute-force protection does:
// after maxFailures wrong passwords for one name, or maxFailures*4 from one
// client address, within failureWindow, further attempts for it are refused
// (429, with Retry-After) until the window has passed since the first of
// them, even with the right password. A login that succeeds clears the
// name's count. At most maxThrottled names and addresses are tracked: the
// oldest go first, so a flood of made-up names costs bounded memory.
const (
	maxFailures   = 5
	failureWindow = 5 * time.Minute
	maxThrottled  = 10_000
)

// failures counts recent failed logins per key ("user:NAME", "addr:IP").
type failures struct {
	mu   sync.Mutex
	seen map[string]*failureCount
}

type failureCount struct {
	first time.Time // the first failure of the window
	n     int
}

func newFailures() *failures { return &failures{seen: map[string]*failureCount{}} }

// limitOf is how many failures key may have in a window.
func limitOf(key string) int {
	if strings.HasPrefix(key, "addr:") {
		return maxFailures * 4
	}
	return maxFailures
}

// blocked reports, for the first of keys over its limit, how long until it
// may try again.
func (f *failures) blocked(now time.Time, keys ...string) (time.Duration, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, k := range keys {
		c := f.seen[k]
		if c == nil {
			continue
		}
		if left := c.first.Add(failureWindow).Sub(now); left <= 0 {
			delete(f.seen, k)
			continue
		} else if c.n >= limitOf(k) {
			return left, true
		}
	}
	return 0, false
}

// failed counts a failed login for each of keys.
func (f *failures) failed(now time.Time, keys ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, k := range keys {
		c := f.seen[k]
		if c == nil || !now.Before(c.first.Add(failureWindow)) {
			if c == nil && len(f.seen) >= maxThrottled {
				f.evictOldest()
			}
			c = &failureCount{first: now}
			f.seen[k] = c
		}
		c.n++
	}
}

// cleared forgets key's failures (a login that succeeded).
func (f *failures) cleared(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.seen, key)
}

func (f *failures) evictOldest() {
	var oldest string
	var at time.Time
	for k, c := range f.seen {
		if oldest == "" || c.first.Before(at) {
			oldest, at = k, c.first
		}
	}
	delete(f.seen, oldest)
}

// clientAddr is the host part of a request's remote address.
func clientAddr(remote string) string {
	if host, _, err := net.SplitHostPort(remote); err == nil {
		return host
	}
	return remote
}
