// Package opcua is the OPC UA source: one client session per server, one
// subscription with a monitored item per configured node, each data change
// turned into a signal with the node's SourceTimestamp and full status code.
//
// What always holds: a notification batch is committed to the on-disk queue
// before the next one is taken (the notification channel is unbuffered, so the
// client's publish loop waits meanwhile). Bad and uncertain values are
// forwarded with their quality, never dropped. When the session is lost the
// source reconnects with back-off and creates the subscription anew; the
// server then sends current values again, which carry their original source
// timestamps and therefore the same signal IDs, deduplicated downstream.
package opcua

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/ua"

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

// monitorBatch is how many monitored items one CreateMonitoredItems request holds.
const monitorBatch = 100

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
	// state: a server that vanishes without closing the connection (or whose
	// publish loop silently stopped) is noticed within about this time.
	keepAlive time.Duration
}

// New returns the source of a validated server configuration.
func New(cfg config.OPCUA, agentID, defaultSite string, commit Committer, stat *metrics.Source, log *slog.Logger) *Source {
	s := &Source{cfg: cfg, agent: agentID, commit: commit, stat: stat, log: log, warn: lograte.New(log, 10*time.Second), now: time.Now,
		keepAlive: 5 * time.Second}
	for _, n := range cfg.Nodes {
		id, _ := config.ParseNodeID(n.NodeID) // validated by config
		site := n.Site
		if site == "" {
			site = defaultSite
		}
		s.nodes = append(s.nodes, mapping{nodeID: id, site: site, line: n.Line, equipment: n.Equipment, signalName: n.Signal})
	}
	return s
}

// Run keeps a session with a subscription up until ctx ends.
func (s *Source) Run(ctx context.Context) error {
	const minWait, maxWait = 500 * time.Millisecond, 30 * time.Second
	wait := minWait
	for {
		subscribed, err := s.session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if subscribed {
			wait = minWait
		}
		s.warn.Warn("opc ua session ended, reconnecting", "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = min(2*wait, maxWait)
	}
}

func (s *Source) clientOptions(ctx context.Context, lost chan<- struct{}) ([]opcua.Option, error) {
	opts := []opcua.Option{
		opcua.ApplicationName("floorpulse agent"),
		opcua.SecurityPolicy(s.cfg.SecurityPolicy),
		opcua.SecurityModeString(s.cfg.SecurityMode),
		opcua.AutoReconnect(false), // Run reconnects and recreates the subscription itself
		opcua.DialTimeout(10 * time.Second),
		opcua.RequestTimeout(10 * time.Second),
		opcua.SessionTimeout(time.Minute),
		opcua.StateChangedFunc(func(st opcua.ConnState) {
			if st == opcua.Disconnected || st == opcua.Closed {
				select {
				case lost <- struct{}{}:
				default:
				}
			}
		}),
	}
	if s.cfg.Certificate != "" {
		opts = append(opts, opcua.CertificateFile(s.cfg.Certificate), opcua.PrivateKeyFile(s.cfg.PrivateKey))
	}
	token := ua.UserTokenTypeAnonymous
	if s.cfg.Username != "" {
		token = ua.UserTokenTypeUserName
		opts = append(opts, opcua.AuthUsername(s.cfg.Username, s.cfg.Password))
	} else {
		opts = append(opts, opcua.AuthAnonymous())
	}
	if s.cfg.SecurityPolicy != "None" || s.cfg.Username != "" {
		eps, err := opcua.GetEndpoints(ctx, s.cfg.Endpoint)
		if err != nil {
			return nil, fmt.Errorf("getting endpoints: %w", err)
		}
		ep, err := opcua.SelectEndpoint(eps, s.cfg.SecurityPolicy, ua.MessageSecurityModeFromString(s.cfg.SecurityMode))
		if err != nil {
			return nil, fmt.Errorf("selecting endpoint: %w", err)
		}
		opts = append(opts, opcua.SecurityFromEndpoint(ep, token))
	}
	return opts, nil
}

// session runs one client session; it reports whether it got as far as an
// active subscription, and why it ended.
func (s *Source) session(ctx context.Context) (bool, error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	lost := make(chan struct{}, 1)
	opts, err := s.clientOptions(sctx, lost)
	if err != nil {
		return false, err
	}
	c, err := opcua.NewClient(s.cfg.Endpoint, opts...)
	if err != nil {
		return false, fmt.Errorf("creating client: %w", err)
	}
	if err := c.Connect(sctx); err != nil {
		return false, fmt.Errorf("connecting to %s: %w", s.cfg.Endpoint, err)
	}
	// Drain a state change the connect may have left behind.
	select {
	case <-lost:
	default:
	}
	defer func() {
		s.stat.Connected.Store(false)
		s.stat.Subscribed.Store(false)
		cctx, ccancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer ccancel()
		_ = c.Close(cctx)
	}()
	s.stat.Connected.Store(true)
	s.log.Info("connected to opc ua server")

	notify := make(chan *opcua.PublishNotificationData)
	sub, err := c.Subscribe(sctx, &opcua.SubscriptionParameters{Interval: s.cfg.PublishingInterval}, notify)
	if err != nil {
		return false, fmt.Errorf("creating subscription: %w", err)
	}
	if err := s.monitor(sctx, sub); err != nil {
		return false, err
	}
	s.stat.Subscribed.Store(true)
	s.log.Info("subscribed", "nodes", len(s.nodes), "publishing_interval", sub.RevisedPublishingInterval)

	tick := time.NewTicker(s.keepAlive)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return true, nil
		case <-lost:
			return true, errors.New("connection lost")
		case <-tick.C:
			if err := s.ping(sctx, c); err != nil {
				return true, fmt.Errorf("keep-alive: %w", err)
			}
		case n := <-notify:
			if err := s.handle(ctx, n); err != nil {
				return true, err
			}
		}
	}
}

// ping reads the server's state (ServerStatus.State).
func (s *Source) ping(ctx context.Context, c *opcua.Client) error {
	ctx, cancel := context.WithTimeout(ctx, max(2*time.Second, s.keepAlive))
	defer cancel()
	res, err := c.Read(ctx, &ua.ReadRequest{
		NodesToRead:        []*ua.ReadValueID{{NodeID: ua.NewNumericNodeID(0, id.Server_ServerStatus_State), AttributeID: ua.AttributeIDValue}},
		TimestampsToReturn: ua.TimestampsToReturnNeither,
	})
	if err != nil {
		return err
	}
	if len(res.Results) != 1 {
		return errors.New("empty read response")
	}
	if st := res.Results[0].Status; st != ua.StatusOK {
		return st
	}
	return nil
}

// monitor creates the monitored items in batches. A node the server rejects
// is logged and counted; the others go on.
func (s *Source) monitor(ctx context.Context, sub *opcua.Subscription) error {
	for start := 0; start < len(s.nodes); start += monitorBatch {
		end := min(start+monitorBatch, len(s.nodes))
		reqs := make([]*ua.MonitoredItemCreateRequest, 0, end-start)
		for i := start; i < end; i++ {
			r := opcua.NewMonitoredItemCreateRequestWithDefaults(s.nodes[i].nodeID, ua.AttributeIDValue, uint32(i))
			r.RequestedParameters.QueueSize = s.cfg.QueueSize
			r.RequestedParameters.SamplingInterval = float64(s.cfg.SamplingInterval) / float64(time.Millisecond)
			reqs = append(reqs, r)
		}
		res, err := sub.Monitor(ctx, ua.TimestampsToReturnBoth, reqs...)
		if err != nil {
			return fmt.Errorf("creating monitored items %d-%d: %w", start, end-1, err)
		}
		for i, r := range res.Results {
			if r.StatusCode != ua.StatusOK {
				s.stat.DecodeErrors.Add(1)
				s.log.Error("server rejected a monitored item", "node_id", s.nodes[start+i].nodeID.String(), "status", r.StatusCode.Error())
			}
		}
	}
	return nil
}

// handle commits one notification batch. It returns an error when the
// subscription is gone and the session must be rebuilt.
func (s *Source) handle(ctx context.Context, n *opcua.PublishNotificationData) error {
	if n == nil {
		return nil
	}
	if n.Error != nil {
		var sc ua.StatusCode
		if errors.As(n.Error, &sc) {
			switch sc {
			case ua.StatusBadSessionIDInvalid, ua.StatusBadSessionClosed, ua.StatusBadSubscriptionIDInvalid,
				ua.StatusBadNoSubscription, ua.StatusBadSecureChannelClosed, ua.StatusBadConnectionClosed:
				return fmt.Errorf("subscription lost: %w", n.Error)
			}
		}
		s.warn.Warn("opc ua notification error", "err", n.Error)
		return nil
	}
	switch x := n.Value.(type) {
	case *ua.DataChangeNotification:
		rx := s.now()
		sigs := make([]signal.Signal, 0, len(x.MonitoredItems))
		for _, item := range x.MonitoredItems {
			if item == nil || int(item.ClientHandle) >= len(s.nodes) {
				s.stat.DecodeErrors.Add(1)
				continue
			}
			m := s.nodes[item.ClientHandle]
			sig, err := toSignal(m, item.Value, s.agent, rx)
			if err != nil {
				s.stat.DecodeErrors.Add(1)
				s.warn.Warn("dropping an unconvertible opc ua value", "node_id", m.nodeID.String(), "err", err)
				continue
			}
			sigs = append(sigs, sig)
		}
		if len(sigs) == 0 {
			return nil
		}
		if err := s.commit.Commit(ctx, sigs); err != nil {
			return fmt.Errorf("committing: %w", err)
		}
		s.stat.SignalsIn.Add(uint64(len(sigs)))
	case *ua.StatusChangeNotification:
		if x.Status != ua.StatusOK {
			return fmt.Errorf("subscription status changed: %w", x.Status)
		}
	}
	return nil
}
