package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/floorpulse/floorpulse/hub/internal/alert"
	"github.com/floorpulse/floorpulse/hub/internal/anomaly"
	"github.com/floorpulse/floorpulse/hub/internal/anomaly/gauge"
	"github.com/floorpulse/floorpulse/hub/internal/auth"
	"github.com/floorpulse/floorpulse/hub/internal/calendar"
	"github.com/floorpulse/floorpulse/hub/internal/config"
	"github.com/floorpulse/floorpulse/hub/internal/detect"
	"github.com/floorpulse/floorpulse/hub/internal/engine"
	"github.com/floorpulse/floorpulse/hub/internal/events"
	"github.com/floorpulse/floorpulse/hub/internal/events/ledger"
	"github.com/floorpulse/floorpulse/hub/internal/events/payload"
	"github.com/floorpulse/floorpulse/hub/internal/partition"
	"github.com/floorpulse/floorpulse/hub/internal/report"
)

// liveTick is how often the detectors look at the live edge: a stop is
// reported within this of crossing its threshold.
const liveTick = 200 * time.Millisecond

// openEvents opens the hub's event store (data_dir/events.db).
func openEvents(cfg *config.Config, js jetstream.JetStream, dated *alert.Dated, cal func(site, line string) *calendar.Calendar, log *slog.Logger) (*events.Store, error) {
	if err := compactFile(eventsPath(cfg), log); err != nil {
		return nil, err
	}
	opts := events.OptionsFrom(cfg, js, log.With("part", "events"))
	opts.Alerts.Roster.Dated = dated // the imported rosters (masterdata.go)
	opts.Calendar = cal              // and shift calendars
	secret, err := auth.LoadSecret(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("hub secret: %w", err)
	}
	opts.SignLink = auth.NewLinks(secret, cfg.HTTP.AckLinkTTL).Sign
	ev, err := events.Open(eventsPath(cfg), opts)
	if err != nil {
		return nil, fmt.Errorf("event store: %w", err)
	}
	return ev, nil
}

// newRunner returns the detection runner of one engine, resuming the open
// events of the store and the gauge detector states saved in it.
func newRunner(cfg *config.Config, eng *engine.Engine, ev *events.Store, log *slog.Logger) (*detect.Runner, error) {
	var open []anomaly.Record
	for _, status := range []string{anomaly.Opened, anomaly.Acknowledged} {
		cursor := ""
		for {
			recs, next, more, err := ev.List(ledger.Filter{Status: status}, cursor, 1000)
			if err != nil {
				return nil, fmt.Errorf("listing open events: %w", err)
			}
			open = append(open, recs...)
			if !more {
				break
			}
			cursor = next
		}
	}
	g, err := anomaly.NewGauges(gauge.DefaultConfig(), cfg.Location)
	if err != nil {
		return nil, err
	}
	return detect.New(detect.Options{
		Engine: eng, Sink: ev, States: ev, Gauges: g, Risks: anomaly.NewRisks(cfg.Location), Timeout: cfg.State.SignalTimeout, Open: open,
		Settings: detect.SettingsFrom(func(line, class string) anomaly.Settings {
			s := cfg.Events.Detectors.For(line, class)
			return anomaly.Settings{DowntimeMin: s.DowntimeMin, OutOfShiftMin: s.OutOfShiftMin,
				MicroStopMax: s.MicroStopMax, MicroStopBurst: s.MicroStopBurst, MicroStopWindow: s.MicroStopWindow,
				ActivityDrop: s.ActivityDrop, ActivityWeeks: s.ActivityWeeks, FlatlineMin: s.FlatlineMin,
				GaugeThreshold: s.GaugeThreshold, IdleRunningMin: s.IdleRunningMin,
				RiskThreshold: s.RiskThreshold, RiskHold: s.RiskHold}
		}),
		Log: log.With("part", "detect"),
	}), nil
}

// eventLister lists events page by page (events.Store, ledger.Store).
type eventLister interface {
	List(f ledger.Filter, cursor string, limit int) ([]anomaly.Record, string, bool, error)
}

// eventsOf lists the events of ev whose time overlaps [from, to) for the
// monthly report: every record of the change feed (its latest revision),
// read page by page; the store's retention bounds how many there are.
func eventsOf(ev eventLister) func(from, to time.Time) ([]anomaly.Record, error) {
	return func(from, to time.Time) ([]anomaly.Record, error) {
		var all []anomaly.Record
		cursor := ""
		for {
			recs, next, more, err := ev.List(ledger.Filter{}, cursor, 1000)
			if err != nil {
				return nil, fmt.Errorf("listing events: %w", err)
			}
			all = append(all, recs...)
			if !more {
				break
			}
			cursor = next
		}
		return report.EventsIn(all, from, to), nil
	}
}

// importEvents takes over the events of partition p from the events stream
// (the latest revision of every record of the partition's sites), so the
// hub taking the partition over neither repeats alerts the previous holder
// sent nor publishes its records again.
func importEvents(ctx context.Context, js jetstream.JetStream, cfg *config.Config, p, n int, ev *events.Store, log *slog.Logger) error {
	name := cfg.Events.Stream.Name
	if name == "" {
		return nil
	}
	stream, err := js.Stream(ctx, name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return err
	}
	if info.State.Msgs == 0 {
		return nil
	}
	last := info.State.LastSeq
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy})
	if err != nil {
		return err
	}
	latest := map[string]anomaly.Record{}
	var seq uint64
	for seq < last {
		batch, err := cons.Fetch(1000, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return err
		}
		got := 0
		for msg := range batch.Messages() {
			got++
			if md, err := msg.Metadata(); err == nil {
				seq = md.Sequence.Stream
			}
			var ce payload.CloudEvent
			if json.Unmarshal(msg.Data(), &ce) != nil || partition.Of(ce.Data.Site, n) != p {
				continue
			}
			if old, ok := latest[ce.Data.ID]; !ok || ce.Data.Revision > old.Revision {
				latest[ce.Data.ID] = ce.Data
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		if got == 0 {
			break // nothing more arrives (the last messages may have aged out)
		}
	}
	recs := make([]anomaly.Record, 0, len(latest))
	for _, r := range latest {
		recs = append(recs, r)
	}
	imported, err := ev.Import(recs)
	if err != nil {
		return err
	}
	if imported > 0 {
		log.Info("events taken over", "records", imported)
	}
	return nil
}
