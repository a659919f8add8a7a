package opcua

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/ua"
)

// defaultPerCall is how many items one request holds when neither the
// configuration nor the server's OperationLimits say.
const defaultPerCall = 1000

// limits are the server's operation limits, as far as they bound us.
type limits struct {
	monitor, read, translate int
}

// learnedLimits are the per-call limits a server enforced without stating
// them in its OperationLimits (0: none learned). They outlive the session:
// the refusal ends it, and the next session sends fewer.
type learnedLimits struct {
	monitor, read, translate atomic.Int64
}

// apply lowers lim to what was learned.
func (l *learnedLimits) apply(lim limits) limits {
	lower := func(dst *int, learned *atomic.Int64) {
		if v := int(learned.Load()); v > 0 {
			*dst = min(*dst, v)
		}
	}
	lower(&lim.monitor, &l.monitor)
	lower(&lim.read, &l.read)
	lower(&lim.translate, &l.translate)
	return lim
}

// readLimits reads the server's OperationLimits; a limit the server does
// not state (or states as 0, no limit) is defaultPerCall, and a configured
// max_items_per_call bounds them all.
func readLimits(ctx context.Context, c requester, configured int) limits {
	lim := limits{defaultPerCall, defaultPerCall, defaultPerCall}
	ids := []uint32{
		id.Server_ServerCapabilities_OperationLimits_MaxMonitoredItemsPerCall,
		id.Server_ServerCapabilities_OperationLimits_MaxNodesPerRead,
		id.Server_ServerCapabilities_OperationLimits_MaxNodesPerTranslateBrowsePathsToNodeIDs,
	}
	dst := []*int{&lim.monitor, &lim.read, &lim.translate}
	req := &ua.ReadRequest{TimestampsToReturn: ua.TimestampsToReturnNeither}
	for _, n := range ids {
		req.NodesToRead = append(req.NodesToRead, &ua.ReadValueID{NodeID: ua.NewNumericNodeID(0, n), AttributeID: ua.AttributeIDValue})
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if res, err := read(rctx, c, req); err == nil && len(res.Results) == len(ids) {
		for i, r := range res.Results {
			if r == nil || r.Status != ua.StatusOK || r.Value == nil {
				continue
			}
			if v, ok := r.Value.Value().(uint32); ok && v > 0 {
				*dst[i] = int(v)
			}
		}
	}
	if configured > 0 {
		for _, d := range dst {
			*d = min(*d, configured)
		}
	}
	return lim
}

// refusedBatch tells whether a request of n operations failed because the
// server refused it as too many (BadTooManyOperations), and if so how many
// to send per call instead: half as many, and half again if that is
// refused too. The number is kept for later sessions.
func (s *Source) refusedBatch(learned *atomic.Int64, what string, n int, err error) (int, bool) {
	if !errors.Is(err, ua.StatusBadTooManyOperations) || n <= 1 {
		return 0, false
	}
	next := max(1, n/2)
	learned.Store(int64(next))
	s.log.Warn("server refused "+what+" as too many per call without stating a limit; sending fewer", "refused", n, "next", next)
	return next, true
}
