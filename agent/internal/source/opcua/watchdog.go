package opcua

import (
	"context"
	"fmt"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/ua"
)

// clockHandle is the client handle of the monitored item on the server's
// clock: the one after the nodes' (a node's is its index in nodes). Not
// one far above them: node-opcua answers 0 for a handle of 0xFFFFFFFF.
func (s *Source) clockHandle() uint32 { return uint32(len(s.nodes)) }

// A subscription can stop publishing while its session lives: a server
// whose publishing hung keeps answering reads and still has the
// subscription. Pings and the subscription check see nothing wrong then;
// an unanswered Publish request times out, but is first taken for a lost
// connection (subscription.go).
//
// So the subscription also monitors the server's clock
// (Server/ServerStatus/CurrentTime), sampled every keep-alive, whose value
// changes at every sample: a subscription that works publishes at least
// once a period. Once the clock has been seen to tick at that pace (the
// source learns it per server: gopcua's server library, for one, reports
// the clock once and never again), a subscription that publishes nothing
// for quietCheck periods is silent, and the session is rebuilt; in the next
// session too, while nothing arrives. A subscription that published but
// whose clock then did not tick (the server stopped sampling it, not
// publishing) disarms the watchdog until a session sees the clock tick
// again, so that a quiet plant does not cost a session every few seconds.
type watchdog struct {
	period time.Duration // a working subscription publishes at least this often
	heard  time.Time     // the last notification was handled (the subscription was made, until one)
	any    bool          // a notification was handled
	ticks  int           // values of the clock
	last   time.Time     // the last one's arrival
}

func newWatchdog(period time.Duration, now time.Time) *watchdog {
	return &watchdog{period: period, heard: now}
}

// handled notes that a notification was handled (committed) at now.
func (w *watchdog) handled(now time.Time) { w.heard, w.any = now, true }

// tick notes a value of the clock that arrived at now. It reports whether
// the clock ticks at the expected pace: this value came at most two
// periods after the one before.
func (w *watchdog) tick(now time.Time) bool {
	pace := w.ticks > 0 && now.Sub(w.last) <= 2*w.period
	w.ticks++
	w.last = now
	return pace
}

// verdict is the watchdog's judgement at now, when armed (the server's
// clock has been seen to tick at pace): silent when the subscription has
// published nothing for quietCheck periods and either never published or
// its clock ticked; disarm when it published, then fell quiet, but its
// clock never ticked twice.
func (w *watchdog) verdict(now time.Time, armed bool) (silent, disarm bool) {
	if !armed || now.Sub(w.heard) < quietCheck*w.period {
		return false, false
	}
	if w.any && w.ticks < 2 {
		return false, true
	}
	return true, false
}

// watchClock adds the clock's monitored item to sub and returns the
// watchdog of the subscription, nil when the server refuses the item (the
// subscription then goes on without one).
func (s *Source) watchClock(ctx context.Context, c requester, sub *subscription) *watchdog {
	r := opcua.NewMonitoredItemCreateRequestWithDefaults(ua.NewNumericNodeID(0, id.Server_ServerStatus_CurrentTime), ua.AttributeIDValue, s.clockHandle())
	r.RequestedParameters.SamplingInterval = float64(s.keepAlive) / float64(time.Millisecond)
	r.RequestedParameters.QueueSize = 1
	res, err := monitorBatch(ctx, c, sub.id, []*ua.MonitoredItemCreateRequest{r})
	if err == nil && !good(res.Results[0].StatusCode) {
		err = res.Results[0].StatusCode
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		s.warn.Warn("server refused a monitored item on its clock: a subscription that goes silent is noticed only once the server deletes it", "err", err)
		return nil
	}
	sampling := time.Duration(res.Results[0].RevisedSamplingInterval * float64(time.Millisecond))
	return newWatchdog(max(s.keepAlive, sub.interval, sampling), s.now())
}

// watch ends a session whose subscription went silent, as its watchdog
// (nil for none) judges.
func (s *Source) watch(ctx context.Context, c requester, wd *watchdog, subID uint32) error {
	if wd == nil {
		return nil
	}
	now := s.now()
	silent, disarm := wd.verdict(now, s.srv.clockTicks.Load())
	if disarm && s.srv.clockTicks.Swap(false) {
		s.log.Warn("the subscription published, but the server's clock did not tick in it: until it does, a subscription that goes silent is noticed only once the server deletes it",
			"period", wd.period)
	}
	if !silent {
		return nil
	}
	if !s.srv.noSubCheck.Load() {
		if err := s.checkSubscription(ctx, c, subID); err != nil {
			return err // gone, which says more
		}
	}
	return errSilent(wd, now)
}

// clockTicked notes a value of the server's clock that arrived in the
// subscription watched by wd (nil for none), and logs when the clock is
// first seen to tick at pace: the watchdog is armed then.
func (s *Source) clockTicked(wd *watchdog) {
	if wd != nil && wd.tick(s.now()) && !s.srv.clockTicks.Swap(true) {
		s.log.Info("the server's clock ticks in the subscription: a subscription that goes silent is rebuilt", "period", wd.period)
	}
}

// errSilent is the error of a session ended by the watchdog.
func errSilent(w *watchdog, now time.Time) error {
	return fmt.Errorf("subscription silent: nothing published for %s, not even the server's clock: rebuilding the session",
		now.Sub(w.heard).Round(time.Millisecond))
}
