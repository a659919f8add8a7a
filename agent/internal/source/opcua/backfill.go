package opcua

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/ua"

	"github.com/floorpulse/floorpulse/agent/internal/config"
	"github.com/floorpulse/floorpulse/pkg/atomicfile"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// Backfill: after a reconnect, what each node took while the agent was
// disconnected is read from the server's history (HistoryRead, raw values)
// and committed before the subscription (or the first poll) brings the
// current values. A new session otherwise starts from the current value
// and loses every change in between.
//
// Each node's reading starts after the source timestamp of the last value
// committed for it, at most cfg.Backfill back, so nothing is read twice on
// purpose; a value read again anyway (the last one of the outage is also the
// subscription's first) has the same signal id and is dropped downstream.
// Those times are saved in data_dir/opcua every saveSeenEvery and when the
// source stops, so a restarted agent reads back what it missed while it was
// down. A saved time is never later than a committed value, only possibly
// earlier (the agent was killed before the next save): then values are read
// again, not lost. A node without a committed value yet is not read back.

// historyValuesPerRead bounds the values one node returns per HistoryRead
// (the rest follow through continuation points), historyNodesPerRead the
// nodes in one: a response holds at most 25,000 values.
const (
	historyValuesPerRead = 500
	historyNodesPerRead  = 50
)

// maxBackfillValues bounds the values read back per node in one session.
const maxBackfillValues = 100_000

// saveSeenEvery is how often the last committed source times are saved.
const saveSeenEvery = 10 * time.Second

// seenValue notes that node h delivered a value of source time t, to be
// kept once its batch is committed.
func (s *Source) seenValue(h uint32, sig signal.Signal) {
	if s.cfg.Backfill > 0 && !sig.Received {
		s.pendingSeen = append(s.pendingSeen, seen{h, sig.Time})
	}
}

type seen struct {
	h uint32
	t time.Time
}

// committed keeps the times noted since the last commit.
func (s *Source) committed(ok bool) {
	if ok && len(s.pendingSeen) > 0 {
		s.seenMu.Lock()
		for _, p := range s.pendingSeen {
			if p.t.After(s.lastSeen[p.h]) {
				s.lastSeen[p.h] = p.t
				s.seenDirty = true
			}
		}
		s.seenMu.Unlock()
	}
	s.pendingSeen = s.pendingSeen[:0]
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
	path := s.seenPath
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
	s.seenMu.Lock()
	defer s.seenMu.Unlock()
	for h := range s.nodes {
		if t, ok := saved.Nodes[s.nodes[h].name]; ok && plausible(t) {
			s.lastSeen[h] = t.UTC()
		}
	}
}

// saveSeen writes the times if they changed since the last save.
func (s *Source) saveSeen() {
	path := s.seenPath
	if path == "" {
		return
	}
	s.seenMu.Lock()
	if !s.seenDirty {
		s.seenMu.Unlock()
		return
	}
	saved := savedSeen{Endpoint: s.cfg.Endpoint, Nodes: map[string]time.Time{}}
	for h, t := range s.lastSeen {
		if !t.IsZero() {
			saved.Nodes[s.nodes[h].name] = t
		}
	}
	s.seenDirty = false
	s.seenMu.Unlock()
	b, err := json.Marshal(saved)
	if err == nil {
		err = os.MkdirAll(filepath.Dir(path), 0o700)
	}
	if err == nil {
		err = atomicfile.Write(path, b, 0o600)
	}
	if err != nil {
		s.seenMu.Lock()
		s.seenDirty = true
		s.seenMu.Unlock()
		s.warn.Warn("saving the backfill times failed", "file", path, "err", err)
	}
}

// keepSavingSeen saves the times every saveSeenEvery until ctx ends, then
// once more.
func (s *Source) keepSavingSeen(ctx context.Context) {
	if s.seenPath == "" {
		return
	}
	t := time.NewTicker(s.saveSeenEvery)
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

// backfill reads back and commits what the nodes took since their last
// committed value. It fails only when committing fails; a HistoryRead that
// fails is logged and the session goes on. A server without history for a
// node answers per node (logged, counted, the others go on); one without
// the HistoryRead service answers with a fault, and is not asked again.
func (s *Source) backfill(ctx context.Context, c requester, perCall int) error {
	return s.backfillNodes(ctx, c, perCall, nil)
}

// backfillBefore reads back what each node of until took after its last
// committed value and before the time until gives it: the values its
// queue at the server discarded when it overflowed.
func (s *Source) backfillBefore(ctx context.Context, c requester, until map[uint32]time.Time) error {
	return s.backfillNodes(ctx, c, historyNodesPerRead, until)
}

// backfillNodes reads back the nodes' values since their last committed
// one: every node's up to now (until nil), or those of until's nodes
// before their time there.
func (s *Source) backfillNodes(ctx context.Context, c requester, perCall int, until map[uint32]time.Time) error {
	if s.cfg.Backfill <= 0 || s.noHistory.Load() {
		return nil
	}
	now := s.now()
	floor := now.Add(-s.cfg.Backfill)
	s.seenMu.Lock()
	lastSeen := slices.Clone(s.lastSeen)
	s.seenMu.Unlock()
	// From each node's last value, or the floor; nodes are read in the
	// order of that time, so each request starts at about its nodes' own
	// times rather than at the earliest of all.
	from := make([]time.Time, len(s.nodes))
	var handles []uint32
	for h := range s.nodes {
		t := lastSeen[h]
		if t.IsZero() || s.nodes[h].nodeID == nil || s.refused[uint32(h)] || s.historyless[h] {
			continue
		}
		if u, ok := until[uint32(h)]; until != nil && (!ok || !u.After(t)) {
			continue
		}
		if t.Before(floor) {
			t = floor
		}
		from[h] = t
		handles = append(handles, uint32(h))
	}
	if len(handles) == 0 {
		return nil
	}
	slices.SortFunc(handles, func(a, b uint32) int { return from[a].Compare(from[b]) })
	perCall = min(perCall, historyNodesPerRead)
	var total, unsupported int
	var err error
	for i := 0; i < len(handles) && err == nil; i += perCall {
		batch := handles[i:min(i+perCall, len(handles))]
		// Past now: a server clock ahead of the agent's still gives its
		// latest values (the subscription brings them again anyway).
		end := now.Add(time.Minute)
		if until != nil {
			end = time.Time{}
			for _, h := range batch {
				if u := until[h]; u.After(end) {
					end = u
				}
			}
		}
		details := &ua.ReadRawModifiedDetails{StartTime: from[batch[0]], EndTime: end, NumValuesPerNode: historyValuesPerRead}
		var n, u int
		n, u, err = s.backfillBatch(ctx, c, details, batch, from, until)
		total, unsupported = total+n, unsupported+u
	}
	s.stat.Backfilled.Add(uint64(total))
	switch {
	case errors.Is(err, errCommit):
		return err
	case err != nil:
		// The values are still acquired from now on: a failed backfill
		// (a lost connection ends the session right after) costs the outage's
		// changes, not the session.
		s.warn.Warn("backfill failed, going on without it", "err", err, "values", total)
	case until != nil:
		s.log.Info("read back from the server's history what its overflowing queues dropped", "values", total, "nodes", len(handles),
			"nodes_without_history", unsupported, "since", from[handles[0]])
	default:
		s.log.Info("backfilled from the server's history", "values", total, "nodes", len(handles),
			"nodes_without_history", unsupported, "since", from[handles[0]])
	}
	return nil
}

// backfillBatch reads the history of one request's nodes to the end,
// following continuation points, and commits it as it comes.
// Values up to from[h] are not taken (they were committed before), nor
// from until[h] on (when until is not nil).
func (s *Source) backfillBatch(ctx context.Context, c requester, details *ua.ReadRawModifiedDetails, batch []uint32, from []time.Time, until map[uint32]time.Time) (values, unsupported int, err error) {
	todo, cps := batch, make([][]byte, len(batch))
	read := map[uint32]int{} // values read per node
	for len(todo) > 0 {
		res, err := s.historyRead(ctx, c, details, todo, cps, false)
		if err != nil {
			var sc ua.StatusCode
			if errors.As(err, &sc) && (sc == ua.StatusBadServiceUnsupported || sc == ua.StatusBadHistoryOperationUnsupported) {
				s.noHistory.Store(true)
				s.log.Warn("the server does not support HistoryRead: backfill is off for it", "err", err)
			}
			return values, unsupported, fmt.Errorf("reading history of %d nodes: %w", len(todo), err)
		}
		var next []uint32
		var nextCPs [][]byte
		var sigs []signal.Signal
		rx := s.now()
		for k, r := range res {
			h := todo[k]
			if r == nil || (r.StatusCode != ua.StatusOK && r.StatusCode != ua.StatusGoodMoreData && r.StatusCode != ua.StatusGoodNoData) {
				code := ua.StatusBad
				if r != nil {
					code = r.StatusCode
				}
				unsupported++
				if code == ua.StatusBadHistoryOperationUnsupported {
					s.historyless[h] = true // not asked again
				}
				s.warn.Warn("no history for a node", "node", s.nodes[h].name, "status", code)
				continue
			}
			data, ok := historyData(r)
			if !ok {
				s.stat.DecodeErrors.Add(1)
				s.warn.Warn("unreadable history for a node", "node", s.nodes[h].name)
				continue
			}
			last := from[h]
			for _, dv := range data {
				if dv == nil || dv.EncodingMask&ua.DataValueSourceTimestamp == 0 || !dv.SourceTimestamp.After(last) {
					continue
				}
				if u, ok := until[h]; ok && !dv.SourceTimestamp.Before(u) {
					continue
				}
				if sig, ok := s.convert(h, dv, rx); ok {
					sigs = append(sigs, sig)
				}
			}
			read[h] += len(data)
			if len(r.ContinuationPoint) > 0 && read[h] < maxBackfillValues {
				next, nextCPs = append(next, h), append(nextCPs, r.ContinuationPoint)
			} else if len(r.ContinuationPoint) > 0 {
				s.warn.Warn("backfill stopped: too many values for a node", "node", s.nodes[h].name, "values", read[h])
				_, _ = s.historyRead(ctx, c, details, []uint32{h}, [][]byte{r.ContinuationPoint}, true)
			}
		}
		if err := s.commitAll(ctx, sigs); err != nil {
			return values, unsupported, err
		}
		values += len(sigs)
		todo, cps = next, nextCPs
	}
	return values, unsupported, nil
}

// historyRead sends one HistoryRead of raw values for handles, each from its
// continuation point (nil: from the start), or releases those points.
func (s *Source) historyRead(ctx context.Context, c requester, details *ua.ReadRawModifiedDetails, handles []uint32, cps [][]byte, release bool) ([]*ua.HistoryReadResult, error) {
	req := &ua.HistoryReadRequest{
		TimestampsToReturn:        ua.TimestampsToReturnBoth,
		ReleaseContinuationPoints: release,
		HistoryReadDetails: &ua.ExtensionObject{
			TypeID:       ua.NewFourByteExpandedNodeID(0, id.ReadRawModifiedDetails_Encoding_DefaultBinary),
			EncodingMask: ua.ExtensionObjectBinary,
			Value:        details,
		},
	}
	for k, h := range handles {
		req.NodesToRead = append(req.NodesToRead, &ua.HistoryReadValueID{NodeID: s.nodes[h].nodeID, DataEncoding: &ua.QualifiedName{}, ContinuationPoint: cps[k]})
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	res, err := send[*ua.HistoryReadResponse](rctx, c, req)
	if err != nil {
		return nil, err
	}
	if res.ResponseHeader != nil && res.ResponseHeader.ServiceResult != ua.StatusOK {
		return nil, res.ResponseHeader.ServiceResult
	}
	if !release && len(res.Results) != len(handles) {
		return nil, fmt.Errorf("%d results for %d nodes", len(res.Results), len(handles))
	}
	return res.Results, nil
}

// historyData returns the values of one node's history result.
func historyData(r *ua.HistoryReadResult) ([]*ua.DataValue, bool) {
	if r.HistoryData == nil || r.HistoryData.Value == nil {
		return nil, r.StatusCode == ua.StatusGoodNoData || r.StatusCode == ua.StatusOK
	}
	switch d := r.HistoryData.Value.(type) {
	case *ua.HistoryData:
		return d.DataValues, true
	case *ua.HistoryModifiedData:
		return d.DataValues, true
	}
	return nil, false
}
