// Package opcua is the OPC UA source: one client session per server, and in
// it either one subscription with a monitored item per configured node or a
// Read of every node at a fixed interval (mode poll). Each value becomes a
// signal with the node's SourceTimestamp and full status code.
//
// A Source holds its configuration and what it learns of its server over
// all sessions (the limits it enforces unstated, the services it lacks,
// the last value committed per node); a session (session.go) holds what
// lasts one session: its connection, its subscription and watchdog, the
// nodes refused in it. The session is served (serve.go) and checked
// (health.go, watchdog.go); its per-call limits come from limits.go, what
// status codes mean to it from errors.go, its security from security.go.
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
//     closed and a new one built, nodes given by browse path are resolved
//     again and the subscription is created anew, after a back-off with jitter that grows while attempts
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
//   - Every instant the source reads (receive times, how long a session
//     was up, deadlines, the watchdog's and the clock offset's times) comes
//     from its one clock, Source.now; waits are timers. Only the exported
//     functions used without a Source (LoadIdentity, ClientOptions,
//     Connect) read the system clock.
package opcua

import (
	"context"
	"log/slog"
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

// Committer commits signals durably, with state records of the source in
// the same transaction; *buffer.Batcher implements it. Once Commit returned
// nil it no longer uses sigs: the source fills the slice again.
type Committer interface {
	Commit(ctx context.Context, sigs []signal.Signal, puts ...buffer.Put) error
}

var _ Committer = (*buffer.Batcher)(nil)

// StateStore reads back the state records committed with the signals
// (buffer.Put); *buffer.Queue implements it.
type StateStore interface {
	State(prefix []byte, fn func(key, value []byte) error) error
}

var _ StateStore = (*buffer.Queue)(nil)

// Option configures a Source.
type Option func(*Source)

// WithState makes the backfill times durable: the source time of the last
// value committed per node is committed with it and read back at start, so
// a restarted agent, even after a SIGKILL, reads back from history exactly
// what changed after it.
func WithState(st StateStore) Option { return func(s *Source) { s.state = st } }

// Back-off between session attempts.
const (
	minBackoff = 500 * time.Millisecond
	maxBackoff = 30 * time.Second
)

// Source is one OPC UA server connection. Its fields are its
// configuration; what it learns of the server lives in srv and seen, for
// as long as the source does, and what holds for one session only in a
// session (session.go).
type Source struct {
	cfg    config.OPCUA
	agent  string
	nodes  []mapping // index = client handle
	commit Committer
	state  StateStore // nil: the backfill times last as long as the source
	stat   *metrics.Source
	log    *slog.Logger
	warn   *lograte.Logger
	now    func() time.Time // the clock: every time the source takes is from it

	// keepAlive is how often the session is checked by reading the server
	// state: a server that vanishes without closing the connection, stops
	// running, or whose session died, is noticed within about this time.
	keepAlive time.Duration
	// backoff bounds the wait between session attempts.
	minBackoff, maxBackoff time.Duration
	// sessionTimeout is the session timeout requested: how long a session
	// whose connection broke can be taken over.
	sessionTimeout time.Duration

	srv  remote    // what the source learned of the server, over all sessions
	seen seenTimes // backfill: the source time of the last value committed per node
}

// remote is what the source learned of its server, over all sessions.
type remote struct {
	rejected    atomic.Uint64 // nodes the server refused, over all sessions
	noSubCheck  atomic.Bool   // the server does not support the quiet subscription's check
	noHistory   atomic.Bool   // the server does not support HistoryRead (backfill)
	clockTicks  atomic.Bool   // the server's clock ticks at pace in a subscription: its watchdog is armed
	clockOff    atomic.Bool   // the server's clock was last found off by more than clockWarnAt
	learned     learnedLimits // per-call limits the server enforced without stating them
	historyless []bool        // nodes the server keeps no history for (index = client handle)
	// polled is, in mode poll, the last value committed per node: only
	// Run's goroutine touches it.
	polled map[uint32]*ua.DataValue
}

// New returns the source of a validated server configuration.
func New(cfg config.OPCUA, agentID, defaultSite string, commit Committer, stat *metrics.Source, log *slog.Logger, opts ...Option) *Source {
	s := &Source{cfg: cfg, agent: agentID, commit: commit, stat: stat, log: log, warn: lograte.New(log, 10*time.Second), now: time.Now,
		keepAlive: 5 * time.Second, minBackoff: minBackoff, maxBackoff: maxBackoff, sessionTimeout: cfg.SessionTimeout}
	s.srv.polled, s.srv.historyless = map[uint32]*ua.DataValue{}, make([]bool, len(cfg.Nodes))
	s.seen = seenTimes{times: make([]time.Time, len(cfg.Nodes))}
	for j, n := range cfg.Nodes {
		s.nodes = append(s.nodes, newMapping(cfg, j, n, defaultSite))
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// newMapping is the mapping of node j, n, of cfg.
func newMapping(cfg config.OPCUA, j int, n config.Node, defaultSite string) mapping {
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
	return m
}

// Rejected is how many nodes the server refused (unknown, unresolvable or
// not monitorable), counted once per session.
func (s *Source) Rejected() uint64 { return s.srv.rejected.Load() }

// Run keeps a session up until ctx ends. It returns nil when ctx ends.
func (s *Source) Run(ctx context.Context) error {
	if err := s.loadSeen(); err != nil {
		return err
	}
	started, resuming := s.now(), true
	wait := s.minBackoff
	for {
		start := s.now()
		var healthy bool
		var err error
		var left *leftSession
		if resuming {
			left, resuming, err = s.resume(ctx, started)
		}
		if !resuming {
			healthy, err = s.runSession(ctx, left)
		}
		if ctx.Err() != nil {
			return nil
		}
		// A session that was up for a while resets the back-off; one that
		// failed early (or dropped right after it came up) makes it grow.
		if healthy && s.now().Sub(start) >= s.maxBackoff {
			wait = s.minBackoff
		}
		d := backoff.Jitter(wait)
		s.warn.Log(slog.LevelError, "opc ua session ended, reconnecting", "err", err, "retry_in", d.Round(time.Millisecond))
		if !sleep(ctx, d) {
			return nil
		}
		wait = min(2*wait, s.maxBackoff)
	}
}
