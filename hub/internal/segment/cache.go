package segment

import (
	"sync"
	"time"
)

// Cache keeps the reports of recent months for a while: pages, the API and
// the report ask for the same month again and again, and a month's segments
// change slowly (they are monthly figures), while computing them reads
// months of every machine's history.
type Cache struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[string]cached
}

type cached struct {
	at time.Time
	r  Report
}

// maxCached bounds how many months a cache holds.
const maxCached = 24

// NewCache returns a cache whose reports are used for ttl after they were
// computed.
func NewCache(ttl time.Duration) *Cache { return &Cache{ttl: ttl, m: map[string]cached{}} }

func (c *Cache) get(month string, now time.Time) (Report, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[month]
	if !ok || now.Before(e.at) || !now.Before(e.at.Add(c.ttl)) {
		return Report{}, false
	}
	return e.r, true
}

func (c *Cache) put(month string, now time.Time, r Report) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[month]; !ok && len(c.m) >= maxCached {
		oldest := ""
		for k, e := range c.m {
			if oldest == "" || e.at.Before(c.m[oldest].at) {
				oldest = k
			}
		}
		delete(c.m, oldest)
	}
	c.m[month] = cached{at: now, r: r}
}
