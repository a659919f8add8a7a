package opcua

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/ua"

	"github.com/floorpulse/floorpulse/agent/internal/config"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// session runs one client session; it reports whether it got as far as
// delivering values (subscribed, or a first poll done), and why it ended.
// left (nil without) is the last run's session, drained and closed once
// this session's monitored items are in place, before anything is taken
// from them; or at the end, if it never got that far.
func (s *Source) session(ctx context.Context, left *leftSession) (bool, error) {
	defer func() {
		if left != nil {
			left.finish(ctx, s, time.Time{})
		}
	}()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	opts, ident, err := clientSetup(sctx, s.cfg)
	if err != nil {
		return false, err
	}
	l, err := open(sctx, s.cfg, opts, ident, s.sessionTimeout)
	if err != nil {
		return false, err
	}
	saved := false // the session is saved for the next start
	defer func() {
		s.stat.Connected.Store(false)
		s.stat.Subscribed.Store(false)
		if saved && ctx.Err() != nil {
			// The agent stops: the session stays at the server, and the
			// next start resumes it, so a restart loses nothing either.
			closeClient(l.c)
			return
		}
		l.close()
		if saved { // else the file, if any, is the left session's
			s.forgetSession()
		}
	}()
	s.stat.Connected.Store(true)
	s.stat.Connects.Add(1)
	lim := s.learned.apply(readLimits(sctx, l, s.cfg.MaxItemsPerCall))
	s.log.Info("connected to opc ua server", "policy", s.cfg.SecurityPolicy, "mode", s.cfg.SecurityMode,
		"items_per_call", lim.monitor, "nodes_per_read", lim.read)

	s.refused = map[uint32]bool{}
	if err := s.resolve(sctx, l, lim.translate); err != nil {
		return false, err
	}
	if s.cfg.Mode == config.ModePoll {
		if left != nil {
			left.finish(ctx, s, time.Time{})
			left = nil
		}
		if err := s.backfill(sctx, l, lim.read); err != nil {
			return false, err
		}
		delivered, last, err := s.poll(ctx, sctx, l, opts, lim.read)
		l = last // closed (or left) as it ends
		return delivered, err
	}

	sub, err := createSubscription(sctx, l, subscriptionParams(s.cfg.PublishingInterval, s.sessionTimeout))
	if err != nil {
		return false, fmt.Errorf("creating subscription: %w", err)
	}
	n, later, err := s.monitor(sctx, l, sub.id, lim.monitor, nil, left != nil)
	if err != nil {
		return false, err
	}
	if left != nil {
		// What the left session's items saw before this session's were in
		// place: up to the server's time now.
		left.finish(ctx, s, s.serverTime(sctx, l))
		left = nil
		if ctx.Err() != nil {
			return false, nil
		}
	}
	if len(later) > 0 {
		// Refused while the left session's items took the room; the
		// changes meanwhile come from history with backfill, below.
		m, _, err := s.monitor(sctx, l, sub.id, lim.monitor, later, false)
		if err != nil {
			return false, err
		}
		n += m
	}
	wd := s.watchClock(sctx, l, sub)
	// What changed since the last value committed is read back from
	// history once the monitored items are in place: a change is then in
	// history or in their queues, however long the drain above or the
	// history read took. Values in both are the same signals (same ids),
	// dropped downstream as duplicates.
	if err := s.backfill(sctx, l, lim.read); err != nil {
		return false, err
	}
	s.stat.Subscribed.Store(true)
	s.log.Info("subscribed", "monitored", n, "nodes", len(s.nodes), "publishing_interval", sub.interval,
		"keep_alive", time.Duration(sub.keepAlive)*sub.interval, "lifetime", time.Duration(sub.lifetime)*sub.interval,
		"clock_watched", wd != nil)
	saved = s.saveSession(l.sess, sub)

	for {
		answered, err := s.serve(ctx, sctx, l, sub, wd)
		if ctx.Err() != nil {
			return true, nil
		}
		// A connection that broke (or went unanswered) leaves the session
		// at the server: the next connection takes it over. Not twice in a
		// row without a Publish answered in between: a server that answers
		// nothing on any connection gets a new session.
		if !errors.Is(err, errLink) || !answered {
			return true, err
		}
		nl, err := s.recoverLink(sctx, l, opts, err)
		if err != nil {
			return true, err
		}
		l = nl
		saved = s.saveSession(l.sess, sub)
		s.log.Info("session taken over by a new connection: the subscription goes on", "subscription", sub.id)
	}
}

// recoverLink takes the session of l, whose connection broke (lost), over
// to a new connection, and counts it.
func (s *Source) recoverLink(ctx context.Context, l *link, opts []opcua.Option, lost error) (*link, error) {
	s.stat.Connected.Store(false)
	s.warn.Warn("connection to the opc ua server lost; taking the session over to a new connection", "err", lost)
	nl, err := s.takeOver(ctx, l, opts)
	if err != nil {
		return nil, fmt.Errorf("%w; the session could not be taken over: %w", lost, err)
	}
	s.stat.Connected.Store(true)
	s.stat.Connects.Add(1)
	s.stat.Restores.Add(1)
	return nl, nil
}

// publishRetry is the wait before a Publish request the server refused as
// one too many is sent again.
const publishRetry = 100 * time.Millisecond

// serve keeps the subscription publishing on link l, and checks the
// session every keep-alive, until ctx ends or the session must end. It
// reports whether a Publish request was answered, and why it ended: an
// error wrapping errLink when the connection broke or went unanswered.
func (s *Source) serve(ctx, sctx context.Context, l *link, sub *subscription, wd *watchdog) (bool, error) {
	answers := make(chan published, 1)
	s.publish(sctx, l, sub, answers)
	tick := time.NewTicker(s.keepAlive)
	defer tick.Stop()
	answered := false
	quietSince := time.Now() // when the subscription last delivered something, or was last checked
	for {
		select {
		case <-ctx.Done():
			return answered, nil
		case <-tick.C:
			if err := s.ping(sctx, l); err != nil {
				if linkError(err) {
					return answered, fmt.Errorf("%w: keep-alive: %w", errLink, err)
				}
				return answered, fmt.Errorf("keep-alive: %w", err)
			}
			if err := s.watch(sctx, l, wd, sub.id); err != nil {
				return answered, err
			}
			if time.Since(quietSince) >= quietCheck*s.keepAlive && !s.noSubCheck.Load() {
				if err := s.checkSubscription(sctx, l, sub.id); err != nil {
					return answered, err
				}
				quietSince = time.Now()
			}
		case p := <-answers:
			if err := s.publishedAnswer(ctx, l, sub, p, wd); err != nil {
				return answered, err
			}
			if p.err == nil {
				answered = true
				if m := p.res.NotificationMessage; m != nil && len(m.NotificationData) > 0 {
					quietSince = time.Now()
					if wd != nil {
						wd.handled(quietSince)
					}
				}
			} else {
				// Refused as one request too many: asked again a little later.
				select {
				case <-ctx.Done():
					return answered, nil
				case <-time.After(publishRetry):
				}
			}
			s.publish(sctx, l, sub, answers)
		}
	}
}

// Connect opens the secure channel and activates the session, turning
// gopcua's errors into ones that say what to do. A panic inside gopcua
// (it has nil dereferences on some refused sessions) becomes an error.
func Connect(ctx context.Context, c *opcua.Client, cfg config.OPCUA) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("connecting to %s: opc ua client failed: %v", cfg.Endpoint, r)
		}
		if err != nil {
			cctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_ = c.Close(cctx)
		}
	}()
	if err := c.Connect(ctx); err != nil {
		return describe(cfg, err)
	}
	return nil
}

// describe explains the errors a refused connect commonly ends with.
func describe(cfg config.OPCUA, err error) error {
	switch {
	case errors.Is(err, ua.StatusBadUserAccessDenied), errors.Is(err, ua.StatusBadIdentityTokenRejected),
		errors.Is(err, ua.StatusBadIdentityTokenInvalid), errors.Is(err, ua.StatusBadUserSignatureInvalid):
		who := "anonymous login"
		if cfg.Username != "" {
			who = fmt.Sprintf("login of user %q", cfg.Username)
		}
		return fmt.Errorf("connecting to %s: the server refused the %s (wrong user name or password?): %w", cfg.Endpoint, who, err)
	case errors.Is(err, ua.StatusBadCertificateUntrusted), errors.Is(err, ua.StatusBadSecurityChecksFailed),
		errors.Is(err, ua.StatusBadCertificateInvalid), errors.Is(err, ua.StatusBadCertificateURIInvalid):
		thumb := ""
		if id, e := LoadIdentity(cfg); e == nil && cfg.Secured() {
			thumb = " (SHA-1 thumbprint " + Thumbprint(id.Cert) + ")"
		}
		return fmt.Errorf("connecting to %s: the server refused the client certificate%s: add it to the server's trusted certificates: %w", cfg.Endpoint, thumb, err)
	}
	return fmt.Errorf("connecting to %s: %w", cfg.Endpoint, err)
}

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

// A subscription's keep-alive and lifetime, whatever its publishing
// interval (gopcua's defaults count intervals: at 1 s they are 50 minutes
// and almost 3 hours). The server answers an idle subscription every
// keepAliveEvery, and deletes one that no client has published for
// subscriptionLifetime: the subscription of a killed agent does not hold a
// PLC's few subscription slots for hours, a subscription whose publishing
// stopped is found gone by the quiet check within that time, and a stall
// of the agent (a full queue under policy block) shorter than that keeps
// the values the server queued meanwhile. The keep-alive stays well below
// gopcua's publish timeout (the larger of the keep-alive and the 10 s
// request timeout): a response that came after it would be dropped.
const (
	keepAliveEvery       = 5 * time.Second
	subscriptionLifetime = 10 * time.Minute
)

// subscriptionParams are the requested parameters of a subscription that
// publishes every interval (> 0), in a session with the given timeout: the
// subscription lives at least as long as the session does without a
// connection, so that a session taken over still has it.
func subscriptionParams(interval, sessionTimeout time.Duration) *opcua.SubscriptionParameters {
	count := func(d time.Duration) uint32 { return uint32(max(1, (d+interval-1)/interval)) }
	keep := count(keepAliveEvery)
	return &opcua.SubscriptionParameters{Interval: interval, MaxKeepAliveCount: keep,
		LifetimeCount: max(3*keep, count(max(subscriptionLifetime, sessionTimeout)))}
}

// quietCheck is how many session checks a subscription may deliver
// nothing before the server is asked whether it still has it.
const quietCheck = 3

// watch ends a session whose subscription went silent, as its watchdog
// (nil for none) judges.
func (s *Source) watch(ctx context.Context, c requester, wd *watchdog, subID uint32) error {
	if wd == nil {
		return nil
	}
	now := time.Now()
	silent, disarm := wd.verdict(now, s.clockTicks.Load())
	if disarm && s.clockTicks.Swap(false) {
		s.log.Warn("the subscription published, but the server's clock did not tick in it: until it does, a subscription that goes silent is noticed only once the server deletes it",
			"period", wd.period)
	}
	if !silent {
		return nil
	}
	if !s.noSubCheck.Load() {
		if err := s.checkSubscription(ctx, c, subID); err != nil {
			return err // gone, which says more
		}
	}
	return errSilent(wd, now)
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
	ctx, cancel := context.WithTimeout(ctx, max(2*time.Second, s.keepAlive))
	defer cancel()
	res, err := send[*ua.SetPublishingModeResponse](ctx, c, &ua.SetPublishingModeRequest{PublishingEnabled: true, SubscriptionIDs: []uint32{id}})
	status := ua.StatusOK
	switch {
	case err == nil && len(res.Results) == 1:
		status = res.Results[0]
	case err != nil && !errors.As(err, &status):
		return nil // no answer: left to ping
	}
	switch status {
	case ua.StatusBadSubscriptionIDInvalid, ua.StatusBadNoSubscription:
		return fmt.Errorf("the server no longer has the subscription (%w): rebuilding the session", status)
	case ua.StatusBadServiceUnsupported:
		s.noSubCheck.Store(true)
		s.log.Warn("server does not support SetPublishingMode: a subscription it deletes is noticed only when it answers Publish", "err", status)
	}
	return nil
}

// ping reads the server's state (ServerStatus.State): an error, or a state
// other than Running (a server shutting down says so), ends the session. It
// reads the server's clock (ServerStatus.CurrentTime) in the same request
// and notes its offset from the agent's.
func (s *Source) ping(ctx context.Context, c requester) error {
	ctx, cancel := context.WithTimeout(ctx, max(2*time.Second, s.keepAlive))
	defer cancel()
	sent := time.Now()
	res, err := read(ctx, c, &ua.ReadRequest{
		NodesToRead: []*ua.ReadValueID{
			{NodeID: ua.NewNumericNodeID(0, id.Server_ServerStatus_State), AttributeID: ua.AttributeIDValue},
			{NodeID: ua.NewNumericNodeID(0, id.Server_ServerStatus_CurrentTime), AttributeID: ua.AttributeIDValue},
		},
		TimestampsToReturn: ua.TimestampsToReturnNeither,
	})
	received := time.Now()
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

// serverTime is the server's time now, as it stamps its answer to a Read;
// zero when it cannot be had.
func (s *Source) serverTime(ctx context.Context, c requester) time.Time {
	ctx, cancel := context.WithTimeout(ctx, max(2*time.Second, s.keepAlive))
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
	if s.clockOff.Swap(far) == far {
		return
	}
	if far {
		s.log.Warn("the server's clock is off: signals carry its timestamps, so figures made of them shift by as much; set the server's time (NTP)",
			"offset", off.Round(time.Millisecond), "warn_at", clockWarnAt)
	} else {
		s.log.Info("the server's clock is back in step", "offset", off.Round(time.Millisecond))
	}
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

// handleMessage commits the values of one notification message. It returns
// an error when the subscription is gone and the session must be rebuilt.
func (s *Source) handleMessage(ctx context.Context, c requester, msg *ua.NotificationMessage, wd *watchdog) error {
	for _, eo := range msg.NotificationData {
		if eo == nil {
			continue
		}
		switch x := eo.Value.(type) {
		case *ua.DataChangeNotification:
			if err := s.handleDataChange(ctx, c, x, wd); err != nil {
				return err
			}
		case *ua.StatusChangeNotification:
			if x.Status != ua.StatusOK {
				return fmt.Errorf("subscription status changed: %w", x.Status)
			}
		}
	}
	return nil
}

// handleDataChange commits the values of one data change notification.
// Values that arrive after their node's queue at the server overflowed
// (older values discarded) are counted; with backfill, what was discarded
// is read back from history first.
func (s *Source) handleDataChange(ctx context.Context, c requester, x *ua.DataChangeNotification, wd *watchdog) error {
	var overflowed map[uint32]time.Time // node -> source time of its first value after the overflow
	for _, item := range x.MonitoredItems {
		if item != nil && int(item.ClientHandle) < len(s.nodes) && item.Value != nil && overflow(item.Value.Status) {
			s.stat.Overflows.Add(1)
			if overflowed == nil {
				overflowed = map[uint32]time.Time{}
			}
			if _, ok := overflowed[item.ClientHandle]; !ok && item.Value.EncodingMask&ua.DataValueSourceTimestamp != 0 {
				overflowed[item.ClientHandle] = item.Value.SourceTimestamp
			}
		}
	}
	if len(overflowed) > 0 {
		if s.cfg.Backfill > 0 && !s.noHistory.Load() {
			if err := s.backfillBefore(ctx, c, overflowed); err != nil {
				return err
			}
		} else {
			s.warn.Warn("the server's queue of a monitored node overflowed and dropped older values: they are lost (raise queue_size, or set backfill to read them back from history)",
				"nodes", len(overflowed), "queue_size", s.cfg.QueueSize)
		}
	}
	rx := s.now()
	sigs := make([]signal.Signal, 0, len(x.MonitoredItems))
	for _, item := range x.MonitoredItems {
		if item != nil && item.ClientHandle == s.clockHandle() {
			if wd != nil && wd.tick(time.Now()) && !s.clockTicks.Swap(true) {
				s.log.Info("the server's clock ticks in the subscription: a subscription that goes silent is rebuilt", "period", wd.period)
			}
			continue
		}
		if item == nil || int(item.ClientHandle) >= len(s.nodes) {
			s.stat.DecodeErrors.Add(1)
			continue
		}
		if dv := item.Value; dv != nil && unreadable(dv.Status) && (dv.Value == nil || dv.Value.Value() == nil) {
			// Some servers (gopcua's) accept an item on a node they do not
			// have and then report the node's absence in place of a value.
			if !s.refused[item.ClientHandle] {
				s.refused[item.ClientHandle] = true
				s.reject(s.nodes[item.ClientHandle], "server reports a monitored node as unreadable", item.Value.Status)
			}
			continue
		}
		if sig, ok := s.convert(item.ClientHandle, item.Value, rx); ok {
			sigs = append(sigs, sig)
		}
	}
	return s.commitAll(ctx, sigs)
}

// overflow reports whether a value's status code says that its monitored
// item's queue overflowed before it (InfoType DataValue, Overflow bit).
func overflow(sc ua.StatusCode) bool { return uint32(sc)&0xC00 == 0x400 && uint32(sc)&0x80 != 0 }

func (s *Source) convert(handle uint32, dv *ua.DataValue, rx time.Time) (signal.Signal, bool) {
	m := s.nodes[handle]
	sig, err := toSignal(m, dv, s.agent, rx)
	if err != nil {
		s.stat.DecodeErrors.Add(1)
		s.warn.Warn("dropping an unconvertible opc ua value", "node", m.name, "err", err)
		return signal.Signal{}, false
	}
	s.seenValue(handle, sig)
	return sig, true
}

// errCommit wraps a failure to commit to the queue.
var errCommit = errors.New("committing")

// commitAll commits the signals convert returned since the last commit.
func (s *Source) commitAll(ctx context.Context, sigs []signal.Signal) error {
	if len(sigs) == 0 {
		s.committed(true)
		return nil
	}
	if err := s.commit.Commit(ctx, sigs); err != nil {
		s.committed(false)
		return fmt.Errorf("%w: %w", errCommit, err)
	}
	s.committed(true)
	s.stat.SignalsIn.Add(uint64(len(sigs)))
	return nil
}

// read sends a Read request: gopcua's encoder needs each node's
// DataEncoding (empty: the default), and a value whose extension object
// the client cannot decode is marked BadDataTypeIdUnknown, as gopcua's
// client does.
func read(ctx context.Context, c requester, req *ua.ReadRequest) (*ua.ReadResponse, error) {
	r := &ua.ReadRequest{MaxAge: req.MaxAge, TimestampsToReturn: req.TimestampsToReturn, NodesToRead: make([]*ua.ReadValueID, len(req.NodesToRead))}
	for i, rv := range req.NodesToRead {
		rc := *rv
		if rc.AttributeID == 0 {
			rc.AttributeID = ua.AttributeIDValue
		}
		if rc.DataEncoding == nil {
			rc.DataEncoding = &ua.QualifiedName{}
		}
		r.NodesToRead[i] = &rc
	}
	res, err := send[*ua.ReadResponse](ctx, c, r)
	if err != nil {
		return nil, err
	}
	for _, dv := range res.Results {
		if dv == nil || dv.Value == nil {
			continue
		}
		if eo, ok := dv.Value.Value().(*ua.ExtensionObject); ok && eo.Value == nil {
			dv.Status = ua.StatusBadDataTypeIDUnknown
		}
	}
	return res, nil
}

// send sends req and returns the server's answer as the response type R.
func send[R ua.Response](ctx context.Context, c requester, req ua.Request) (R, error) {
	var res R
	err := c.Send(ctx, req, func(v ua.Response) error {
		r, ok := v.(R)
		if !ok {
			return fmt.Errorf("unexpected response %T", v)
		}
		res = r
		return nil
	})
	return res, err
}
