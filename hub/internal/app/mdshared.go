package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/config"
	"github.com/floorpulse/floorpulse/hub/internal/masterdata"
	"github.com/floorpulse/floorpulse/hub/internal/partition"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// sharedMasterData is the master data of a partitioned hub: kept in the
// stream's master data stream (masterdata.Shared), shared by every hub of
// the stream. An import on any hub only publishes its changes; every hub
// watches the stream and applies each batch of changes to the partitions
// it holds as a single hub applies an import: the rosters and shift
// calendars swapped, each partition's registry swapped, and the months the
// changes touch restated for the partition's equipment (the ranges stored
// as pending, then marked). Each partition's store keeps the sequence of
// the last change applied to it, and travels with its snapshot: a hub
// taking a partition over restates the changes after it, so a change made
// while nobody held the partition, or applied by a hub that died before
// its next snapshot, is restated all the same.
type sharedMasterData struct {
	h     *hub
	store *masterdata.Shared
	log   *slog.Logger

	mu    sync.Mutex
	seq   uint64                                             // the last change applied
	recs  map[masterdata.Entity]map[string]masterdata.Record // the records that change figures and alerts, by key
	parts map[int]*part                                      // the partitions held
}

// applied are the entities a hub applies (the others are stored only).
var applied = []masterdata.Entity{masterdata.Equipment, masterdata.Shifts, masterdata.PlannedStops, masterdata.Closures, masterdata.Rosters}

// openSharedMasterData opens the shared master data, loads the records it
// applies and sets the hub's service, rosters and calendars from them.
func (h *hub) openSharedMasterData(ctx context.Context) (*sharedMasterData, error) {
	st, err := masterdata.OpenShared(ctx, h.js, partition.MasterDataStream(h.cfg.NATS.Stream), partition.MasterDataSubjects(h.cfg.NATS.Stream))
	if err != nil {
		return nil, err
	}
	m := &sharedMasterData{h: h, store: st, log: h.log.With("part", "masterdata"), parts: map[int]*part{},
		recs: map[masterdata.Entity]map[string]masterdata.Record{}}
	// The sequence first: a change between it and the records is applied
	// again by the watcher, which changes nothing.
	if m.seq, err = st.Last(ctx); err != nil {
		return nil, err
	}
	for _, e := range applied {
		spec, _ := masterdata.SpecOf(e)
		recs, err := st.Records(e)
		if err != nil {
			return nil, err
		}
		m.recs[e] = map[string]masterdata.Record{}
		for _, r := range recs {
			m.recs[e][spec.KeyOf(r)] = r
		}
	}
	h.md = masterdata.NewService(masterDataBase(h.cfg), st, masterdata.Hooks{})
	h.shared = m
	h.dated.Set(masterdata.RosterOf(m.records(masterdata.Rosters)))
	h.cals.set(m.calendars())
	return m, nil
}

// calendars are the imported shift calendars, planned stops and closures
// as applied (m.mu held, or before Run).
func (m *sharedMasterData) calendars() masterdata.Calendars {
	return masterdata.CalendarsOf(m.records(masterdata.Shifts), m.records(masterdata.PlannedStops), m.records(masterdata.Closures), m.h.cfg.Location)
}

// records are an entity's records as applied (m.mu held, or before Run).
func (m *sharedMasterData) records(e masterdata.Entity) []masterdata.Record {
	keys := slices.Sorted(maps.Keys(m.recs[e]))
	out := make([]masterdata.Record, 0, len(keys))
	for _, k := range keys {
		out = append(out, m.recs[e][k])
	}
	return out
}

// registry is the registry as applied: the configuration's with the
// imported equipment over it.
func (m *sharedMasterData) registry() []activity.Equipment {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.registryLocked()
}

func (m *sharedMasterData) registryLocked() []activity.Equipment {
	return masterdata.Registry(m.h.cfg.Equipment(), m.records(masterdata.Equipment), m.h.cfg.Location)
}

// Run applies the changes as they come until ctx ends; the watch starts
// again (from the last change applied) when it fails.
func (m *sharedMasterData) Run(ctx context.Context) error {
	for {
		m.mu.Lock()
		after := m.seq
		m.mu.Unlock()
		err := m.store.Watch(ctx, after, m.apply)
		if ctx.Err() != nil {
			return nil
		}
		m.log.Warn("watching the master data failed; watching again", "after", after, "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

// apply applies a batch of changes: the records, then the rosters and
// calendars, then each held partition's registry and restatement.
func (m *sharedMasterData) apply(changes []masterdata.Change) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var fresh []masterdata.Change
	touched := map[masterdata.Entity]bool{}
	for _, c := range changes {
		if c.Seq <= m.seq {
			continue // applied at the start already
		}
		fresh = append(fresh, c)
		if recs, ok := m.recs[c.Entity]; ok {
			recs[c.Key] = c.After
			touched[c.Entity] = true
		}
	}
	if len(fresh) == 0 {
		return nil
	}
	last := fresh[len(fresh)-1].Seq
	if touched[masterdata.Rosters] {
		m.h.dated.Set(masterdata.RosterOf(m.records(masterdata.Rosters)))
	}
	calendars := touched[masterdata.Shifts] || touched[masterdata.PlannedStops] || touched[masterdata.Closures]
	if calendars {
		m.h.cals.set(m.calendars())
	}
	reg := m.registryLocked()
	for _, pt := range m.parts {
		if touched[masterdata.Equipment] || calendars {
			if err := m.restate(pt, reg, fresh); err != nil {
				// Not stored: the partition's next holder restates them.
				pt.log.Warn("storing the ranges to restate after a master data change", "err", err)
				continue
			}
		}
		if err := pt.st.SetMasterDataSeq(last); err != nil {
			pt.log.Warn("storing the master data sequence applied", "seq", last, "err", err)
		}
	}
	m.seq = last
	m.log.Info("master data applied", "changes", len(fresh), "seq", last, "partitions", len(m.parts))
	return nil
}

// restate swaps a partition's registry and restates what changes touch
// of its equipment: the ranges are stored as pending, then marked, so the
// flusher rewrites them with the new registry and calendars. The ranges
// are marked even when storing them failed.
func (m *sharedMasterData) restate(pt *part, reg []activity.Equipment, changes []masterdata.Change) error {
	pt.eng.SetRegistry(registryOf(reg, pt.n, pt.p))
	from := pt.restateFrom(m.h, masterdata.RestatementOf(changes, m.h.cfg.Location))
	for k := range from {
		if partition.Of(k.Site, pt.n) != pt.p {
			delete(from, k) // another partition's: its holder restates it
		}
	}
	if len(from) == 0 {
		return nil
	}
	dirty := pt.restateRanges(from, m.h.clock(), m.h.cfg.Location)
	err := pt.st.Save(nil, dirty)
	pt.fl.mark(dirty)
	return err
}

// attach applies the master data to a partition just opened: its registry
// is the current one, and the changes after the sequence its store holds
// (the previous holder's last applied, from its snapshot) are restated.
// From then on apply reaches it, until detach.
func (m *sharedMasterData) attach(ctx context.Context, pt *part) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	stored, err := pt.st.MasterDataSeq()
	if err != nil {
		return err
	}
	reg := m.registryLocked()
	pt.eng.SetRegistry(registryOf(reg, pt.n, pt.p))
	if stored < m.seq && pt.loaded > 0 {
		changes, err := m.store.Between(ctx, stored, m.seq)
		if err != nil {
			return fmt.Errorf("reading the master data changes after %d: %w", stored, err)
		}
		if err := m.restate(pt, reg, changes); err != nil {
			return fmt.Errorf("storing the ranges the master data changes restate: %w", err)
		}
		pt.log.Info("master data restated", "after", stored, "to", m.seq, "changes", len(changes))
	}
	if err := pt.st.SetMasterDataSeq(m.seq); err != nil {
		return err
	}
	m.parts[pt.p] = pt
	return nil
}

// detach forgets a partition no longer held.
func (m *sharedMasterData) detach(p int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.parts, p)
}

// restateFrom are the equipment of a partition an import's restatement
// names, and from when: its equipment, and every equipment of the
// partition on a line of the hub's site whose shift calendar, planned
// stops or closures changed (all its lines for a site-wide closure).
func (pt *part) restateFrom(h *hub, restate masterdata.Restatement) map[signal.Key]time.Time {
	from := restate.Equipment
	if len(restate.Lines) > 0 {
		from = maps.Clone(from)
		if from == nil {
			from = map[signal.Key]time.Time{}
		}
		for _, k := range pt.eng.Keys() {
			if k.Site != h.cfg.Site {
				continue
			}
			for _, line := range []string{k.Line, masterdata.AllLines} {
				if t, ok := restate.Lines[line]; ok {
					if prev, seen := from[k]; !seen || t.Before(prev) {
						from[k] = t
					}
				}
			}
		}
	}
	return from
}

// sharedRecords reads some entities' records from the master data stream
// of a partitioned hub's NATS server (nats.url), for the offline commands.
// A hub with the embedded server has no server to read while it is
// stopped: its offline commands compute with the configuration's master
// data (docs/master-data.md).
func sharedRecords(cfg *config.Config, entities ...masterdata.Entity) (map[masterdata.Entity][]masterdata.Record, error) {
	out := map[masterdata.Entity][]masterdata.Record{}
	if cfg.NATS.URL == "" {
		return out, nil
	}
	opts, err := externalOptions(cfg.NATS)
	if err != nil {
		return nil, err
	}
	nc, err := nats.Connect(cfg.NATS.URL, append(opts, nats.Timeout(5*time.Second))...)
	if err != nil {
		return nil, fmt.Errorf("reading the shared master data: connecting to nats %s: %w", cfg.NATS.URL, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	name := partition.MasterDataStream(cfg.NATS.Stream)
	if _, err := js.Stream(ctx, name); errors.Is(err, jetstream.ErrStreamNotFound) {
		return out, nil // nothing imported yet
	}
	st, err := masterdata.OpenShared(ctx, js, name, partition.MasterDataSubjects(cfg.NATS.Stream))
	if err != nil {
		return nil, err
	}
	for _, e := range entities {
		if out[e], err = st.Records(e); err != nil {
			return nil, fmt.Errorf("reading the shared master data: %w", err)
		}
	}
	return out, nil
}
