package opcua

import (
	"context"
	"fmt"
	"time"

	"github.com/gopcua/opcua"

	"github.com/floorpulse/floorpulse/agent/internal/config"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// session is one client session at the server, from its creation to its
// end, and what holds for it only. A session hands three things on: the
// last run's session (left) is drained into it and closed; its connection,
// when it breaks, to a new one (recoverLink); and, while it is saved, the
// session itself to the next start of the agent (saved).
type session struct {
	*Source
	opts []opcua.Option
	l    *link         // the connection the session is activated on
	lim  limits        // per call
	sub  *subscription // nil in mode poll, and until it is created
	wd   *watchdog     // the subscription's, nil for none

	left  *leftSession // the last run's session, until it is drained (nil without)
	saved bool         // the session is saved, to be resumed by the next start

	refused map[uint32]bool // nodes counted as rejected from their values
	pending []seenAt        // source times of the values being committed
	quiet   time.Time       // the subscription last delivered something, or was last checked

	marked time.Time                // the last watermarks were committed (agent clock)
	marks  map[signal.Key]time.Time // the last watermark per equipment
	live   map[uint32]bool          // nodes that delivered a value in this session

	sigs []signal.Signal // handleDataChange's signals, reused once committed
}

// runSession runs one client session; it reports whether it got as far as
// delivering values (subscribed, or a first poll done), and why it ended.
// left (nil without) is the last run's session, drained and closed once
// this session's monitored items are in place, before anything is taken
// from them; or at the end, if it never got that far.
func (s *Source) runSession(ctx context.Context, left *leftSession) (bool, error) {
	ss := &session{Source: s, left: left, refused: map[uint32]bool{}, marks: map[signal.Key]time.Time{}, live: map[uint32]bool{}}
	defer ss.handOff(ctx, time.Time{})
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := ss.connect(sctx); err != nil {
		return false, err
	}
	defer ss.end(ctx)
	if err := ss.resolve(sctx, ss.l, ss.lim.translate); err != nil {
		return false, err
	}
	if s.cfg.Mode == config.ModePoll {
		ss.handOff(ctx, time.Time{})
		if err := ss.backfill(sctx, ss.l, ss.lim.read); err != nil {
			return false, err
		}
		return ss.poll(ctx, sctx)
	}
	if ok, err := ss.subscribe(ctx, sctx); !ok {
		return false, err
	}
	return true, ss.keep(ctx, sctx)
}

// connect creates the session and activates it on a new connection, and
// learns the server's limits.
func (s *session) connect(ctx context.Context) error {
	opts, ident, err := clientSetup(ctx, s.cfg, s.now)
	if err != nil {
		return err
	}
	l, err := open(ctx, s.cfg, opts, ident, s.sessionTimeout, s.now)
	if err != nil {
		return err
	}
	s.opts, s.l = opts, l
	s.stat.Connected.Store(true)
	s.stat.Connects.Add(1)
	s.lim = s.srv.learned.apply(readLimits(ctx, l, s.cfg.MaxItemsPerCall))
	s.log.Info("connected to opc ua server", "policy", s.cfg.SecurityPolicy, "mode", s.cfg.SecurityMode,
		"items_per_call", s.lim.monitor, "nodes_per_read", s.lim.read)
	return nil
}

// end closes the session and its connection; unless the agent stops while
// the session is saved: the session then stays at the server, and the
// next start resumes it, so a restart loses nothing either.
func (s *session) end(ctx context.Context) {
	s.stat.Connected.Store(false)
	s.stat.Subscribed.Store(false)
	if s.saved && ctx.Err() != nil {
		closeClient(s.l.c)
		return
	}
	s.l.close()
	if s.saved { // else the file, if any, is the left session's
		s.forgetSession()
	}
}

// handOff drains the left session, if any, and closes it: up to a
// notification message put together at or after until (server time;
// zero: what it holds now).
func (s *session) handOff(ctx context.Context, until time.Time) {
	if s.left != nil {
		s.left.finish(ctx, s, until)
		s.left = nil
	}
}

// subscribe creates the subscription and its monitored items, reads back
// what changed since the last value committed, and saves the session. It
// reports false when the session ends (with the error, nil when ctx ended).
func (s *session) subscribe(ctx, sctx context.Context) (bool, error) {
	sub, err := createSubscription(sctx, s.l, subscriptionParams(s.cfg.PublishingInterval, s.sessionTimeout))
	if err != nil {
		return false, fmt.Errorf("creating subscription: %w", err)
	}
	s.sub = sub
	n, ok, err := s.monitorAll(ctx, sctx)
	if !ok {
		return false, err
	}
	s.wd = s.watchClock(sctx, s.l, sub)
	// What changed since the last value committed is read back from
	// history once the monitored items are in place: a change is then in
	// history or in their queues, however long the drain of the left
	// session or the history read took. Values in both are the same
	// signals (same ids), dropped downstream as duplicates.
	if err := s.backfill(sctx, s.l, s.lim.read); err != nil {
		return false, err
	}
	// Saved before it is reported subscribed: a restart from then on
	// resumes it.
	s.saved = s.saveSession(s.l.sess, sub)
	s.stat.Subscribed.Store(true)
	s.log.Info("subscribed", "monitored", n, "nodes", len(s.nodes), "publishing_interval", sub.interval,
		"keep_alive", time.Duration(sub.keepAlive)*sub.interval, "lifetime", time.Duration(sub.lifetime)*sub.interval,
		"clock_watched", s.wd != nil)
	return true, nil
}

// monitorAll creates the monitored items of every node, handing the left
// session over in between: the items it refuses for want of room while the
// left session's take it are asked for again once that is closed (the
// changes meanwhile come from history with backfill). It returns how many
// items were created, and false when the session ends (with the error, nil
// when ctx ended during the hand-off).
func (s *session) monitorAll(ctx, sctx context.Context) (int, bool, error) {
	n, later, err := s.monitor(sctx, s.l, s.sub.id, s.lim.monitor, nil, s.left != nil)
	if err != nil {
		return 0, false, err
	}
	if s.left != nil {
		// What the left session's items saw before this session's were in
		// place: up to the server's time now.
		s.handOff(ctx, s.serverTime(sctx, s.l))
		if ctx.Err() != nil {
			return 0, false, nil
		}
	}
	if len(later) > 0 {
		m, _, err := s.monitor(sctx, s.l, s.sub.id, s.lim.monitor, later, false)
		if err != nil {
			return 0, false, err
		}
		n += m
	}
	return n, true, nil
}
