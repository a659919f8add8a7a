package app

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/config"
	"github.com/floorpulse/floorpulse/hub/internal/engine"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// admission sets aside, before a batch is applied, the signals the hub does
// not take, and counts them and logs them at a limited rate: a source time
// outside [now - state.accept_age, now + state.max_clock_skew] (a gap marker
// is cut to that window, and set aside when nothing of it is left), and
// equipment the registry policy refuses (engine.Admit). The clock is the
// only one in a batch's path: the engine stays pure.
type admission struct {
	acceptAge, skew time.Duration
	clock           func() time.Time
	eng             *engine.Engine
	out             *agentCounts // out of the window, per agent
	log             *slog.Logger
	windowLog       limiter
	registryLog     limiter
}

func newAdmission(cfg *config.Config, clock func() time.Time, eng *engine.Engine, out *agentCounts, log *slog.Logger) *admission {
	return &admission{acceptAge: cfg.State.AcceptAge, skew: cfg.State.MaxClockSkew, clock: clock, eng: eng, out: out, log: log}
}

// admit returns the signals of sigs to apply; sigs is not changed.
func (a *admission) admit(sigs []signal.Signal) []signal.Signal {
	now := a.clock()
	lo, hi := now.Add(-a.acceptAge), now.Add(a.skew)
	var kept []signal.Signal // nil while every signal is kept as it is
	for i, s := range sigs {
		in, ok := s, true
		if g := s.Gap; g != nil {
			from, to := later(g.From, lo), earlier(g.To, hi)
			if ok = !from.After(to); ok && (!from.Equal(g.From) || !to.Equal(g.To)) {
				cut := *g
				cut.From, cut.To = from, to
				in.Gap = &cut
			}
		} else {
			ok = !s.Time.Before(lo) && !s.Time.After(hi)
		}
		if !ok {
			n := a.out.add(s.Agent)
			if a.windowLog.allow() {
				a.log.Warn("signal outside the accepted time window set aside", "equipment", s.Key().String(), "signal", s.Name,
					"time", s.Time, "agent", s.Agent, "from", lo, "to", hi, "agent_total", n)
			}
		}
		if kept == nil && (!ok || in.Gap != s.Gap) {
			kept = append(make([]signal.Signal, 0, len(sigs)), sigs[:i]...)
		}
		if ok && kept != nil {
			kept = append(kept, in)
		}
	}
	if kept == nil {
		kept = sigs
	}
	kept, rejected := a.eng.Admit(kept)
	if len(rejected) > 0 && a.registryLog.allow() {
		s := rejected[0]
		a.log.Warn("signals of equipment missing from the registry set aside", "equipment", s.Key().String(), "signals", len(rejected),
			"rejected_total", a.eng.Stats().UnregisteredRejected)
	}
	return kept
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// maxAgentLabels bounds the agent label of a per-agent metric: the first
// agents seen get their own, the others share "other".
const maxAgentLabels = 100

// agentCounts counts signals per agent, for a metric labelled by agent.
type agentCounts struct {
	mu sync.Mutex
	n  map[string]uint64
}

func newAgentCounts() *agentCounts { return &agentCounts{n: map[string]uint64{}} }

// add counts one signal of agent and returns its agent's count.
func (c *agentCounts) add(agent string) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if agent == "" {
		agent = "unknown"
	}
	if _, seen := c.n[agent]; !seen && (len(c.n) >= maxAgentLabels || !signal.ValidToken(agent) || len(agent) > 64) {
		agent = "other"
	}
	c.n[agent]++
	return c.n[agent]
}

// counts returns the counts per agent label.
func (c *agentCounts) counts() map[string]uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]uint64, len(c.n))
	for a, n := range c.n {
		out[a] = n
	}
	return out
}

// limiter allows one event per interval (logging on a hot path).
type limiter struct{ next atomic.Int64 }

func (l *limiter) allow() bool {
	now := time.Now().UnixNano()
	n := l.next.Load()
	return now >= n && l.next.CompareAndSwap(n, now+int64(time.Second))
}
