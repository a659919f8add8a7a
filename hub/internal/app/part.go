package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/api"
	"github.com/floorpulse/floorpulse/hub/internal/consume"
	"github.com/floorpulse/floorpulse/hub/internal/engine"
	"github.com/floorpulse/floorpulse/hub/internal/partition"
	"github.com/floorpulse/floorpulse/hub/internal/store"
	"github.com/floorpulse/floorpulse/pkg/atomicfile"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// runPartition runs one held partition until ctx ends.
//
// Taking it over: the partition's latest snapshot (its store as of a moment
// when every message up to the durable consumer's ack floor was stored) is
// downloaded and opened; the messages after the snapshot's sequence, up to
// the last one the durable consumer delivered to anybody, are replayed with
// an ordered consumer (applying a signal twice changes nothing, and every
// replayed signal marks its figures for rewriting); then the durable
// consumer continues. So the state holds every message the partition's
// previous holders acknowledged, and their unwritten figures are written.
//
// Handing it over (the lease is still valid when ctx ends: shutdown or
// rebalancing): stop consuming, flush the figures, upload a snapshot. When
// the lease was lost the state is dropped at once: nothing more is written.
func (s *shared) runPartition(ctx context.Context, l *partition.Lease) error {
	p, n := l.P, s.cfg.Partitions.Count
	log := s.log.With("partition", p)
	ccfg := consumeConfig(s.cfg)
	ccfg.Consumer = partition.Consumer(s.cfg.NATS.Consumer, p)
	ccfg.Filter = partition.Filter(s.cfg.NATS.SubjectPrefix, p)
	ccfg.Accept = func(sig signal.Signal) bool { return partition.Of(sig.Site, n) == p }

	path := filepath.Join(s.dir, fmt.Sprintf("p%d.db", p))
	seq, err := s.restore(ctx, p, path)
	if err != nil {
		return fmt.Errorf("restoring partition %d: %w", p, err)
	}
	st, err := store.Open(path)
	if err != nil {
		return err
	}
	defer st.Close()
	saved, err := st.Load()
	if err != nil {
		return err
	}
	pend, err := st.Pending()
	if err != nil {
		return err
	}
	opts := Options(s.cfg)
	opts.Registry = registryOf(opts.Registry, n, p)
	eng := engine.New(opts, saved)
	fl := newFlusher(eng, st, s.w, s.cfg.Influx.Timeout, log.With("part", "flush"))
	fl.lease = l
	fl.mark(pend)
	if err := importEvents(ctx, s.js, s.cfg, p, n, s.ev, log); err != nil {
		log.Warn("taking over the partition's events failed; open events may be alerted again", "err", err)
	}
	runner, err := newRunner(s.cfg, eng, s.ev, log)
	if err != nil {
		return err
	}
	fl.after = runner.Flushed
	handle := func(ctx context.Context, sigs []signal.Signal) error {
		if !l.Valid() {
			return errNotHeld
		}
		changes, dirty := eng.Apply(sigs)
		fl.mark(dirty) // before the commit: a flush in between keeps the stored range
		if err := st.Save(changes, dirty); err != nil {
			return fmt.Errorf("saving state: %w", err)
		}
		return runner.Signals(sigs) // gauge events stored before the ack
	}

	stream, err := s.js.Stream(ctx, s.cfg.NATS.Stream)
	if err != nil {
		return fmt.Errorf("stream %s: %w", s.cfg.NATS.Stream, err)
	}
	cons, err := consume.Durable(ctx, stream, ccfg)
	if err != nil {
		return err
	}
	ci, err := cons.Info(ctx)
	if err != nil {
		return fmt.Errorf("consumer %s: %w", ccfg.Consumer, err)
	}
	replayed, last, err := consume.Replay(ctx, s.js, ccfg, seq+1, ci.Delivered.Stream, handle)
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("replaying partition %d: %w", p, err)
	}
	if last < ci.Delivered.Stream && ctx.Err() == nil && ci.Delivered.Stream > seq {
		log.Warn("replay ended before the last delivered message (aged out of the stream?)", "replayed_to", last, "delivered", ci.Delivered.Stream)
	}
	if ctx.Err() == nil {
		log.Info("partition taken over", "snapshot_seq", seq, "replayed", replayed, "replayed_to", last,
			"delivered", ci.Delivered.Stream, "equipment", len(saved), "pending", len(pend))
	}

	s.setAPI(p, api.New(eng, s.stats, s.cfg.Location, s.cfg.Site, s.nc, api.WithEvents(s.ev.Handler()), api.WithOpenEvents(openEventsOf(s.ev, log))))
	defer s.setAPI(p, nil)

	// Consumer and snapshots stop first, then the flusher (its last flush
	// writes what the consumer stored), then the final snapshot.
	cctx, cstop := context.WithCancel(context.Background())
	defer cstop()
	fctx, fstop := context.WithCancel(context.Background())
	defer fstop()
	var wg sync.WaitGroup
	loopDone := make(chan error, 1)
	wg.Add(3)
	go func() {
		defer wg.Done()
		loopDone <- consume.Loop(cctx, cons, ccfg, handle, s.stats, log.With("part", "consume"))
	}()
	go func() {
		defer wg.Done()
		_ = runner.Run(cctx, liveTick)
	}()
	go func() {
		defer wg.Done()
		s.snapshots(cctx, p, st, cons, l, path, seq, log)
	}()
	flushed := make(chan struct{})
	go func() {
		defer close(flushed)
		_ = fl.Run(fctx, s.cfg.Activity.FlushInterval)
	}()
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-loopDone:
		if runErr == nil {
			runErr = errors.New("consumer stopped")
		}
	}
	cstop()
	wg.Wait()
	fstop()
	<-flushed
	if !l.Valid() {
		log.Info("partition dropped")
		return runErr
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.Influx.Timeout)
	defer cancel()
	if sq, err := s.snapshot(sctx, p, st, cons, l, path); err != nil {
		log.Warn("final snapshot failed; the next holder replays from the previous one", "err", err)
	} else {
		log.Info("partition handed over", "snapshot_seq", sq)
	}
	return runErr
}

// registryOf is the part of the registry whose sites fall in partition p.
func registryOf(all []activity.Equipment, n, p int) []activity.Equipment {
	var out []activity.Equipment
	for _, eq := range all {
		if partition.Of(eq.Key.Site, n) == p {
			out = append(out, eq)
		}
	}
	return out
}

// restore replaces the local store of partition p with its latest snapshot
// (or removes it when there is none) and returns the stream sequence the
// snapshot covers.
func (s *shared) restore(ctx context.Context, p int, path string) (uint64, error) {
	res, err := s.obs.Get(ctx, partition.Object(p))
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return 0, err
		}
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer res.Close()
	info, err := res.Info()
	if err != nil {
		return 0, err
	}
	seq, err := strconv.ParseUint(info.Metadata["seq"], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("snapshot %s: bad seq %q", info.Name, info.Metadata["seq"])
	}
	tmp := path + ".restore"
	f, err := os.Create(tmp)
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp)
	if _, err := io.Copy(f, res); err != nil { // verifies the object's digest at the end
		f.Close()
		return 0, fmt.Errorf("downloading snapshot %s: %w", info.Name, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return 0, err
	}
	if err := f.Close(); err != nil {
		return 0, err
	}
	if err := os.Rename(tmp, path); err != nil {
		return 0, err
	}
	return seq, atomicfile.SyncDir(filepath.Dir(path))
}

// snapshots uploads a snapshot every snapshot interval while the ack floor moves.
func (s *shared) snapshots(ctx context.Context, p int, st *store.Store, cons jetstream.Consumer, l *partition.Lease, path string, prev uint64, log *slog.Logger) {
	t := time.NewTicker(s.cfg.Partitions.SnapshotInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ci, err := cons.Info(ctx)
		if err != nil || ci.AckFloor.Stream == prev {
			continue
		}
		seq, err := s.snapshot(ctx, p, st, cons, l, path)
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("snapshot failed", "err", err)
			}
			continue
		}
		prev = seq
		log.Debug("snapshot uploaded", "seq", seq)
	}
}

// snapshot uploads the partition's store with the stream sequence it covers:
// the durable consumer's ack floor, read before the store is copied (every
// acknowledged message was stored before its ack) and while the lease was
// valid (so nobody else acknowledged anything of the partition).
func (s *shared) snapshot(ctx context.Context, p int, st *store.Store, cons jetstream.Consumer, l *partition.Lease, path string) (uint64, error) {
	if !l.Valid() {
		return 0, errNotHeld
	}
	ci, err := cons.Info(ctx)
	if err != nil {
		return 0, err
	}
	if !l.Valid() {
		return 0, errNotHeld
	}
	seq := ci.AckFloor.Stream
	tmp := path + ".snapshot"
	defer os.Remove(tmp)
	if err := st.Backup(tmp); err != nil {
		return 0, fmt.Errorf("copying the store: %w", err)
	}
	f, err := os.Open(tmp)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	_, err = s.obs.Put(ctx, jetstream.ObjectMeta{Name: partition.Object(p), Metadata: map[string]string{
		"seq": strconv.FormatUint(seq, 10), "hub": s.hubID, "partitions": strconv.Itoa(s.cfg.Partitions.Count),
	}}, f)
	if err != nil {
		return 0, fmt.Errorf("uploading snapshot: %w", err)
	}
	return seq, nil
}
