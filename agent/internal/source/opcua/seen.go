package opcua

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/floorpulse/floorpulse/agent/internal/buffer"
	"github.com/floorpulse/floorpulse/agent/internal/config"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// seenTimes are the source times of the last value committed per node
// (index = client handle), where backfill starts reading, kept over
// sessions and, with WithState, in the queue file over runs.
type seenTimes struct {
	mu    sync.Mutex // guards times: sessions come and go, the source stays
	times []time.Time
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

// seenPuts are the state records of the times noted since the last commit
// that are later than those kept, committed with the values they come from:
// a restarted agent starts reading back exactly after the last value it
// committed, even after a SIGKILL (nil without WithState).
func (s *session) seenPuts() []buffer.Put {
	if s.state == nil || len(s.pending) == 0 {
		return nil
	}
	latest := map[uint32]time.Time{}
	for _, p := range s.pending {
		if p.t.After(latest[p.h]) {
			latest[p.h] = p.t
		}
	}
	kept := s.seen.snapshot()
	var puts []buffer.Put
	for h, t := range latest {
		if t.After(kept[h]) {
			puts = append(puts, buffer.Put{Key: s.seenKey(h), Value: binary.BigEndian.AppendUint64(nil, uint64(t.UnixNano()))})
		}
	}
	return puts
}

// seenPrefix is the key prefix of this server's times in the queue's
// state: one per endpoint and node list.
func seenPrefix(cfg config.OPCUA) string {
	return "opcua/seen/" + serverHash(cfg) + "/"
}

// seenKey is the state key of node h's time.
func (s *Source) seenKey(h uint32) []byte {
	return []byte(seenPrefix(s.cfg) + s.nodes[h].name)
}

// serverHash names the files and records of one endpoint and node list.
func serverHash(cfg config.OPCUA) string {
	h := sha256.New()
	h.Write([]byte(cfg.Endpoint))
	for _, n := range cfg.Nodes {
		h.Write([]byte{0})
		h.Write([]byte(n.NodeID + "\x00" + n.BrowsePath))
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// loadSeen reads the times committed by the last run from the queue's
// state; none leaves them unknown (no backfill until a value is committed).
func (s *Source) loadSeen() error {
	if s.state == nil {
		return nil
	}
	byName := map[string]uint32{}
	for h := range s.nodes {
		byName[s.nodes[h].name] = uint32(h)
	}
	prefix := seenPrefix(s.cfg)
	loaded := 0
	s.seen.mu.Lock()
	defer s.seen.mu.Unlock()
	err := s.state.State([]byte(prefix), func(k, v []byte) error {
		h, ok := byName[string(k[len(prefix):])]
		if !ok || len(v) != 8 {
			return nil
		}
		if t := time.Unix(0, int64(binary.BigEndian.Uint64(v))).UTC(); plausible(t) {
			s.seen.times[h] = t
			loaded++
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("loading the backfill times: %w", err)
	}
	if loaded > 0 {
		s.log.Info("loaded backfill times", "nodes", loaded)
	}
	return nil
}
