package opcua

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"time"

	"github.com/gopcua/opcua/ua"

	"github.com/floorpulse/floorpulse/agent/internal/config"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// poll reads every node each poll_interval, for servers without
// subscriptions, and commits what changed: a value or status code
// different from the last one committed, as a subscription's default
// trigger reports (an absolute deadband holds back numeric changes within it). Status codes and both timestamps
// are kept as a subscription keeps them. A connection that breaks has its
// session taken over by a new one, as a subscription's has, unless no read
// was answered since the last takeover. It reports whether it delivered
// values, and why it ended.
func (s *session) poll(ctx, sctx context.Context) (bool, error) {
	perCall := max(s.lim.read, 1)
	var handles []uint32
	for i, m := range s.nodes {
		if m.nodeID != nil {
			handles = append(handles, uint32(i))
		}
	}
	tick := time.NewTicker(s.cfg.PollInterval)
	defer tick.Stop()
	alive := time.NewTicker(s.keepAlive)
	defer alive.Stop()
	healthy := false  // a first poll done
	answered := false // a poll done on this connection
	for {
		err := s.pollAndWait(ctx, sctx, s.l, &handles, &perCall, tick, alive, func() {
			answered = true
			if !healthy {
				healthy = true
				s.stat.Subscribed.Store(true)
				s.log.Info("polling", "nodes", len(handles), "poll_interval", s.cfg.PollInterval)
			}
		})
		if err == nil || ctx.Err() != nil {
			return healthy, nil
		}
		if !linkError(err) || !answered {
			return healthy, err
		}
		if err := s.recoverLink(sctx, err); err != nil {
			return healthy, err
		}
		answered = false
		s.log.Info("session taken over by a new connection: polling goes on")
	}
}

// pollAndWait polls (calling polled after each poll that succeeded) and
// waits for the next poll, checking the connection each keep-alive, until
// ctx ends (nil) or a poll or a check fails.
func (s *session) pollAndWait(ctx, sctx context.Context, c requester, handles *[]uint32, perCall *int,
	tick, alive *time.Ticker, polled func()) error {
	for {
		var err error
		*handles, err = s.pollOnce(ctx, sctx, c, *handles, perCall)
		if err != nil {
			return err
		}
		polled()
		for waiting := true; waiting; {
			select {
			case <-ctx.Done():
				return nil
			case <-alive.C:
				if err := s.ping(sctx, c); err != nil {
					return fmt.Errorf("keep-alive: %w", err)
				}
			case <-tick.C:
				waiting = false
			}
		}
	}
}

// pollOnce reads the nodes of handles and commits the changes. It returns
// the handles still worth reading: a node the server does not know (or lets
// nobody read) is counted, logged and left out for the rest of the session.
func (s *session) pollOnce(ctx, sctx context.Context, c requester, handles []uint32, perCall *int) ([]uint32, error) {
	keep := handles[:0:0]
	var sigs []signal.Signal
	var readAt time.Time // the earliest answer's time (server clock): every value read is known up to it
	for start := 0; start < len(handles); {
		batch := handles[start:min(start+*perCall, len(handles))]
		req := &ua.ReadRequest{TimestampsToReturn: ua.TimestampsToReturnBoth}
		for _, h := range batch {
			req.NodesToRead = append(req.NodesToRead, &ua.ReadValueID{NodeID: s.nodes[h].nodeID, AttributeID: ua.AttributeIDValue})
		}
		rctx, cancel := context.WithTimeout(sctx, 10*time.Second)
		res, err := read(rctx, c, req)
		cancel()
		if err != nil {
			if next, ok := s.refusedBatch(&s.srv.learned.read, "nodes to read", len(batch), err); ok {
				*perCall = next
				continue
			}
			return handles, fmt.Errorf("reading %d nodes: %w", len(batch), err)
		}
		if len(res.Results) != len(batch) {
			return handles, fmt.Errorf("reading %d nodes: %d results", len(batch), len(res.Results))
		}
		start += len(batch)
		if res.ResponseHeader != nil && (readAt.IsZero() || res.ResponseHeader.Timestamp.Before(readAt)) {
			readAt = res.ResponseHeader.Timestamp
		}
		rx := s.now()
		for k, dv := range res.Results {
			h := batch[k]
			if dv != nil && unreadable(dv.Status) {
				s.reject(s.nodes[h], "server refused to read a node", dv.Status)
				continue
			}
			keep = append(keep, h)
			if !s.changed(h, dv) {
				continue
			}
			if sig, ok := s.convert(h, dv, rx); ok {
				sigs = append(sigs, sig)
			}
		}
	}
	if err := s.commitAll(ctx, sigs); err != nil {
		return keep, err
	}
	return keep, s.watermark(ctx, readAt)
}

// changed reports whether dv differs from the last value committed for
// node h, as a subscription's default trigger (status or value) sees it,
// and remembers it if so.
func (s *Source) changed(h uint32, dv *ua.DataValue) bool {
	if dv == nil {
		return false
	}
	last := s.srv.polled[h]
	if last != nil && last.Status == dv.Status {
		a, b := variantValue(last.Value), variantValue(dv.Value)
		if reflect.DeepEqual(a, b) {
			return false
		}
		if d := s.nodes[h].deadband; d != nil && d.Type == config.DeadbandAbsolute {
			x, okx := number(a)
			y, oky := number(b)
			if okx && oky && math.Abs(x-y) <= d.Value {
				return false
			}
		}
	}
	s.srv.polled[h] = dv
	return true
}

func variantValue(v *ua.Variant) any {
	if v == nil {
		return nil
	}
	return v.Value()
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int8:
		return float64(x), true
	case uint8:
		return float64(x), true
	case int16:
		return float64(x), true
	case uint16:
		return float64(x), true
	case int32:
		return float64(x), true
	case uint32:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case float32:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}
