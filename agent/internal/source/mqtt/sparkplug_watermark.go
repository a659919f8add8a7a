package mqtt

import (
	"context"
	"time"

	"github.com/floorpulse/floorpulse/agent/internal/buffer"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// Watermarks of Sparkplug B edge nodes. An edge node reports by exception:
// while nothing changes it sends nothing, so the hub cannot tell a machine
// that runs on from a node that is gone. The host can: a node is alive from
// its birth until its death, which the broker publishes (the node's will)
// at the latest 1.5 keep-alives of the node after it went silent. So while
// a node is born, current (its last message live, not historical, and none
// missing since its birth) and the agent connected, everything it had to
// say up to now less that delay has arrived: the agent commits that time as
// a watermark (signal.SeenName) for every equipment of the node and of its
// born devices. Its clock is the node's: the node's last data time moved on
// by the time the agent has waited since. A death that comes later is
// stamped at the node's last data, before every watermark, and ends what
// is known there.

// defaultLiveness is how long the broker may take to publish a silent edge
// node's death when sparkplug.liveness is not set: 1.5 times a keep-alive
// of 60 s, paho's and many edge nodes' default.
const defaultLiveness = 90 * time.Second

// Watermarks returns the watermarks of every current edge node at now
// (the agent's clock), each at the node's last data time plus the wait
// since, less liveness; none for a node whose watermark would not move.
func (d *Sparkplug) Watermarks(now time.Time, liveness time.Duration) []signal.Signal {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []signal.Signal
	for _, node := range d.nodes {
		if !node.self.born || !node.current || node.last == 0 {
			continue
		}
		w := node.last + int64(now.Sub(node.lastAt)) - int64(liveness)
		w = w / int64(time.Millisecond) * int64(time.Millisecond)
		if w <= node.marked || w <= node.birthAt {
			continue
		}
		keys := map[signal.Key]bool{}
		add := func(sc *spScope) {
			for k := range sc.known {
				keys[signal.Key{Site: k.site, Line: k.line, Equipment: k.equipment}] = true
			}
		}
		add(node.self)
		for _, dev := range node.devices {
			if dev.born {
				add(dev)
			}
		}
		for k := range keys {
			out = append(out, signal.Seen(k, d.agent, fromNanos(w)))
		}
		node.marked = w
	}
	return out
}

// watermarkEvery is how often the Sparkplug watermarks are committed.
const watermarkEvery = 2500 * time.Millisecond

// liveness is the broker connection's sparkplug.liveness, or the default.
func (s *Source) liveness() time.Duration {
	if s.cfg.Sparkplug != nil && s.cfg.Sparkplug.Liveness > 0 {
		return s.cfg.Sparkplug.Liveness
	}
	return defaultLiveness
}

// markSparkplug commits the watermarks of the Sparkplug subscriptions'
// edge nodes every watermarkEvery while the broker connection is up, until
// ctx ends.
func (s *Source) markSparkplug(ctx context.Context) {
	t := time.NewTicker(watermarkEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !s.stat.Connected.Load() {
			continue
		}
		now := s.now()
		for _, sub := range s.subs {
			if sub.sp == nil {
				continue
			}
			sigs := sub.sp.Watermarks(now, s.liveness())
			if len(sigs) == 0 {
				continue
			}
			if err := s.commit.Add(ctx, buffer.Entry{Signals: sigs}); err != nil {
				return // ctx ended
			}
			s.stat.Watermarks.Add(uint64(len(sigs)))
		}
	}
}
