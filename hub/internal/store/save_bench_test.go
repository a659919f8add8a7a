package store

import (
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/state"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// BenchmarkSave measures the state commits of the hub's ingest on this disk:
// batches of run changes of 400 machines (one change per signal, in time
// order, as BenchmarkHubIngest sends them), one transaction with its fsync
// per batch, 200,000 signals in all, into a fresh store:
//
//	go test -run '^$' -bench Save -benchtime 1x ./hub/internal/store
func BenchmarkSave(b *testing.B) {
	for _, batch := range []int{1000, 5000, 10000} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				benchSave(b, batch, 200_000)
			}
		})
	}
}

func benchSave(b *testing.B, batch, n int) {
	b.StopTimer()
	s, err := Open(filepath.Join(b.TempDir(), "state.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const machines = 400
	keys := make([]signal.Key, machines)
	for m := range keys {
		keys[m] = signal.Key{Site: fmt.Sprintf("s%d", m%8), Line: "L1", Equipment: fmt.Sprintf("M%03d", m/8)}
	}
	start := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	b.StartTimer()
	cpu0 := cpuTime(b)
	begin := time.Now()
	for done := 0; done < n; done += batch {
		byKey := map[signal.Key]*state.Change{}
		dirty := map[signal.Key]state.Range{}
		for i := done; i < min(done+batch, n); i++ {
			k := keys[i%machines]
			t := start + int64(i/machines)*int64(time.Minute)
			c := byKey[k]
			if c == nil {
				c = &state.Change{Key: k, First: start}
				byKey[k] = c
			}
			c.Horizon = t
			c.Run = append(c.Run, state.Point{T: t, V: state.True - int8(i/machines%2)})
			r, ok := dirty[k]
			if !ok {
				r.From = t
			}
			r.To = t
			dirty[k] = r
		}
		changes := make([]state.Change, 0, len(byKey))
		for _, c := range byKey {
			changes = append(changes, *c)
		}
		if err := s.Save(changes, dirty); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.merge(); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(begin)
	b.ReportMetric(float64(n)/elapsed.Seconds(), "signals/s")
	b.ReportMetric((cpuTime(b)-cpu0).Seconds()/float64(n)*1e6, "cpu-s/Msignals")
	b.ReportMetric(float64((n+batch-1)/batch)/elapsed.Seconds(), "commits/s")
}

// cpuTime is the CPU time (user and system) this process used so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
