package opcua

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/ua"

	"github.com/floorpulse/floorpulse/agent/internal/metrics"
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
// Those times are committed with the values in the queue file (WithState),
// in the same transaction, so a restarted agent, even after a SIGKILL,
// reads back exactly what changed after the last value it committed. A
// node without a committed value yet is not read back.

// historyValuesPerRead bounds the values one node returns per HistoryRead
// (the rest follow through continuation points), historyNodesPerRead the
// nodes in one: a response holds at most 25,000 values.
const (
	historyValuesPerRead = 500
	historyNodesPerRead  = 50
)

// maxBackfillValues bounds the values read back per node in one session.
const maxBackfillValues = 100_000

// backfill reads back and commits what the nodes took since their last
// committed value. It fails only when committing fails; a HistoryRead that
// fails is logged and the session goes on. A server without history for a
// node answers per node (logged, counted, the others go on); one without
// the HistoryRead service answers with a fault, and is not asked again.
func (s *session) backfill(ctx context.Context, c requester, perCall int) error {
	return s.backfillNodes(ctx, c, perCall, nil)
}

// backfillBefore reads back what each node of until took after its last
// committed value and before the time until gives it: the values its
// queue at the server discarded when it overflowed.
func (s *session) backfillBefore(ctx context.Context, c requester, until map[uint32]time.Time) error {
	return s.backfillNodes(ctx, c, historyNodesPerRead, until)
}

// backfillNodes reads back the nodes' values since their last committed
// one: every node's up to now (until nil), or those of until's nodes
// before their time there.
func (s *session) backfillNodes(ctx context.Context, c requester, perCall int, until map[uint32]time.Time) error {
	if s.cfg.Backfill <= 0 || s.srv.noHistory.Load() {
		return nil
	}
	now := s.now()
	from, handles := s.backfillFrom(now.Add(-s.cfg.Backfill), until)
	if len(handles) == 0 {
		return nil
	}
	perCall = min(perCall, historyNodesPerRead)
	var total, unsupported int
	var err error
	for i := 0; i < len(handles) && err == nil; i += perCall {
		batch := handles[i:min(i+perCall, len(handles))]
		details := &ua.ReadRawModifiedDetails{StartTime: from[batch[0]], EndTime: backfillEnd(now, batch, until), NumValuesPerNode: historyValuesPerRead}
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

// backfillFrom returns, per node (index = client handle), the time its
// reading starts from: its last committed value, or floor if that is
// earlier; and the nodes to read, in the order of that time, so that each
// request starts at about its nodes' own times rather than at the earliest
// of all. A node without a committed value is not read, nor (until not
// nil) one that until does not name after it.
func (s *session) backfillFrom(floor time.Time, until map[uint32]time.Time) ([]time.Time, []uint32) {
	lastSeen := s.seen.snapshot()
	from := make([]time.Time, len(s.nodes))
	var handles []uint32
	for h := range s.nodes {
		t := lastSeen[h]
		if t.IsZero() || s.nodes[h].nodeID == nil || s.refused[uint32(h)] || s.srv.historyless[h] {
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
	slices.SortFunc(handles, func(a, b uint32) int { return from[a].Compare(from[b]) })
	return from, handles
}

// backfillEnd is where the reading of batch ends: the latest time until
// gives its nodes, or (until nil) a minute past now: a server clock ahead
// of the agent's still gives its latest values (the subscription brings
// them again anyway).
func backfillEnd(now time.Time, batch []uint32, until map[uint32]time.Time) time.Time {
	if until == nil {
		return now.Add(time.Minute)
	}
	var end time.Time
	for _, h := range batch {
		if u := until[h]; u.After(end) {
			end = u
		}
	}
	return end
}

// backfillBatch reads the history of one request's nodes to the end,
// following continuation points, and commits it as it comes.
// Values up to from[h] are not taken (they were committed before), nor
// from until[h] on (when until is not nil).
func (s *session) backfillBatch(ctx context.Context, c requester, details *ua.ReadRawModifiedDetails, batch []uint32, from []time.Time, until map[uint32]time.Time) (values, unsupported int, err error) {
	todo, cps := batch, make([][]byte, len(batch))
	read := map[uint32]int{} // values read per node
	for len(todo) > 0 {
		res, err := s.historyRead(ctx, c, details, todo, cps, false)
		if err != nil {
			if noHistoryService(err) {
				s.srv.noHistory.Store(true)
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
			if s.noHistoryFor(h, r) {
				unsupported++
				continue
			}
			data, ok := historyData(r)
			if !ok {
				s.stat.DecodeErrors.Count(metrics.BadPayload)
				s.warn.Warn("unreadable history for a node", "node", s.nodes[h].name, "reason", metrics.BadPayload.String())
				continue
			}
			sigs = s.historySignals(sigs, h, data, from[h], until, rx)
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

// noHistoryFor tells whether r, node h's history result, says the server
// has none for the node, and logs it. A node whose history the server does
// not support is not asked for again.
func (s *session) noHistoryFor(h uint32, r *ua.HistoryReadResult) bool {
	if r != nil && (r.StatusCode == ua.StatusOK || r.StatusCode == ua.StatusGoodMoreData || r.StatusCode == ua.StatusGoodNoData) {
		return false
	}
	code := ua.StatusBad
	if r != nil {
		code = r.StatusCode
	}
	if code == ua.StatusBadHistoryOperationUnsupported {
		s.srv.historyless[h] = true
	}
	s.warn.Warn("no history for a node", "node", s.nodes[h].name, "status", code)
	return true
}

// historySignals appends to sigs the signals of node h's history values
// after from and (when until is not nil) before until[h], received at rx.
func (s *session) historySignals(sigs []signal.Signal, h uint32, data []*ua.DataValue, from time.Time, until map[uint32]time.Time, rx time.Time) []signal.Signal {
	for _, dv := range data {
		if dv == nil || dv.EncodingMask&ua.DataValueSourceTimestamp == 0 || !dv.SourceTimestamp.After(from) {
			continue
		}
		if u, ok := until[h]; ok && !dv.SourceTimestamp.Before(u) {
			continue
		}
		if sig, ok := s.convert(h, dv, rx); ok {
			sigs = append(sigs, sig)
		}
	}
	return sigs
}

// historyRead sends one HistoryRead of raw values for handles, each from its
// continuation point (nil: from the start), or releases those points.
func (s *session) historyRead(ctx context.Context, c requester, details *ua.ReadRawModifiedDetails, handles []uint32, cps [][]byte, release bool) ([]*ua.HistoryReadResult, error) {
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
