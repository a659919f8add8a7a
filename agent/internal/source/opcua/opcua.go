// Package opcua is the OPC UA source: one client session per server, and in
// it either one subscription with a monitored item per configured node or a
// Read of every node at a fixed interval (mode poll). Each value becomes a
// signal with the node's SourceTimestamp and full status code.
//
// What always holds:
//   - A notification message (or a poll's changes) is committed to the
//     on-disk queue before the next is taken, and acknowledged to the server
//     only once committed (subscription.go).
//   - Bad and uncertain values are forwarded with their status code and
//     quality, never dropped.
//   - A lost connection is met by taking its session over on a new one,
//     while the server keeps it: the subscription goes on, and messages lost
//     on the way are asked for again (subscription.go).
//   - Run is the only owner of reconnects (gopcua's own reconnect is off): a
//     stale or unhealthy session, or one that cannot be taken over, is
//     closed and a new one built, nodes
//     given by browse path are resolved again and the subscription is
//     created anew, after a back-off with jitter that grows while attempts
//     keep failing, so a restarting server gets no flood of sessions. The
//     server then sends current values again, which carry their original
//     source timestamps and therefore the same signal IDs, deduplicated
//     downstream.
//   - A subscription that stops publishing while its session lives is
//     noticed through a monitored item on the server's clock (watchdog.go),
//     on servers whose clock ticks in notifications, and rebuilt.
//   - Security is what the configuration says or nothing: a secured policy,
//     or a password, is used only with a server certificate that is trusted
//     explicitly (trust_dir or server_thumbprint); an untrusted server, a
//     missing endpoint or a refused login ends the attempt with an error,
//     never a fallback to less security or to anonymous.
//   - A node the server rejects (unknown NodeId, unresolvable browse path,
//     refused filter) is counted and logged at a limited rate; the others
//     go on.
package opcua

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gopcua/opcua/ua"

	"github.com/floorpulse/floorpulse/agent/internal/backoff"
	"github.com/floorpulse/floorpulse/agent/internal/buffer"
	"github.com/floorpulse/floorpulse/agent/internal/config"
	"github.com/floorpulse/floorpulse/agent/internal/lograte"
	"github.com/floorpulse/floorpulse/agent/internal/metrics"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// Committer commits signals durably; *buffer.Batcher implements it.
type Committer interface {
	Commit(ctx context.Context, sigs []signal.Signal) error
}

var _ Committer = (*buffer.Batcher)(nil)

// defaultPerCall is how many items one request holds when neither the
// configuration nor the server's OperationLimits say.
const defaultPerCall = 1000

// Back-off between session attempts.
const (
	minBackoff = 500 * time.Millisecond
	maxBackoff = 30 * time.Second
)

// Source is one OPC UA server connection.
type Source struct {
	cfg    config.OPCUA
	agent  string
	nodes  []mapping // index = client handle
	commit Committer
	stat   *metrics.Source
	log    *slog.Logger
	warn   *lograte.Logger
	now    func() time.Time

	// keepAlive is how often the session is checked by reading the server
	// state: a server that vanishes without closing the connection, stops
	// running, or whose session died, is noticed within about this time.
	keepAlive time.Duration
	// backoff bounds the wait between session attempts.
	minBackoff, maxBackoff time.Duration
	// sessionTimeout is the session timeout requested: how long a session
	// whose connection broke can be taken over.
	sessionTimeout time.Duration

	rejected   atomic.Uint64 // nodes the server refused, over all sessions
	noSubCheck atomic.Bool   // the server does not support the quiet subscription's check
	noHistory  atomic.Bool   // the server does not support HistoryRead (backfill)
	clockTicks atomic.Bool   // the server's clock ticks at pace in a subscription: its watchdog is armed
	clockOff   atomic.Bool   // the server's clock was last found off by more than clockWarnAt
	learned    learnedLimits // per-call limits the server enforced without stating them

	refused map[uint32]bool // this session: nodes counted as rejected from their values

	// Backfill: the source time of the last value committed per node (index
	// = client handle), and those of the batch being committed.
	seenMu        sync.Mutex // guards lastSeen and seenDirty
	lastSeen      []time.Time
	seenDirty     bool // lastSeen changed since it was saved
	pendingSeen   []seen
	saveSeenEvery time.Duration
	historyless   []bool // nodes the server keeps no history for
	seenPath      string // where lastSeen is saved; "" when it is not

	mu   sync.Mutex
	last map[uint32]*ua.DataValue // mode poll: the last value committed per node
}

// New returns the source of a validated server configuration.
func New(cfg config.OPCUA, agentID, defaultSite string, commit Committer, stat *metrics.Source, log *slog.Logger) *Source {
	s := &Source{cfg: cfg, agent: agentID, commit: commit, stat: stat, log: log, warn: lograte.New(log, 10*time.Second), now: time.Now,
		keepAlive: 5 * time.Second, minBackoff: minBackoff, maxBackoff: maxBackoff, sessionTimeout: cfg.SessionTimeout, last: map[uint32]*ua.DataValue{}}
	s.lastSeen, s.saveSeenEvery, s.historyless = make([]time.Time, len(cfg.Nodes)), saveSeenEvery, make([]bool, len(cfg.Nodes))
	for j, n := range cfg.Nodes {
		site := n.Site
		if site == "" {
			site = defaultSite
		}
		m := mapping{site: site, line: n.Line, equipment: n.Equipment, signalName: n.Signal}
		m.sampling, m.queue, m.deadband = cfg.Settings(j)
		if n.NodeID != "" {
			m.nodeID, _ = config.ParseNodeID(n.NodeID) // validated by config
			m.name = n.NodeID
		} else {
			m.path, _ = config.ParseBrowsePath(n.BrowsePath) // validated by config
			m.name = n.BrowsePath
		}
		s.nodes = append(s.nodes, m)
	}
	s.seenPath = seenPath(cfg)
	s.loadSeen()
	return s
}

// Rejected is how many nodes the server refused (unknown, unresolvable or
// not monitorable), counted once per session.
func (s *Source) Rejected() uint64 { return s.rejected.Load() }

// Run keeps a session up until ctx ends. It returns nil when ctx ends.
func (s *Source) Run(ctx context.Context) error {
	saved := make(chan struct{})
	go func() { defer close(saved); s.keepSavingSeen(ctx) }()
	defer func() { <-saved }()
	started, resuming := time.Now(), true
	wait := s.minBackoff
	for {
		start := time.Now()
		var healthy bool
		var err error
		var left *leftSession
		if resuming {
			left, resuming, err = s.resume(ctx, started)
		}
		if !resuming {
			healthy, err = s.session(ctx, left)
		}
		if ctx.Err() != nil {
			return nil
		}
		// A session that was up for a while resets the back-off; one that
		// failed early (or dropped right after it came up) makes it grow.
		if healthy && time.Since(start) >= s.maxBackoff {
			wait = s.minBackoff
		}
		d := backoff.Jitter(wait)
		s.warn.Log(slog.LevelError, "opc ua session ended, reconnecting", "err", err, "retry_in", d.Round(time.Millisecond))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(d):
		}
		wait = min(2*wait, s.maxBackoff)
	}
}
