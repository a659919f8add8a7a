package opcua

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/ua"
)

// A session's health: every keep-alive the server is asked for its state
// and its clock (ping), and a subscription that delivered nothing for
// quietCheck keep-alives is asked for (checkSubscription). The watchdog on
// the server's clock (watchdog.go) notices a subscription that lives but
// stopped publishing.

// quietCheck is how many session checks a subscription may deliver
// nothing before the server is asked whether it still has it.
const quietCheck = 3

// checkTimeout is how long a check waits for the server's answer.
func (s *Source) checkTimeout() time.Duration { return max(2*time.Second, s.keepAlive) }

// ping reads the server's state (ServerStatus.State): an error, or a state
// other than Running (a server shutting down says so), ends the session. It
// reads the server's clock (ServerStatus.CurrentTime) in the same request
// and notes its offset from the agent's.
func (s *Source) ping(ctx context.Context, c requester) error {
	ctx, cancel := context.WithTimeout(ctx, s.checkTimeout())
	defer cancel()
	sent := s.now()
	res, err := read(ctx, c, &ua.ReadRequest{
		NodesToRead: []*ua.ReadValueID{
			{NodeID: ua.NewNumericNodeID(0, id.Server_ServerStatus_State), AttributeID: ua.AttributeIDValue},
			{NodeID: ua.NewNumericNodeID(0, id.Server_ServerStatus_CurrentTime), AttributeID: ua.AttributeIDValue},
		},
		TimestampsToReturn: ua.TimestampsToReturnNeither,
	})
	received := s.now()
	if err != nil {
		return err
	}
	if len(res.Results) == 0 || res.Results[0] == nil {
		return errors.New("empty read response")
	}
	r := res.Results[0]
	if r.Status != ua.StatusOK {
		return r.Status
	}
	if r.Value != nil {
		if st, ok := serverState(r.Value.Value()); ok && st != ua.ServerStateRunning {
			return fmt.Errorf("server state %s", st)
		}
	}
	if len(res.Results) == 2 && res.Results[1] != nil && res.Results[1].Status == ua.StatusOK && res.Results[1].Value != nil {
		if t, ok := res.Results[1].Value.Value().(time.Time); ok && plausible(t) {
			s.noteClock(clockOffset(t, sent, received))
		}
	}
	return nil
}

func serverState(v any) (ua.ServerState, bool) {
	switch x := v.(type) {
	case int32:
		return ua.ServerState(x), true
	case uint32:
		return ua.ServerState(x), true
	case ua.ServerState:
		return x, true
	}
	return 0, false
}

// checkSubscription asks the server whether the subscription still
// exists, by enabling its publishing (which it is already). A session can
// outlive its subscription (the server deleted it, short of resources, or
// after its lifetime ran out while the agent was stalled), and a server
// need not answer the outstanding Publish request at once; a quiet
// subscription is therefore checked. The answer that it is gone ends the
// session. A server that does not support the service (gopcua's own) is
// not asked again; an unanswered request is left to ping.
func (s *Source) checkSubscription(ctx context.Context, c requester, id uint32) error {
	ctx, cancel := context.WithTimeout(ctx, s.checkTimeout())
	defer cancel()
	res, err := send[*ua.SetPublishingModeResponse](ctx, c, &ua.SetPublishingModeRequest{PublishingEnabled: true, SubscriptionIDs: []uint32{id}})
	status := ua.StatusOK
	switch {
	case err == nil && len(res.Results) == 1:
		status = res.Results[0]
	case err != nil && !errors.As(err, &status):
		return nil // no answer: left to ping
	}
	switch {
	case subscriptionGone(status):
		return fmt.Errorf("the server no longer has the subscription (%w): rebuilding the session", status)
	case status == ua.StatusBadServiceUnsupported:
		s.srv.noSubCheck.Store(true)
		s.log.Warn("server does not support SetPublishingMode: a subscription it deletes is noticed only when it answers Publish", "err", status)
	}
	return nil
}

// serverTime is the server's time now, as it stamps its answer to a Read;
// zero when it cannot be had.
func (s *Source) serverTime(ctx context.Context, c requester) time.Time {
	ctx, cancel := context.WithTimeout(ctx, s.checkTimeout())
	defer cancel()
	res, err := read(ctx, c, &ua.ReadRequest{
		NodesToRead:        []*ua.ReadValueID{{NodeID: ua.NewNumericNodeID(0, id.Server_ServerStatus_CurrentTime), AttributeID: ua.AttributeIDValue}},
		TimestampsToReturn: ua.TimestampsToReturnNeither,
	})
	if err != nil {
		s.log.Debug("reading the server's time failed", "err", err)
		return time.Time{}
	}
	if h := res.ResponseHeader; h != nil && plausible(h.Timestamp) {
		return h.Timestamp
	}
	if len(res.Results) == 1 && res.Results[0] != nil && res.Results[0].Value != nil {
		if t, ok := res.Results[0].Value.Value().(time.Time); ok && plausible(t) {
			return t
		}
	}
	return time.Time{}
}

// clockOffset is how far the server's clock is ahead of the agent's, from
// the server's time read by a request sent at sent and answered at
// received: the server is taken to have read it halfway through, so the
// error is at most half the round trip.
func clockOffset(server, sent, received time.Time) time.Duration {
	return server.Sub(sent.Add(received.Sub(sent) / 2))
}

// clockWarnAt is the clock offset beyond which the source warns: signals
// carry the server's timestamps, so the figures made of them are off by as
// much.
const clockWarnAt = 5 * time.Second

// noteClock records the server's clock offset, and logs when it goes
// beyond clockWarnAt and when it comes back.
func (s *Source) noteClock(off time.Duration) {
	s.stat.ClockOffset.Store(int64(off))
	s.stat.ClockKnown.Store(true)
	far := off > clockWarnAt || off < -clockWarnAt
	if s.srv.clockOff.Swap(far) == far {
		return
	}
	if far {
		s.log.Warn("the server's clock is off: signals carry its timestamps, so figures made of them shift by as much; set the server's time (NTP)",
			"offset", off.Round(time.Millisecond), "warn_at", clockWarnAt)
	} else {
		s.log.Info("the server's clock is back in step", "offset", off.Round(time.Millisecond))
	}
}
