package opcua

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// keep serves the subscription until ctx ends (nil) or the session must
// end. A connection that broke (or went unanswered) leaves the session at
// the server: the next connection takes it over. Not twice in a row
// without a Publish answered in between: a server that answers nothing on
// any connection gets a new session.
func (s *session) keep(ctx, sctx context.Context) error {
	for {
		answered, err := s.serve(ctx, sctx)
		if ctx.Err() != nil {
			return nil
		}
		if !errors.Is(err, errLink) || !answered {
			return err
		}
		if err := s.recoverLink(sctx, err); err != nil {
			return err
		}
		s.saved = s.saveSession(s.l.sess, s.sub)
		s.log.Info("session taken over by a new connection: the subscription goes on", "subscription", s.sub.id)
	}
}

// recoverLink takes the session, whose connection broke (lost), over to a
// new connection, and counts it.
func (s *session) recoverLink(ctx context.Context, lost error) error {
	s.stat.Connected.Store(false)
	s.warn.Warn("connection to the opc ua server lost; taking the session over to a new connection", "err", lost)
	l, err := s.takeOver(ctx, s.l, s.opts)
	if err != nil {
		return fmt.Errorf("%w; the session could not be taken over: %w", lost, err)
	}
	s.l = l
	s.stat.Connected.Store(true)
	s.stat.Connects.Add(1)
	s.stat.Restores.Add(1)
	return nil
}

// publishRetry is the wait before a Publish request the server refused as
// one too many is sent again.
const publishRetry = 100 * time.Millisecond

// serve keeps the subscription publishing on the session's link, and
// checks the session every keep-alive, until ctx ends or the session must
// end. It reports whether a Publish request was answered, and why it
// ended: an error wrapping errLink when the connection broke or went
// unanswered.
func (s *session) serve(ctx, sctx context.Context) (bool, error) {
	answers := make(chan published, 1)
	s.publish(sctx, s.l, s.sub, answers)
	tick := time.NewTicker(s.keepAlive)
	defer tick.Stop()
	answered := false
	s.quiet = s.now()
	for {
		select {
		case <-ctx.Done():
			return answered, nil
		case <-tick.C:
			if err := s.check(sctx); err != nil {
				return answered, err
			}
		case p := <-answers:
			if err := s.answer(ctx, p); err != nil {
				return answered, err
			}
			if p.err == nil {
				answered = true
			} else if !sleep(ctx, publishRetry) {
				return answered, nil // refused as one request too many: asked again a little later
			}
			s.publish(sctx, s.l, s.sub, answers)
		}
	}
}

// check checks the session at a keep-alive: the server's state, the
// watchdog's verdict, and whether the server still has a subscription that
// delivered nothing for quietCheck keep-alives.
func (s *session) check(ctx context.Context) error {
	if err := s.ping(ctx, s.l); err != nil {
		if linkError(err) {
			return fmt.Errorf("%w: keep-alive: %w", errLink, err)
		}
		return fmt.Errorf("keep-alive: %w", err)
	}
	if err := s.watch(ctx, s.l, s.wd, s.sub.id); err != nil {
		return err
	}
	if s.now().Sub(s.quiet) >= quietCheck*s.keepAlive && !s.srv.noSubCheck.Load() {
		if err := s.checkSubscription(ctx, s.l, s.sub.id); err != nil {
			return err
		}
		s.quiet = s.now()
	}
	return nil
}

// answer takes the answer to a Publish request, and notes when it
// delivered something.
func (s *session) answer(ctx context.Context, p published) error {
	if err := s.publishedAnswer(ctx, s.l, s.sub, p, s.wd); err != nil {
		return err
	}
	if p.err != nil {
		return nil
	}
	if m := p.res.NotificationMessage; m != nil && len(m.NotificationData) > 0 {
		s.quiet = s.now()
		if s.wd != nil {
			s.wd.handled(s.quiet)
		}
	}
	return nil
}

// sleep waits for d, and reports false when ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}
