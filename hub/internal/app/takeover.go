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
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/floorpulse/floorpulse/hub/internal/consume"
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
func (s *partitioned) runPartition(ctx context.Context, l *partition.Lease) error {
	p, n := l.P, s.cfg.Partitions.Count
	log := s.log.With("partition", p)
	path := s.partitionPath(p)
	seq, err := s.restore(ctx, p, path)
	if err != nil {
		return fmt.Errorf("restoring partition %d: %w", p, err)
	}
	// The runner resumes the open events: take the partition's over first.
	if err := importEvents(ctx, s.js, s.cfg, p, n, s.ev, log); err != nil {
		log.Warn("taking over the partition's events failed; open events may be alerted again", "err", err)
	}
	pt, err := s.openPart(partSpec{p: p, n: n, path: path, lease: l}, log)
	if err != nil {
		return err
	}
	defer pt.close()
	if err := s.shared.attach(ctx, pt); err != nil {
		return fmt.Errorf("partition %d: master data: %w", p, err)
	}
	defer s.shared.detach(p)
	ccfg := consumeConfig(s.cfg)
	ccfg.Consumer = partition.Consumer(s.cfg.NATS.Consumer, p)
	ccfg.Filter = partition.Filter(s.cfg.NATS.SubjectPrefix, p)
	ccfg.Accept = func(sig signal.Signal) bool { return partition.Of(sig.Site, n) == p }
	cons, err := s.catchUp(ctx, pt, ccfg, seq)
	if err != nil {
		return err
	}
	s.setAPI(p, pt.api)
	defer s.setAPI(p, nil)
	runErr := pt.run(ctx, func(ctx context.Context) error {
		return consume.Loop(ctx, cons, ccfg, pt.handle, s.stats, log.With("part", "consume"))
	}, func(ctx context.Context) error {
		s.snapshots(ctx, p, pt.st, cons, l, path, seq, log)
		return nil
	})
	if !l.Valid() {
		log.Info("partition dropped")
		return runErr
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.Influx.Timeout)
	defer cancel()
	if sq, err := s.snapshot(sctx, p, pt.st, cons, l, path); err != nil {
		log.Warn("final snapshot failed; the next holder replays from the previous one", "err", err)
	} else {
		log.Info("partition handed over", "snapshot_seq", sq)
	}
	return runErr
}

// catchUp creates the partition's durable consumer and replays what it
// delivered after the snapshot's sequence seq.
func (s *partitioned) catchUp(ctx context.Context, pt *part, ccfg consume.Config, seq uint64) (jetstream.Consumer, error) {
	stream, err := s.js.Stream(ctx, s.cfg.NATS.Stream)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", s.cfg.NATS.Stream, err)
	}
	cons, err := consume.Durable(ctx, stream, ccfg)
	if err != nil {
		return nil, err
	}
	ci, err := cons.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("consumer %s: %w", ccfg.Consumer, err)
	}
	delivered := ci.Delivered.Stream
	replayed, last, err := consume.Replay(ctx, s.js, ccfg, seq+1, delivered, pt.handle)
	if ctx.Err() != nil {
		return cons, nil
	}
	if err != nil {
		return nil, fmt.Errorf("replaying partition %d: %w", pt.p, err)
	}
	if last < delivered && delivered > seq {
		pt.log.Warn("replay ended before the last delivered message (aged out of the stream?)", "replayed_to", last, "delivered", delivered)
	}
	pt.log.Info("partition taken over", "snapshot_seq", seq, "replayed", replayed, "replayed_to", last,
		"delivered", delivered, "equipment", pt.loaded, "pending", pt.pending)
	return cons, nil
}

// restore replaces the local store of partition p with its latest snapshot
// (or removes it when there is none) and returns the stream sequence the
// snapshot covers.
func (s *partitioned) restore(ctx context.Context, p int, path string) (uint64, error) {
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
func (s *partitioned) snapshots(ctx context.Context, p int, st *store.Store, cons jetstream.Consumer, l *partition.Lease, path string, prev uint64, log *slog.Logger) {
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
func (s *partitioned) snapshot(ctx context.Context, p int, st *store.Store, cons jetstream.Consumer, l *partition.Lease, path string) (uint64, error) {
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
