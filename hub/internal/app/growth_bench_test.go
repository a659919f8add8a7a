package app

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/floorpulse/floorpulse/hub/internal/config"
	"github.com/floorpulse/floorpulse/hub/internal/consume"
	"github.com/floorpulse/floorpulse/hub/internal/engine"
	"github.com/floorpulse/floorpulse/hub/internal/events"
	"github.com/floorpulse/floorpulse/hub/internal/events/ledger"
	"github.com/floorpulse/floorpulse/hub/internal/store"
	"github.com/floorpulse/floorpulse/pkg/signal"
	"github.com/floorpulse/floorpulse/pkg/testenv"
)

// growthMachines is how many machines BenchmarkGrowthPerMachineMonth feeds.
const growthMachines = 10

// monthOfSignals calls emit with a month (October 2026, plant time) of one
// machine's signals, a day at a time in source-time order: a state change
// every 20 to 60 minutes (mostly running), a power gauge every 5 minutes
// that follows the state with noise, a good-part counter every 5 minutes
// while running, and the operator at every shift change (06:00, 14:00,
// 22:00), as an agent sends them.
func monthOfSignals(k signal.Key, i int, from, to time.Time, emit func([]signal.Signal)) {
	rng := rand.New(rand.NewPCG(uint64(i)+1, 2))
	codes := []float64{1, 1, 1, 1, 1, 2, 2, 3, 4}
	power := map[float64]float64{1: 60, 2: 12, 3: 20, 4: 3}
	base := signal.Signal{Site: k.Site, Line: k.Line, Equipment: k.Equipment, Quality: signal.Good, Agent: "gw1"}
	var seq uint64
	sig := func(name string, t time.Time, v signal.Value) signal.Signal {
		seq++
		s := base
		s.Name, s.Time, s.Value, s.Seq = name, t, v, seq
		return s
	}
	code, next, count := 1.0, from.Add(time.Duration(rng.IntN(3600))*time.Second), 0.0
	for day := from; day.Before(to); day = day.AddDate(0, 0, 1) {
		var batch []signal.Signal
		for t := day; t.Before(day.AddDate(0, 0, 1)) && t.Before(to); t = t.Add(5 * time.Minute) {
			if h, m := t.Hour(), t.Minute(); m == 0 && (h == 6 || h == 14 || h == 22) {
				batch = append(batch, sig(signal.Operator, t, signal.String(fmt.Sprintf("op%03d", rng.IntN(200)))))
			}
			for next.Before(t.Add(5 * time.Minute)) {
				code = codes[rng.IntN(len(codes))]
				batch = append(batch, sig(signal.State, next, signal.Number(code)))
				next = next.Add(time.Duration(20*60+rng.IntN(40*60)) * time.Second)
			}
			batch = append(batch, sig("power", t, signal.Number(power[code]+rng.NormFloat64()*2)))
			if code == 1 {
				count += float64(rng.IntN(6))
				batch = append(batch, sig(signal.Count, t, signal.Number(count)))
			}
		}
		emit(batch)
	}
}

// BenchmarkGrowthPerMachineMonth measures the disk use of one machine-month
// in each store the hub keeps: it feeds a month of realistic signals of
// growthMachines machines through the signals stream (as agents publish
// them, with their message ids), the state store (as the consumer commits
// them, a batch of up to 1000 at a time) and the detectors into the event
// store (with the events stream delivering the outbox), and reports the
// bytes per machine-month of state.db, events.db and the stream. Run it
// with -benchtime 1x (see docs/hub.md, Retention and disk use).
func BenchmarkGrowthPerMachineMonth(b *testing.B) {
	for i := 0; i < b.N; i++ {
		growth(b)
	}
}

func growth(b *testing.B) {
	dir := b.TempDir()
	srv := testenv.StartNATS(b)
	nc, err := nats.Connect(srv.URL)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	text := fmt.Sprintf(`site: plant
timezone: Europe/Berlin
data_dir: %s
state: {signal_timeout: 30m, codes: {"1": running, "2": idle, "3": setup, "4": down}}
calendar:
  shifts:
    - {name: early, start: "06:00", end: "14:00", days: [mon-fri]}
    - {name: late, start: "14:00", end: "22:00", days: [mon-fri]}
    - {name: night, start: "22:00", end: "06:00", days: [mon-fri]}
equipment:
  - {line: L1, class: cnc, ids: [`, dir)
	for m := 0; m < growthMachines; m++ {
		if m > 0 {
			text += ", "
		}
		text += fmt.Sprintf("M%02d", m)
	}
	cfg, err := config.Decode("plant.yaml", []byte(text+"]}\n"))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := consume.EnsureStream(ctx, js, consumeConfig(cfg))
	if err != nil {
		b.Fatal(err)
	}
	st, err := store.Open(cfg.StatePath())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	log := slog.New(slog.DiscardHandler)
	ev, err := events.Open(eventsPath(cfg), events.OptionsFrom(cfg, js, log))
	if err != nil {
		b.Fatal(err)
	}
	defer ev.Close()
	evDone := make(chan error, 1)
	go func() { evDone <- ev.Run(ctx) }()
	eng := engine.New(cfg.EngineOptions(), nil)
	runner, err := newRunner(cfg, eng, ev, log)
	if err != nil {
		b.Fatal(err)
	}

	from := time.Date(2026, 10, 1, 0, 0, 0, 0, cfg.Location)
	to := from.AddDate(0, 1, 0)
	n := 0
	for i, eq := range cfg.Equipment() {
		monthOfSignals(eq.Key, i, from, to, func(day []signal.Signal) {
			n += len(day)
			for len(day) > 0 {
				batch := day[:min(len(day), 1000)]
				day = day[len(batch):]
				for _, s := range batch {
					body, err := signal.Marshal(s)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := js.PublishAsync(s.Subject(cfg.NATS.SubjectPrefix), body, jetstream.WithMsgID(s.ID())); err != nil {
						b.Fatal(err)
					}
				}
				changes, dirty := eng.Apply(batch)
				if err := st.Save(changes, dirty); err != nil {
					b.Fatal(err)
				}
				if err := runner.Signals(batch); err != nil {
					b.Fatal(err)
				}
				if err := runner.Flushed(dirty); err != nil {
					b.Fatal(err)
				}
				if err := st.Written(dirty); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(time.Minute):
		b.Fatal("stream acks did not come")
	}
	deadline := time.Now().Add(time.Minute)
	for {
		p, err := ev.Pending()
		if err != nil {
			b.Fatal(err)
		}
		left := 0
		for _, c := range p {
			left += c
		}
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("outbox not delivered: %v", p)
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	<-evDone
	info, err := stream.Info(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	records, cursor := 0, ""
	for {
		recs, next, more, err := ev.List(ledger.Filter{}, cursor, 1000)
		if err != nil {
			b.Fatal(err)
		}
		records += len(recs)
		if !more {
			break
		}
		cursor = next
	}
	st.Close()
	ev.Close()
	per := func(v float64) float64 { return v / growthMachines }
	size := func(path string) float64 {
		fi, err := os.Stat(path)
		if err != nil {
			b.Fatal(err)
		}
		return float64(fi.Size())
	}
	b.ReportMetric(per(float64(n)), "signals/machine-month")
	b.ReportMetric(per(size(cfg.StatePath())), "state.db-B/machine-month")
	b.ReportMetric(per(size(eventsPath(cfg))), "events.db-B/machine-month")
	b.ReportMetric(per(float64(records)), "events/machine-month")
	b.ReportMetric(per(float64(info.State.Bytes)), "stream-B/machine-month")
	b.Logf("%d machines, %d signals, %d events; files in %s", growthMachines, n, records, filepath.Base(dir))
}
