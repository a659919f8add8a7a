package partition

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Lease is a hub's hold on one partition.
type Lease struct {
	P int

	mu       sync.Mutex
	rev      uint64
	deadline time.Time
	lost     bool
}

// Valid reports whether the lease is still held: renewed recently enough
// that the server cannot have expired it. Work on the partition (a write of
// its figures, a snapshot) starts only while it is valid.
func (l *Lease) Valid() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return !l.lost && time.Now().Before(l.deadline)
}

// Deadline is when the lease stops being valid unless renewed (zero when lost).
func (l *Lease) Deadline() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lost {
		return time.Time{}
	}
	return l.deadline
}

// Lost reports whether the lease was lost or given back.
func (l *Lease) Lost() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lost
}

func (l *Lease) renewed(rev uint64, deadline time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rev, l.deadline = rev, deadline
}

func (l *Lease) lose() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lost = true
}

func (l *Lease) revision() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rev
}

// Runner runs an acquired partition until ctx ends. If the lease is still
// valid when ctx ends, the partition is being handed over and Runner hands
// over its state (final flush, snapshot) before it returns; if the lease is
// lost, Runner drops the partition's state at once. A Runner that returns
// early gives the partition back.
type Runner func(ctx context.Context, l *Lease) error

// Config configures a Coordinator.
type Config struct {
	Count int
	TTL   time.Duration
	HubID string
	// Info is the hub's heartbeat value (e.g. its HTTP address), readable by other hubs.
	Info []byte
}

// Coordinator acquires, renews and gives back partition leases, and runs a
// Runner for every partition it holds.
type Coordinator struct {
	kv  jetstream.KeyValue
	cfg Config
	run Runner
	log *slog.Logger

	wake chan struct{} // a runner returned

	mu   sync.Mutex
	held map[int]*holding
	last view
}

type holding struct {
	lease     *Lease
	cancel    context.CancelFunc
	releasing bool
	done      chan struct{}
}

// Bucket creates or updates the lease bucket: entries expire after ttl. The
// replicas of an existing bucket are kept (an operator may have raised them).
func Bucket(ctx context.Context, js jetstream.JetStream, name string, ttl time.Duration) (jetstream.KeyValue, error) {
	cfg := jetstream.KeyValueConfig{
		Bucket: name, Description: "floorpulse hub heartbeats and partition leases",
		History: 1, TTL: ttl, Storage: jetstream.FileStorage,
	}
	if old, err := js.KeyValue(ctx, name); err == nil {
		if st, err := old.Status(ctx); err == nil {
			cfg.Replicas = st.Config().Replicas
		}
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("lease bucket %s: %w", name, err)
	}
	return kv, nil
}

// New returns a coordinator over the lease bucket kv.
func New(kv jetstream.KeyValue, cfg Config, run Runner, log *slog.Logger) *Coordinator {
	return &Coordinator{kv: kv, cfg: cfg, run: run, log: log, held: map[int]*holding{}, wake: make(chan struct{}, 1)}
}

// Owner returns the hub holding partition p and that hub's heartbeat value,
// as last read from the bucket.
func (c *Coordinator) Owner(p int) (hub string, info []byte, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p < 0 || p >= len(c.last.owners) || c.last.owners[p] == "" {
		return "", nil, false
	}
	hub = c.last.owners[p]
	return hub, c.last.hubs[hub], true
}

// Held returns the partitions this hub holds, in order.
func (c *Coordinator) Held() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []int
	for p := range c.held {
		out = append(out, p)
	}
	sort.Ints(out)
	return out
}

// Run coordinates until ctx ends, then hands every held partition over
// (each Runner finishes its final flush and snapshot while the lease is
// still renewed), deletes the leases and the heartbeat, and returns.
func (c *Coordinator) Run(ctx context.Context) error {
	tick := c.cfg.TTL / 3
	if err := c.join(ctx, tick); err != nil {
		return err
	}
	c.log.Info("joined", "hub", c.cfg.HubID, "partitions", c.cfg.Count, "lease_ttl", c.cfg.TTL)
	t := time.NewTicker(tick)
	defer t.Stop()
	draining := false
	for {
		c.beat()
		c.renew()
		c.reap()
		if !draining && ctx.Err() != nil {
			draining = true
			c.mu.Lock()
			for _, h := range c.held {
				h.releasing = true
				h.cancel()
			}
			c.mu.Unlock()
		}
		if draining {
			c.mu.Lock()
			n := len(c.held)
			c.mu.Unlock()
			if n == 0 {
				dctx, cancel := context.WithTimeout(context.Background(), tick)
				defer cancel()
				_ = c.kv.Delete(dctx, hubKey(c.cfg.HubID))
				c.log.Info("left", "hub", c.cfg.HubID)
				return nil
			}
		} else if v, err := c.read(ctx); err != nil {
			c.log.Warn("reading leases failed", "err", err)
		} else {
			c.balance(ctx, v)
		}
		select {
		case <-t.C:
		case <-c.wake:
		case <-ctxDoneOnce(ctx, draining):
		}
	}
}

// ctxDoneOnce is ctx.Done() until draining starts, then nil (never ready).
func ctxDoneOnce(ctx context.Context, draining bool) <-chan struct{} {
	if draining {
		return nil
	}
	return ctx.Done()
}

// join writes the hub's heartbeat; an id that another live hub uses is
// waited out (a restarted hub's own previous heartbeat expires within the TTL).
func (c *Coordinator) join(ctx context.Context, tick time.Duration) error {
	warned := false
	for {
		octx, cancel := context.WithTimeout(ctx, tick)
		_, err := c.kv.Create(octx, hubKey(c.cfg.HubID), c.cfg.Info)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			c.log.Warn("writing heartbeat failed; retrying", "err", err)
		} else if !warned {
			c.log.Warn("hub id in use by a live hub (or this hub's previous run); waiting for its heartbeat to expire", "hub", c.cfg.HubID, "lease_ttl", c.cfg.TTL)
			warned = true
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(tick):
		}
	}
}

func (c *Coordinator) opCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), c.cfg.TTL/3)
}

func (c *Coordinator) beat() {
	ctx, cancel := c.opCtx()
	defer cancel()
	if _, err := c.kv.Put(ctx, hubKey(c.cfg.HubID), c.cfg.Info); err != nil {
		c.log.Warn("heartbeat failed", "err", err)
	}
}

// renew renews every held lease; a lease that cannot be renewed is lost at
// once and its runner stopped without handing over.
func (c *Coordinator) renew() {
	c.mu.Lock()
	hs := make([]*holding, 0, len(c.held))
	for _, h := range c.held {
		hs = append(hs, h)
	}
	c.mu.Unlock()
	for _, h := range hs {
		if h.lease.Lost() {
			continue
		}
		start := time.Now()
		ctx, cancel := c.opCtx()
		rev, err := c.kv.Update(ctx, leaseKey(h.lease.P), []byte(c.cfg.HubID), h.lease.revision())
		cancel()
		if err != nil {
			h.lease.lose()
			h.cancel()
			c.log.Warn("partition lease lost; dropping its state", "partition", h.lease.P, "err", err)
			continue
		}
		// The update matched the revision this hub wrote last, so nobody
		// held the partition in between, even if this renewal came late.
		h.lease.renewed(rev, start.Add(c.validity()))
	}
}

// validity is how long a lease is used after the renewal that started at a
// given instant: a tenth of the TTL less than the server keeps the entry.
func (c *Coordinator) validity() time.Duration { return c.cfg.TTL - c.cfg.TTL/10 }

// reap forgets runners that returned, deleting the leases of those that
// handed over (the lease is still valid).
func (c *Coordinator) reap() {
	c.mu.Lock()
	var done []*holding
	for p, h := range c.held {
		select {
		case <-h.done:
			done = append(done, h)
			delete(c.held, p)
		default:
		}
	}
	c.mu.Unlock()
	for _, h := range done {
		if !h.lease.Valid() {
			continue
		}
		ctx, cancel := c.opCtx()
		err := c.kv.Delete(ctx, leaseKey(h.lease.P), jetstream.LastRevision(h.lease.revision()))
		cancel()
		h.lease.lose()
		if err != nil {
			c.log.Warn("releasing partition lease failed; it expires by itself", "partition", h.lease.P, "err", err)
			continue
		}
		c.log.Info("partition released", "partition", h.lease.P)
	}
}

// read returns the live hubs and the partition holders.
func (c *Coordinator) read(ctx context.Context) (view, error) {
	v := view{hubs: map[string][]byte{}, owners: make([]string, c.cfg.Count)}
	octx, cancel := context.WithTimeout(ctx, c.cfg.TTL/3)
	defer cancel()
	w, err := c.kv.WatchAll(octx, jetstream.IgnoreDeletes())
	if err != nil {
		return v, err
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-octx.Done():
			return v, octx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return v, errors.New("lease watcher closed")
			}
			if e == nil { // all current entries seen
				v.hubs[c.cfg.HubID] = c.cfg.Info
				c.mu.Lock()
				c.last = v
				c.mu.Unlock()
				return v, nil
			}
			if p, ok := leaseOf(e.Key()); ok && p < c.cfg.Count {
				v.owners[p] = string(e.Value())
			} else if isHubKey(e.Key()) {
				v.hubs[e.Key()[len("hub."):]] = e.Value()
			}
		}
	}
}

// balance acquires free partitions and gives one back, following plan.
func (c *Coordinator) balance(ctx context.Context, v view) {
	c.mu.Lock()
	var held []int
	releasing := false
	for p, h := range c.held {
		switch {
		case h.releasing:
			releasing = true
		case !h.lease.Lost():
			held = append(held, p)
		}
	}
	c.mu.Unlock()
	acquire, release := plan(c.cfg.HubID, c.cfg.Count, v, held, releasing)
	if release >= 0 {
		c.mu.Lock()
		if h := c.held[release]; h != nil {
			h.releasing = true
			h.cancel()
			c.log.Info("giving partition back to spread the work", "partition", release, "live_hubs", len(v.hubs))
		}
		c.mu.Unlock()
	}
	for _, p := range acquire {
		c.mu.Lock()
		_, busy := c.held[p] // its previous runner has not returned yet
		c.mu.Unlock()
		if busy {
			continue
		}
		start := time.Now()
		octx, cancel := context.WithTimeout(ctx, c.cfg.TTL/3)
		rev, err := c.kv.Create(octx, leaseKey(p), []byte(c.cfg.HubID))
		cancel()
		if err != nil {
			if !errors.Is(err, jetstream.ErrKeyExists) && ctx.Err() == nil {
				c.log.Warn("acquiring partition failed", "partition", p, "err", err)
			}
			continue
		}
		l := &Lease{P: p}
		l.renewed(rev, start.Add(c.validity()))
		hctx, hcancel := context.WithCancel(context.Background())
		h := &holding{lease: l, cancel: hcancel, done: make(chan struct{})}
		c.mu.Lock()
		c.held[p] = h
		c.mu.Unlock()
		c.log.Info("partition acquired", "partition", p)
		go func() {
			defer func() {
				select {
				case c.wake <- struct{}{}:
				default:
				}
			}()
			defer close(h.done)
			defer hcancel()
			if err := c.run(hctx, l); err != nil && hctx.Err() == nil {
				c.log.Warn("partition stopped; giving it back", "partition", p, "err", err)
			}
		}()
	}
}
