package opcuasrv

import (
	"encoding/binary"
	"sort"
	"time"

	"github.com/gopcua/opcua/ua"
)

// maxHistory is how many values the server keeps at least per node for
// HistoryRead; the oldest go first, maxHistory at a time.
const maxHistory = 10_000

// entry is one value of a node's history; seq counts the node's values
// from 1 and names a place in the history across the oldest being dropped
// (continuation points hold it).
type entry struct {
	seq uint64
	dv  *ua.DataValue
}

// history is a node's values in the order they were set.
type history struct {
	entries []entry
	next    uint64
}

func (h *history) add(dv *ua.DataValue) {
	h.next++
	h.entries = append(h.entries, entry{seq: h.next, dv: dv})
	if len(h.entries) >= 2*maxHistory {
		h.entries = append(h.entries[:0:0], h.entries[maxHistory:]...)
	}
}

// readRaw returns at most max values (0: all) whose source time is in
// [start, end), from the entry with sequence number from on (0: the
// first), and the sequence number to continue from (0 when done).
func (h *history) readRaw(start, end time.Time, from uint64, max int) ([]*ua.DataValue, uint64) {
	i := sort.Search(len(h.entries), func(i int) bool { return h.entries[i].seq >= from })
	var out []*ua.DataValue
	for ; i < len(h.entries); i++ {
		t := h.entries[i].dv.SourceTimestamp
		if t.Before(start) || !t.Before(end) {
			continue
		}
		if max > 0 && len(out) == max {
			return out, h.entries[i].seq
		}
		out = append(out, h.entries[i].dv)
	}
	return out, 0
}

// historyRead answers HistoryRead of raw values (ReadRawModifiedDetails,
// not modified) for the simulator's variables, in forward order from
// StartTime up to EndTime (excluded), NumValuesPerNode at a time with
// continuation points. Other details get BadHistoryOperationUnsupported per
// node, an unknown node BadNodeIdUnknown; a continuation point that no
// longer fits (its values were dropped) BadContinuationPointInvalid.
func (s *Server) historyRead(r ua.Request) (ua.Response, error) {
	req, ok := r.(*ua.HistoryReadRequest)
	if !ok {
		return nil, ua.StatusBadRequestTypeInvalid
	}
	hdr := responseHeader(req.RequestHeader)
	var details *ua.ReadRawModifiedDetails
	if req.HistoryReadDetails != nil {
		details, _ = req.HistoryReadDetails.Value.(*ua.ReadRawModifiedDetails)
	}
	results := make([]*ua.HistoryReadResult, len(req.NodesToRead))
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, n := range req.NodesToRead {
		res := &ua.HistoryReadResult{StatusCode: ua.StatusOK, ContinuationPoint: []byte{}, HistoryData: ua.NewExtensionObject(nil)}
		results[i] = res
		var h *history
		if n != nil && n.NodeID != nil {
			h = s.history[n.NodeID.String()]
		}
		switch {
		case h == nil:
			res.StatusCode = ua.StatusBadNodeIDUnknown
			continue
		case details == nil || details.IsReadModified || details.ReturnBounds:
			res.StatusCode = ua.StatusBadHistoryOperationUnsupported
			continue
		case req.ReleaseContinuationPoints:
			continue // nothing is held for a continuation point
		}
		var from uint64
		if len(n.ContinuationPoint) > 0 {
			if len(n.ContinuationPoint) != 8 {
				res.StatusCode = ua.StatusBadContinuationPointInvalid
				continue
			}
			from = binary.BigEndian.Uint64(n.ContinuationPoint)
			if len(h.entries) == 0 || from < h.entries[0].seq {
				res.StatusCode = ua.StatusBadContinuationPointInvalid
				continue
			}
		}
		end := details.EndTime
		if end.IsZero() {
			end = time.Now().Add(24 * time.Hour)
		}
		dvs, next := h.readRaw(details.StartTime, end, from, int(details.NumValuesPerNode))
		if next > 0 {
			res.ContinuationPoint = binary.BigEndian.AppendUint64(nil, next)
		}
		if len(dvs) == 0 {
			res.StatusCode = ua.StatusGoodNoData
		}
		res.HistoryData = ua.NewExtensionObject(&ua.HistoryData{DataValues: dvs})
	}
	return &ua.HistoryReadResponse{ResponseHeader: hdr, Results: results, DiagnosticInfos: []*ua.DiagnosticInfo{}}, nil
}
