package opcua

import (
	"context"
	"time"

	"github.com/floorpulse/floorpulse/pkg/signal"
)

// Watermarks: a subscription that sends nothing while nothing changes
// leaves the hub unable to tell a machine that runs on from a source that
// is gone. The server says which: each notification message, a keep-alive
// included, comes once everything sampled before its publish time was sent.
// So once a message is committed, every equipment of the source whose nodes
// delivered values in the session is known up to its publish time, less the
// longest sampling interval of the equipment's nodes (a change sampled later
// may carry an earlier source time). The source commits that as a watermark (signal.SeenName) per
// equipment, at most every watermarkEvery, after the values it covers: the
// hub holds each machine's last state up to it.

// watermarkEvery is how often the watermarks are committed at most: half
// the subscription's keep-alive, so that every keep-alive of a quiet
// subscription marks its equipment (the hub lags by a keep-alive at most),
// and a busy one marks them no more than twice a keep-alive.
const watermarkEvery = keepAliveEvery / 2

// watermark commits the watermarks of every equipment of the source at the
// publish time of a committed message (server clock), when watermarkEvery
// has passed since the last ones.
func (s *session) watermark(ctx context.Context, published time.Time) error {
	now := s.now()
	if published.IsZero() || !plausible(published) || now.Sub(s.marked) < watermarkEvery {
		return nil
	}
	lag := map[signal.Key]time.Duration{}
	for h, m := range s.nodes {
		if !s.live[uint32(h)] || s.refused[uint32(h)] {
			continue // a node the server does not monitor proves nothing
		}
		k := signal.Key{Site: m.site, Line: m.line, Equipment: m.equipment}
		lag[k] = max(lag[k], m.sampling, s.cfg.PublishingInterval)
	}
	sigs := make([]signal.Signal, 0, len(lag))
	for k, d := range lag {
		t := published.Add(-d).UTC().Truncate(time.Millisecond)
		if !t.After(s.marks[k]) {
			continue
		}
		sigs = append(sigs, signal.Seen(k, s.agent, t))
	}
	if len(sigs) > 0 {
		if err := s.commit.Commit(ctx, sigs); err != nil {
			return err
		}
		for _, g := range sigs {
			s.marks[g.Key()] = g.Time
		}
		s.stat.Watermarks.Add(uint64(len(sigs)))
	}
	s.marked = now
	return nil
}
