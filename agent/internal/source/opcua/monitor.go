package opcua

import (
	"context"
	"fmt"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/ua"

	"github.com/floorpulse/floorpulse/agent/internal/config"
	"github.com/floorpulse/floorpulse/agent/internal/metrics"
)

// itemRequest is the CreateMonitoredItems entry of node handle.
func itemRequest(m mapping, handle uint32) *ua.MonitoredItemCreateRequest {
	r := opcua.NewMonitoredItemCreateRequestWithDefaults(m.nodeID, ua.AttributeIDValue, handle)
	r.RequestedParameters.QueueSize = m.queue
	r.RequestedParameters.SamplingInterval = float64(m.sampling) / float64(time.Millisecond)
	r.RequestedParameters.DiscardOldest = true
	if f := dataChangeFilter(m.deadband); f != nil {
		r.RequestedParameters.Filter = ua.NewExtensionObject(f)
	}
	return r
}

// dataChangeFilter is the filter of a deadband (nil without one). Config
// validation lets through only the types named here.
func dataChangeFilter(d *config.Deadband) *ua.DataChangeFilter {
	if d == nil {
		return nil
	}
	f := &ua.DataChangeFilter{Trigger: ua.DataChangeTriggerStatusValue, DeadbandValue: d.Value}
	switch d.Type {
	case config.DeadbandAbsolute:
		f.DeadbandType = uint32(ua.DeadbandTypeAbsolute)
	case config.DeadbandPercent:
		f.DeadbandType = uint32(ua.DeadbandTypePercent)
	default:
		panic(fmt.Sprintf("opcua: deadband type %q passed validation", d.Type))
	}
	return f
}

// monitor creates the monitored items of handles (nil: every node with a
// node id) in requests of at most perCall items. A node the server rejects
// is counted and logged (rate-limited); the others go on. With spare (the
// server also holds the last run's items, about to be closed), a node
// refused for want of room is not counted but returned, to be asked for
// again once they are gone. It returns how many items were created.
func (s *Source) monitor(ctx context.Context, c requester, subID uint32, perCall int, handles []uint32, spare bool) (int, []uint32, error) {
	perCall = max(perCall, 1)
	if handles == nil {
		for i, m := range s.nodes {
			if m.nodeID != nil {
				handles = append(handles, uint32(i))
			}
		}
	}
	created, rejected := 0, 0
	var later []uint32
	for start := 0; start < len(handles); {
		batch := handles[start:min(start+perCall, len(handles))]
		reqs := make([]*ua.MonitoredItemCreateRequest, len(batch))
		for k, h := range batch {
			reqs[k] = itemRequest(s.nodes[h], h)
		}
		res, err := monitorBatch(ctx, c, subID, reqs)
		if err != nil {
			if next, ok := s.refusedBatch(&s.srv.learned.monitor, "monitored items", len(batch), err); ok {
				perCall = next
				continue
			}
			return created, nil, fmt.Errorf("creating monitored items %d-%d of %d: %w", start, start+len(batch)-1, len(handles), err)
		}
		start += len(batch)
		for k, r := range res.Results {
			switch {
			case good(r.StatusCode):
				created++
			case spare && noRoom(r.StatusCode):
				later = append(later, batch[k])
			default:
				rejected++
				s.reject(s.nodes[batch[k]], "server rejected a monitored item", r.StatusCode)
			}
		}
	}
	if rejected > 0 {
		s.log.Warn("server rejected monitored items", "rejected", rejected, "monitored", created)
	}
	if len(later) > 0 {
		s.log.Info("server has no room for some monitored items while the last run's session holds its own: asking again once it is closed",
			"items", len(later), "monitored", created)
	}
	return created, later, nil
}

// monitorBatch sends one CreateMonitoredItems request to subscription
// subID; an answer with fewer results than items is an error.
func monitorBatch(ctx context.Context, c requester, subID uint32, reqs []*ua.MonitoredItemCreateRequest) (*ua.CreateMonitoredItemsResponse, error) {
	res, err := send[*ua.CreateMonitoredItemsResponse](ctx, c, &ua.CreateMonitoredItemsRequest{
		SubscriptionID: subID, TimestampsToReturn: ua.TimestampsToReturnBoth, ItemsToCreate: reqs})
	if err == nil && len(res.Results) != len(reqs) {
		err = fmt.Errorf("server answered %d results for %d monitored items", len(res.Results), len(reqs))
	}
	return res, err
}

// reject counts a node the server refused and logs it at a limited rate.
func (s *Source) reject(m mapping, msg string, status ua.StatusCode) {
	s.srv.rejected.Add(1)
	s.stat.DecodeErrors.Count(metrics.RejectedNode)
	s.warn.Warn(msg, "node", m.name, "reason", metrics.RejectedNode.String(), "status", fmt.Sprintf("0x%08X %s", uint32(status), status.Error()))
}

// resolve turns the browse paths into node ids with
// TranslateBrowsePathsToNodeIds, at most perCall paths a request. A path
// without a target is counted and logged; its node is skipped this session.
func (s *Source) resolve(ctx context.Context, c requester, perCall int) error {
	perCall = max(perCall, 1)
	var handles []int
	for i := range s.nodes {
		if s.nodes[i].path != nil {
			s.nodes[i].nodeID = nil
			handles = append(handles, i)
		}
	}
	unresolved := 0
	for start := 0; start < len(handles); {
		batch := handles[start:min(start+perCall, len(handles))]
		req := &ua.TranslateBrowsePathsToNodeIDsRequest{}
		for _, h := range batch {
			req.BrowsePaths = append(req.BrowsePaths, browsePath(s.nodes[h].path))
		}
		res, err := send[*ua.TranslateBrowsePathsToNodeIDsResponse](ctx, c, req)
		if err != nil {
			if next, ok := s.refusedBatch(&s.srv.learned.translate, "browse paths", len(batch), err); ok {
				perCall = next
				continue
			}
			return fmt.Errorf("resolving browse paths: %w", err)
		}
		start += len(batch)
		if len(res.Results) != len(batch) {
			return fmt.Errorf("resolving browse paths: %d results for %d paths", len(res.Results), len(batch))
		}
		for k, r := range res.Results {
			if !s.resolved(&s.nodes[batch[k]], r) {
				unresolved++
			}
		}
	}
	if len(handles) > 0 {
		s.log.Info("browse paths resolved", "resolved", len(handles)-unresolved, "unresolved", unresolved)
	}
	return nil
}

// resolved sets the node id of m to the first target of its browse
// path's result r, and reports whether there is one; a path without a
// target is counted and logged.
func (s *Source) resolved(m *mapping, r *ua.BrowsePathResult) bool {
	switch {
	case !good(r.StatusCode):
		s.reject(*m, "browse path not resolved", r.StatusCode)
		return false
	case len(r.Targets) == 0 || r.Targets[0].TargetID == nil:
		s.reject(*m, "browse path not resolved", ua.StatusBadNoMatch)
		return false
	}
	if len(r.Targets) > 1 {
		s.warn.Warn("browse path has several targets, taking the first", "node", m.name, "targets", len(r.Targets))
	}
	m.nodeID = r.Targets[0].TargetID.NodeID
	return true
}

// browsePath follows bp from the Root folder along hierarchical references.
func browsePath(bp config.BrowsePath) *ua.BrowsePath {
	rp := &ua.RelativePath{}
	for _, q := range bp {
		rp.Elements = append(rp.Elements, &ua.RelativePathElement{
			ReferenceTypeID: ua.NewNumericNodeID(0, id.HierarchicalReferences),
			IncludeSubtypes: true,
			TargetName:      q,
		})
	}
	return &ua.BrowsePath{StartingNode: ua.NewNumericNodeID(0, id.RootFolder), RelativePath: rp}
}
