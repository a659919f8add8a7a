package opcua

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/floorpulse/floorpulse/agent/internal/config"
	"github.com/floorpulse/floorpulse/pkg/atomicfile"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// saveSeenEvery is how often the last committed source times are saved.
const saveSeenEvery = 10 * time.Second

// seenTimes are the source times of the last value committed per node
// (index = client handle), where backfill starts reading, kept over
// sessions and saved in a file over runs.
type seenTimes struct {
	mu    sync.Mutex // guards times and dirty: they are saved by a goroutine of their own
	times []time.Time
	dirty bool          // times changed since they were saved
	path  string        // where they are saved; "" when they are not
	every time.Duration // how often they are saved
}

// seenAt is a value of node h, of source time t.
type seenAt struct {
	h uint32
	t time.Time
}

// keep keeps the times of values committed that are later than those kept.
func (st *seenTimes) keep(seen []seenAt) {
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, p := range seen {
		if p.t.After(st.times[p.h]) {
			st.times[p.h] = p.t
			st.dirty = true
		}
	}
}

// snapshot returns a copy of the times.
func (st *seenTimes) snapshot() []time.Time {
	st.mu.Lock()
	defer st.mu.Unlock()
	return slices.Clone(st.times)
}

// seenValue notes that node h delivered a value of source time t, to be
// kept once its batch is committed.
func (s *session) seenValue(h uint32, sig signal.Signal) {
	if s.cfg.Backfill > 0 && !sig.Received {
		s.pending = append(s.pending, seenAt{h, sig.Time})
	}
}

// committed keeps the times noted since the last commit.
func (s *session) committed(ok bool) {
	if ok && len(s.pending) > 0 {
		s.seen.keep(s.pending)
	}
	s.pending = s.pending[:0]
}

// seenPath is where the last committed source times of this server's
// nodes are saved: one file per endpoint and node list ("" without
// backfill or data_dir).
func seenPath(cfg config.OPCUA) string {
	if cfg.DataDir == "" || cfg.Backfill <= 0 {
		return ""
	}
	return filepath.Join(cfg.DataDir, pkiDir, "backfill-"+serverHash(cfg)+".json")
}

// serverHash names the files of one endpoint and node list.
func serverHash(cfg config.OPCUA) string {
	h := sha256.New()
	h.Write([]byte(cfg.Endpoint))
	for _, n := range cfg.Nodes {
		h.Write([]byte{0})
		h.Write([]byte(n.NodeID + "\x00" + n.BrowsePath))
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// savedSeen is the file's content.
type savedSeen struct {
	Endpoint string               `json:"endpoint"`
	Nodes    map[string]time.Time `json:"nodes"` // configured node_id or browse_path -> source time
}

// loadSeen reads the saved times; a missing or unreadable file leaves
// them unknown (no backfill until a value is committed).
func (s *Source) loadSeen() {
	path := s.seen.path
	if path == "" {
		return
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	var saved savedSeen
	if err == nil {
		err = json.Unmarshal(b, &saved)
	}
	if err != nil {
		s.log.Warn("ignoring the saved backfill times", "file", path, "err", err)
		return
	}
	s.seen.mu.Lock()
	defer s.seen.mu.Unlock()
	for h := range s.nodes {
		if t, ok := saved.Nodes[s.nodes[h].name]; ok && plausible(t) {
			s.seen.times[h] = t.UTC()
		}
	}
}

// saveSeen writes the times if they changed since the last save.
func (s *Source) saveSeen() {
	path := s.seen.path
	if path == "" {
		return
	}
	s.seen.mu.Lock()
	if !s.seen.dirty {
		s.seen.mu.Unlock()
		return
	}
	saved := savedSeen{Endpoint: s.cfg.Endpoint, Nodes: map[string]time.Time{}}
	for h, t := range s.seen.times {
		if !t.IsZero() {
			saved.Nodes[s.nodes[h].name] = t
		}
	}
	s.seen.dirty = false
	s.seen.mu.Unlock()
	b, err := json.Marshal(saved)
	if err == nil {
		err = os.MkdirAll(filepath.Dir(path), 0o700)
	}
	if err == nil {
		err = atomicfile.Write(path, b, 0o600)
	}
	if err != nil {
		s.seen.mu.Lock()
		s.seen.dirty = true
		s.seen.mu.Unlock()
		s.warn.Warn("saving the backfill times failed", "file", path, "err", err)
	}
}

// keepSavingSeen saves the times every seen.every until ctx ends, then
// once more.
func (s *Source) keepSavingSeen(ctx context.Context) {
	if s.seen.path == "" {
		return
	}
	t := time.NewTicker(s.seen.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			s.saveSeen()
			return
		case <-t.C:
			s.saveSeen()
		}
	}
}
