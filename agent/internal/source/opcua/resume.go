package opcua

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/gopcua/opcua/ua"

	"github.com/floorpulse/floorpulse/agent/internal/config"
	"github.com/floorpulse/floorpulse/pkg/atomicfile"
)

// A killed agent, or one that stops, leaves its session at the server,
// which keeps it for the session timeout (session_timeout): with its
// subscription, the notification
// messages the agent had not acknowledged (received, perhaps not
// committed) and the values its monitored items queued since. So while a
// session lives, what is needed to activate it again (its authentication
// token, the server's last nonce and certificate, the subscription's id)
// is kept in data_dir/opcua/session-<hash>.json (mode 0600: the token is a
// credential), written when the subscription is made and at each takeover,
// and removed once the session is closed (not when the agent stops). A source that starts and finds
// the file activates that session on a new connection, builds its new
// session and subscription, and before it takes anything from them commits
// every message the old session still holds, in order, then what its
// monitored items queued, and closes it (deleting its subscription): a
// change made while the new monitored items were created is in one
// subscription or both. A signal committed twice (a message committed
// before the kill, not yet acknowledged, or a change in both
// subscriptions) has the same id both times and is dropped downstream as
// a duplicate.

// savedSession is the file's content.
type savedSession struct {
	Endpoint     string        `json:"endpoint"`
	Token        string        `json:"authentication_token"`
	ServerNonce  []byte        `json:"server_nonce"`
	ServerCert   []byte        `json:"server_certificate,omitempty"`
	PolicyID     string        `json:"user_token_policy_id"`
	Timeout      time.Duration `json:"session_timeout_ns"`
	Subscription uint32        `json:"subscription_id"`
	Interval     time.Duration `json:"publishing_interval_ns"`
	KeepAlive    uint32        `json:"max_keep_alive_count"`
}

// sessionPath is where this server's live session is saved ("" without a
// data_dir).
func sessionPath(cfg config.OPCUA) string {
	if cfg.DataDir == "" {
		return ""
	}
	return filepath.Join(cfg.DataDir, pkiDir, "session-"+serverHash(cfg)+".json")
}

// saveSession saves what activating sess again takes, and its
// subscription's id, and reports whether it did. A failure is logged: the
// session is then not resumed after a kill.
func (s *Source) saveSession(sess *uaSession, sub *subscription) bool {
	path := sessionPath(s.cfg)
	if path == "" {
		return false
	}
	b, err := json.Marshal(savedSession{Endpoint: s.cfg.Endpoint, Token: sess.Token.String(), ServerNonce: sess.ServerNonce,
		ServerCert: sess.ServerCert, PolicyID: sess.ident.policyID, Timeout: sess.Timeout, Subscription: sub.id, Interval: sub.interval, KeepAlive: sub.keepAlive})
	if err == nil {
		err = os.MkdirAll(filepath.Dir(path), 0o700)
	}
	if err == nil {
		err = atomicfile.Write(path, b, 0o600)
	}
	if err != nil {
		s.warn.Warn("saving the session failed: after a kill, what it held is not resumed", "file", path, "err", err)
		return false
	}
	return true
}

// forgetSession removes the saved session.
func (s *Source) forgetSession() {
	if path := sessionPath(s.cfg); path != "" {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			s.warn.Warn("removing the saved session failed", "file", path, "err", err)
		}
	}
}

// loadSession reads the saved session, if there is one.
func (s *Source) loadSession() (savedSession, *ua.NodeID, bool) {
	path := sessionPath(s.cfg)
	if path == "" {
		return savedSession{}, nil, false
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return savedSession{}, nil, false
	}
	var saved savedSession
	if err == nil {
		err = json.Unmarshal(b, &saved)
	}
	var token *ua.NodeID
	if err == nil {
		token, err = ua.ParseNodeID(saved.Token)
	}
	if err == nil && (saved.Endpoint != s.cfg.Endpoint || saved.Subscription == 0) {
		err = errors.New("not this server's")
	}
	if err != nil {
		s.log.Warn("ignoring the saved session", "file", path, "err", err)
		s.forgetSession()
		return savedSession{}, nil, false
	}
	return saved, token, true
}

// leftSession is the session the last run left, taken over at start, with
// its subscription. It is drained once the new session's monitored items
// are in place, so that a change made meanwhile is in one or the other.
type leftSession struct {
	l   *link
	sub *subscription
}

// resume takes over the session the last run left (stopped or killed), to
// be drained and closed by the next session. It is tried when the source
// starts, and again while the server is unreachable, until the session's
// timeout has passed since started (the last process sent its last request
// before that). It reports whether to try again, and why.
func (s *Source) resume(ctx context.Context, started time.Time) (*leftSession, bool, error) {
	saved, token, ok := s.loadSession()
	if !ok {
		return nil, false, nil
	}
	unreachable := func(err error) (*leftSession, bool, error) {
		if linkError(err) && s.now().Before(started.Add(saved.Timeout)) {
			return nil, true, fmt.Errorf("resuming the session of the last run: the server is unreachable: %w", err)
		}
		s.log.Warn("not resuming the session of the last run", "err", err)
		if ctx.Err() == nil {
			s.forgetSession()
		}
		return nil, false, nil
	}
	opts, ident, err := clientSetup(ctx, s.cfg, s.now)
	if err != nil {
		return unreachable(err)
	}
	if ident.policyID == "" {
		ident.policyID = saved.PolicyID // the anonymous policy the server named
	}
	c, err := dial(ctx, s.cfg, opts)
	if err != nil {
		return unreachable(err)
	}
	l := &link{c: c, sess: &uaSession{Token: token, ServerNonce: saved.ServerNonce, ServerCert: saved.ServerCert, Timeout: saved.Timeout, ident: ident}}
	if err := l.activate(ctx); err != nil {
		closeClient(c)
		if linkError(err) {
			return unreachable(err)
		}
		s.log.Info("the session of the last run is gone", "err", err)
		if ctx.Err() == nil {
			s.forgetSession()
		}
		return nil, false, nil
	}
	s.stat.Restores.Add(1)
	return &leftSession{l: l, sub: &subscription{id: saved.Subscription, interval: saved.Interval, keepAlive: saved.KeepAlive}}, false, nil
}

// finish commits what the left session holds, up to a notification
// message the server put together at or after until (server time; zero:
// what it holds now), and closes it, unless the agent stops meanwhile: the
// session then stays for the next start, and so does its file. Its file is
// removed otherwise, unless a new session is in place (until not zero):
// that one's file replaces it.
func (left *leftSession) finish(ctx context.Context, s *session, until time.Time) {
	if !until.IsZero() {
		left.quicken(ctx, s)
	}
	before := s.stat.SignalsIn.Load()
	err := s.drain(ctx, left.l, left.sub, until)
	in := s.stat.SignalsIn.Load() - before
	if ctx.Err() != nil {
		closeClient(left.l.c)
		return
	}
	left.l.close() // and its subscription
	if until.IsZero() {
		// Else a new session is in place, and its file replaces this one
		// at once: a kill in between still finds a file.
		s.forgetSession()
	}
	if err != nil {
		s.log.Warn("resuming the session of the last run failed", "err", err, "signals", in)
		return
	}
	s.log.Info("resumed the session of the last run: committed what it held", "signals", in, "subscription", left.sub.id)
}

// drain commits every message the server holds for sub (unacknowledged
// ones, asked for again in order) and what its monitored items queued:
// with until zero, up to the first answer that says no more follow; else
// up to an answer put together after until (server time), so that it
// holds every change its items saw before until. The server answers a
// Publish at once when it has a message ready or the subscription is late
// (no request came for a publishing interval, as here), else when the next
// values or the keep-alive are due.
func (s *session) drain(ctx context.Context, l *link, sub *subscription, until time.Time) error {
	wait := time.Duration(max(sub.keepAlive, 1))*max(sub.interval, 10*time.Millisecond) + 5*time.Second
	deadline := s.now().Add(2 * wait)
	armed := false // the next answer covers until
	for {
		pctx, cancel := context.WithTimeout(ctx, wait)
		res, err := s.publishAcked(pctx, l, sub)
		cancel()
		if err != nil {
			return err
		}
		if err := s.takeHeld(ctx, l, sub, res); err != nil {
			return err
		}
		switch {
		case res.MoreNotifications:
		case until.IsZero() || armed:
			return nil
		case answeredAfter(res, until):
			// The next answer holds what the items saw up to an interval
			// after the server answered this one (a late subscription
			// answers at once with what it put together at its last
			// interval, perhaps before until).
			armed = true
		case s.now().After(deadline):
			return fmt.Errorf("no notification message put together after %s came within %s", until.Format(time.RFC3339Nano), 2*wait)
		}
	}
}

// publishAcked sends a Publish request acknowledging the committed
// messages of sub, and returns the answer.
func (s *session) publishAcked(ctx context.Context, l *link, sub *subscription) (*ua.PublishResponse, error) {
	req := &ua.PublishRequest{SubscriptionAcknowledgements: []*ua.SubscriptionAcknowledgement{}}
	for _, q := range sub.acks {
		req.SubscriptionAcknowledgements = append(req.SubscriptionAcknowledgements, &ua.SubscriptionAcknowledgement{SubscriptionID: sub.id, SequenceNumber: q})
	}
	sub.acks = nil
	return send[*ua.PublishResponse](ctx, l, req)
}

// takeHeld commits, in order, the messages the server says it holds for
// sub that were not committed yet (asked for again), and the one res
// brings.
func (s *session) takeHeld(ctx context.Context, l *link, sub *subscription, res *ua.PublishResponse) error {
	msg := res.NotificationMessage
	data := msg != nil && len(msg.NotificationData) > 0 && res.SubscriptionID == sub.id
	held := slices.Clone(res.AvailableSequenceNumbers)
	slices.SortFunc(held, func(a, b uint32) int {
		if a == b {
			return 0
		}
		if after(a, b) {
			return 1
		}
		return -1
	})
	for _, q := range held {
		if (data && q == msg.SequenceNumber) || (sub.last != 0 && !after(q, sub.last)) {
			continue
		}
		if err := s.republish(ctx, l, sub, []uint32{q}, 0, nil); err != nil {
			return err
		}
	}
	if data && (sub.last == 0 || after(msg.SequenceNumber, sub.last)) {
		return s.take(ctx, l, sub, msg, nil)
	}
	return nil
}

// answeredAfter reports whether the server answered a Publish at or
// after until (its time), or does not say when it answered.
func answeredAfter(res *ua.PublishResponse, until time.Time) bool {
	h := res.ResponseHeader
	return h == nil || !plausible(h.Timestamp) || !h.Timestamp.Before(until)
}

// quicken has the left subscription answer every publishing interval, with
// a keep-alive when it has nothing, so that its drain waits an interval,
// not a keep-alive, for a message put together after a given time. A server
// that refuses is logged: the drain then waits for its keep-alive.
func (left *leftSession) quicken(ctx context.Context, s *session) {
	sub := left.sub
	interval := max(sub.interval, time.Millisecond)
	res, err := send[*ua.ModifySubscriptionResponse](ctx, left.l, &ua.ModifySubscriptionRequest{
		SubscriptionID:              sub.id,
		RequestedPublishingInterval: float64(interval) / float64(time.Millisecond),
		RequestedLifetimeCount:      uint32(max(3, subscriptionLifetime/interval)),
		RequestedMaxKeepAliveCount:  1,
		MaxNotificationsPerPublish:  maxNotificationsPerPublish,
	})
	if err != nil {
		s.log.Info("the server refused to shorten the keep-alive of the last run's subscription: draining it may wait for its keep-alive", "err", err)
		return
	}
	sub.interval = time.Duration(res.RevisedPublishingInterval * float64(time.Millisecond))
	sub.keepAlive = res.RevisedMaxKeepAliveCount
}

// RemoveStaleSessions removes the saved sessions in dataDir that belong to
// none of the configured servers (an endpoint or node list that changed):
// no source would resume them, and each holds a session's token.
func RemoveStaleSessions(dataDir string, cfgs []config.OPCUA) error {
	keep := map[string]bool{}
	for _, c := range cfgs {
		c.DataDir = dataDir
		keep[sessionPath(c)] = true
	}
	files, err := filepath.Glob(filepath.Join(dataDir, pkiDir, "session-*.json"))
	if err != nil {
		return err
	}
	for _, f := range files {
		if !keep[f] {
			if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
	}
	return nil
}
