package recompute

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/config"
	"github.com/floorpulse/floorpulse/hub/internal/engine"
	"github.com/floorpulse/floorpulse/hub/internal/influx"
	"github.com/floorpulse/floorpulse/hub/internal/state"
	"github.com/floorpulse/floorpulse/hub/internal/store"
	"github.com/floorpulse/floorpulse/pkg/signal"
	"github.com/floorpulse/floorpulse/pkg/testenv"
)

// plantConfig is a plant of 20 lines of 50 machines on three shifts with a
// break, every period kind configured.
func plantConfig(tb testing.TB, lines, perLine int) *config.Config {
	tb.Helper()
	text := `site: plant
timezone: Europe/Berlin
state: {signal_timeout: 30m, codes: {"1": running, "2": idle, "3": setup, "4": down}}
calendar:
  shifts:
    - {name: early, start: "06:00", end: "14:00"}
    - {name: late, start: "14:00", end: "22:00"}
    - {name: night, start: "22:00", end: "06:00"}
  planned_stops:
    - {name: break, start: "12:00", end: "12:30"}
equipment:
`
	for l := 0; l < lines; l++ {
		text += fmt.Sprintf("  - {line: L%02d, class: cnc, ids: [", l)
		for m := 0; m < perLine; m++ {
			if m > 0 {
				text += ", "
			}
			text += fmt.Sprintf("M%02d", m)
		}
		text += "]}\n"
	}
	cfg, err := config.Decode("plant.yaml", []byte(text))
	if err != nil {
		tb.Fatal(err)
	}
	return cfg
}

// feed applies synthetic signals for [from, to) to eng, a day at a time:
// every machine changes state every 20 to 60 minutes (mostly running),
// reports power every 5 minutes, and gets the operator of its pair of
// machines at every shift change. It returns the number of signals.
// save, when not nil, is given each day's changes, as the hub commits them.
func feed(eng *engine.Engine, cfg *config.Config, from, to time.Time, save func([]state.Change, engine.Dirty)) int {
	rng := rand.New(rand.NewPCG(1, 2))
	keys := cfg.EngineOptions().Registry
	next := make([]time.Time, len(keys))
	for i := range next {
		next[i] = from.Add(time.Duration(rng.IntN(3600)) * time.Second)
	}
	codes := []float64{1, 1, 1, 1, 1, 2, 2, 3, 4}
	n := 0
	var batch []signal.Signal
	flush := func() {
		var changes []state.Change
		dirty := engine.Dirty{}
		for len(batch) > 0 {
			k := min(len(batch), 1000)
			c, d := eng.Apply(batch[:k])
			changes = append(changes, c...)
			dirty.Merge(d)
			batch = batch[k:]
		}
		if save != nil {
			save(changes, dirty)
		}
		batch = batch[:0]
	}
	for day := from; day.Before(to); day = day.AddDate(0, 0, 1) {
		end := day.AddDate(0, 0, 1)
		if end.After(to) {
			end = to
		}
		for i, eq := range keys {
			k := eq.Key
			s := signal.Signal{Site: k.Site, Line: k.Line, Equipment: k.Equipment}
			for t := day; t.Before(end); t = t.Add(5 * time.Minute) {
				if h, m := t.Hour(), t.Minute(); m == 0 && (h == 6 || h == 14 || h == 22) {
					s.Name, s.Time, s.Value = signal.Operator, t, signal.String(fmt.Sprintf("%s-op%02d-%d", k.Line, i%50/2, h))
					batch = append(batch, s)
				}
				for next[i].Before(t.Add(5 * time.Minute)) {
					s.Name, s.Time, s.Value = signal.State, next[i], signal.Number(codes[rng.IntN(len(codes))])
					batch = append(batch, s)
					next[i] = next[i].Add(time.Duration(20*60+rng.IntN(40*60)) * time.Second)
				}
				s.Name, s.Time, s.Value = "power", t, signal.Number(float64(rng.IntN(100)))
				batch = append(batch, s)
			}
		}
		n += len(batch)
		flush()
	}
	return n
}

// BenchmarkRecomputeMonth recomputes one month (October 2026, 745 h) for
// 1,000 machines on 20 lines with every period kind (hours, shifts, days,
// the month) and writes it to a real influxd 1.8.
func BenchmarkRecomputeMonth(b *testing.B) {
	in := testenv.StartInflux(b, "floorpulse")
	cfg := plantConfig(b, 20, 50)
	eng := engine.New(cfg.EngineOptions(), nil)
	from := time.Date(2026, 10, 1, 0, 0, 0, 0, cfg.Location)
	to := from.AddDate(0, 1, 0)
	t0 := time.Now()
	n := feed(eng, cfg, from, to, nil)
	b.Logf("applied %d signals in %s", n, time.Since(t0))
	w := influx.New(influx.Config{URL: in.URL, Bucket: "floorpulse/autogen", Timeout: time.Minute})
	defer w.Close()
	b.ResetTimer()
	var p Progress
	for i := 0; i < b.N; i++ {
		var err error
		if p, err = Run(context.Background(), eng, w, from, to, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/month-recompute")
	b.ReportMetric(float64(p.Points), "points")
	b.ReportMetric(float64(p.Total), "periods")
}

// BenchmarkPlantRecompute recomputes a month of a plant of 1,000 machines
// as the hub does it from its state store: the month of signals
// (BenchmarkRecomputeMonth's) is first committed to a real bbolt state
// store a day at a time, as the consumer commits it; then, timed, the store
// is opened and loaded, the engine built over it, and every figure of the
// month (hours, shifts, days, the month) computed and written to a real
// influxd 1.8: `hub recompute -config` of the month. Reports the seconds
// a month takes ("s").
//
//	go test -run '^$' -bench PlantRecompute -benchtime 1x ./hub/internal/recompute
func BenchmarkPlantRecompute(b *testing.B) {
	in := testenv.StartInflux(b, "floorpulse")
	cfg := plantConfig(b, 20, 50)
	from := time.Date(2026, 10, 1, 0, 0, 0, 0, cfg.Location)
	to := from.AddDate(0, 1, 0)
	path := filepath.Join(b.TempDir(), "state.db")
	st, err := store.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	n := feed(engine.New(cfg.EngineOptions(), nil), cfg, from, to, func(c []state.Change, d engine.Dirty) {
		if err := st.Save(c, d); err != nil {
			b.Fatal(err)
		}
	})
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}
	b.Logf("committed %d signals of %d machines to the state store in %s", n, len(cfg.EngineOptions().Registry), time.Since(t0).Round(time.Millisecond))
	w := influx.New(influx.Config{URL: in.URL, Bucket: "floorpulse/autogen", Timeout: time.Minute})
	defer w.Close()
	b.ResetTimer()
	var p Progress
	var load time.Duration
	selfCPU, influxCPU := cpuTime(b, os.Getpid()), cpuTime(b, in.Cmd.Process.Pid)
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		st, err := store.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		saved, err := st.Load()
		st.Close()
		if err != nil {
			b.Fatal(err)
		}
		eng := engine.New(cfg.EngineOptions(), saved)
		load += time.Since(t0)
		if p, err = Run(context.Background(), eng, w, from, to, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	selfCPU, influxCPU = cpuTime(b, os.Getpid())-selfCPU, cpuTime(b, in.Cmd.Process.Pid)-influxCPU
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s")
	b.ReportMetric(load.Seconds()/float64(b.N), "load-s")
	b.ReportMetric(selfCPU.Seconds()/float64(b.N), "hub-cpu-s")
	b.ReportMetric(influxCPU.Seconds()/float64(b.N), "influxd-cpu-s")
	b.ReportMetric(float64(p.Points), "points")
	b.ReportMetric(float64(p.Total), "periods")
}

// cpuTime is the user and system CPU time of process pid so far, from
// /proc/<pid>/stat (fields 14 and 15, in USER_HZ: 100 a second on Linux).
func cpuTime(b *testing.B, pid int) time.Duration {
	b.Helper()
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	var ticks int64
	for _, v := range f[11:13] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			b.Fatal(err)
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}
