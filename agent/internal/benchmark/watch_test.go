package benchmark

import (
	"bufio"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// watcher polls the agent's /metrics during a measurement to tell the two
// halves of the agent apart: when every message was committed to the queue
// (and so acknowledged to the broker), and how many records waited in the
// queue for the forwarder at most. It also samples the process's anonymous
// and file-backed resident memory, of which /proc keeps no peak.
type watcher struct {
	url   string
	usage func() (Usage, error)
	want  uint64
	start time.Time
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once

	mu        sync.Mutex
	committed time.Duration // from start until signals_in_total reached want; 0 if it did not
	maxQueued uint64
	maxAnon   uint64
	maxFile   uint64
}

// watchInterval is the polling period; each poll costs the agent one
// rendering of its metrics page.
const watchInterval = 50 * time.Millisecond

func watch(url string, usage func() (Usage, error), want uint64, start time.Time) *watcher {
	w := &watcher{url: url, usage: usage, want: want, start: start, stop: make(chan struct{}), done: make(chan struct{})}
	go w.run()
	return w
}

func (w *watcher) run() {
	defer close(w.done)
	c := http.Client{Timeout: time.Second}
	t := time.NewTicker(watchInterval)
	defer t.Stop()
	for {
		w.poll(&c)
		select {
		case <-w.stop:
			w.poll(&c)
			return
		case <-t.C:
		}
	}
}

func (w *watcher) poll(c *http.Client) {
	if u, err := w.usage(); err == nil {
		w.mu.Lock()
		w.maxAnon = max(w.maxAnon, u.RSSAnon)
		w.maxFile = max(w.maxFile, u.RSSFile)
		w.mu.Unlock()
	}
	resp, err := c.Get(w.url)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	var in, queued uint64
	var seenIn bool
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		name, value, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		if i := strings.IndexByte(name, '{'); i >= 0 {
			// Label values (a broker URL) hold no spaces, so the value is after the last space.
			name, value = name[:i], line[strings.LastIndexByte(line, ' ')+1:]
		}
		v, err := strconv.ParseFloat(value, 64) // the exposition writes 1.2e+06 for large counts
		if err != nil {
			continue
		}
		n := uint64(v)
		switch name {
		case "floorpulse_agent_signals_in_total":
			in += n
			seenIn = true
		case "floorpulse_agent_queue_records":
			queued = n
		}
	}
	now := time.Since(w.start)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.maxQueued = max(w.maxQueued, queued)
	if seenIn && in >= w.want && w.committed == 0 {
		w.committed = now
	}
}

// finish stops polling (after one last poll) and returns what was seen; it
// may be called again.
func (w *watcher) finish() (committed time.Duration, maxQueued, maxAnon, maxFile uint64) {
	w.once.Do(func() { close(w.stop) })
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.committed, w.maxQueued, w.maxAnon, w.maxFile
}
