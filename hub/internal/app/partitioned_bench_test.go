package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/floorpulse/floorpulse/hub/internal/config"
	"github.com/floorpulse/floorpulse/hub/internal/consume"
	"github.com/floorpulse/floorpulse/hub/internal/partition"
	"github.com/floorpulse/floorpulse/pkg/signal"
	"github.com/floorpulse/floorpulse/pkg/testenv"
)

var (
	// ingestProfile, when set, is where BenchmarkHubIngest writes a CPU
	// profile of its measured part only (publishing the signals left out).
	ingestProfile = flag.String("ingestprofile", "", "write a CPU profile of BenchmarkHubIngest's measured part to `file`")
	// ingestBatch is the hub's nats.batch in BenchmarkHubIngest and
	// BenchmarkIngestFloor.
	ingestBatch = flag.Int("ingestbatch", 1000, "nats.batch of the hub in BenchmarkHubIngest and BenchmarkIngestFloor")
	// ingestGC, when set, is the hub's runtime.gc_percent in BenchmarkHubIngest.
	ingestGC = flag.Int("ingestgc", 0, "runtime.gc_percent of the hub in BenchmarkHubIngest (0: the default)")
)

// ingestSignals is how many signals the ingest benchmarks consume.
const ingestSignals = 200_000

// BenchmarkHubIngest measures what one hub carries end to end: signals
// already in the stream (8 sites, 400 machines, run flips once a minute)
// consumed, decoded, applied, committed to the partition stores, acknowledged
// and their figures written to a real InfluxDB, until the hub stopped after
// its last flush. It reports signals/s over all of it, acked-signals/s up to
// the last acknowledgement, the CPU seconds per million signals of the
// process (the hub and the NATS server: cpu-s/Msignals) and of influxd, and
// the process's peak RSS (peak-rss-MB; the NATS server's included).
// Run it once:
//
//	go test -run '^$' -bench HubIngest -benchtime 1x ./hub/internal/app
//
// -args -ingestprofile FILE writes a CPU profile of the measured part,
// -ingestbatch N sets nats.batch (default 1000, the configuration's),
// -ingestgc N runtime.gc_percent (default 200, the configuration's).
func BenchmarkHubIngest(b *testing.B) {
	for _, count := range []int{1, 4} {
		b.Run(fmt.Sprintf("partitions=%d", count), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				benchIngest(b, count, ingestSignals)
			}
		})
	}
}

// BenchmarkIngestFloor measures, on the same signals in the same kind of
// stream, what the hub's ingest cannot go below: a durable pull consumer
// that fetches batches of nats.batch and acknowledges each message, doing
// nothing else (fetch+ack), and decoding each signal too (fetch+decode+ack).
// The state commits' floor is BenchmarkSave in hub/internal/store.
//
//	go test -p 1 -run '^$' -bench 'HubIngest|IngestFloor|Save' -benchtime 1x ./hub/internal/app ./hub/internal/store
func BenchmarkIngestFloor(b *testing.B) {
	for _, decode := range []bool{false, true} {
		name := "fetch+ack"
		if decode {
			name = "fetch+decode+ack"
		}
		b.Run(name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				benchFloor(b, decode, ingestSignals)
			}
		})
	}
}

// ingestRig is a NATS server with n signals in the hub's stream, an
// InfluxDB, and the hub's configuration for them.
type ingestRig struct {
	cfg *config.Config
	js  jetstream.JetStream
	in  *testenv.Influx
}

func newIngestRig(b *testing.B, count, n int) *ingestRig {
	b.Helper()
	ns := testenv.StartNATS(b)
	in := testenv.StartInflux(b, "floorpulse")
	cfgText := fmt.Sprintf(`site: s0
timezone: UTC
data_dir: %s
http: ""
nats: {url: %q, batch: %d}
influx: {url: %q, bucket: floorpulse/autogen}
activity: {periods: [month]}
state: {accept_age: 876000h}  # signals of fixed dates
partitions: {count: %d, hub_id: bench}
`, filepath.Join(b.TempDir(), "hub"), ns.URL, *ingestBatch, in.URL, count)
	cfg, err := config.Decode("hub.yaml", []byte(cfgText))
	if err != nil {
		b.Fatal(err)
	}
	if *ingestGC != 0 {
		cfg.Runtime.GCPercent = *ingestGC
	}
	nc, err := nats.Connect(ns.URL)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nc.Close)
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	if _, err := consume.EnsureStream(ctx, js, consumeConfig(cfg)); err != nil {
		b.Fatal(err)
	}
	start := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		site := fmt.Sprintf("s%d", i%8)
		eq := fmt.Sprintf("M%03d", (i/8)%50)
		s := signal.Signal{Site: site, Line: "L1", Equipment: eq, Name: signal.Run, Value: signal.Bool(i/400%2 == 0),
			Time: start.Add(time.Duration(i/400) * time.Minute), Agent: "bench", Seq: uint64(i)}
		body, _ := signal.Marshal(s)
		if _, err := js.PublishAsync(s.Subject(signal.SubjectPrefix), body, jetstream.WithMsgID(s.ID())); err != nil {
			b.Fatal(err)
		}
		if i%2000 == 1999 || i == n-1 { // the stream keeps up even on a loaded machine
			select {
			case <-js.PublishAsyncComplete():
			case <-time.After(2 * time.Minute):
				b.Fatal("publishing timed out")
			}
		}
	}
	return &ingestRig{cfg: cfg, js: js, in: in}
}

// measure is a measurement's start: wall clock and CPU times.
type measure struct {
	begin       time.Time
	cpu, influx time.Duration
	rig         *ingestRig
}

func (r *ingestRig) start(b *testing.B) measure {
	b.StartTimer()
	return measure{begin: time.Now(), cpu: processCPU(b), influx: childCPU(b, r.in.Cmd.Process.Pid), rig: r}
}

// report stops the timer and reports the rate of n signals and the CPU
// time per million.
func (m measure) report(b *testing.B, n int) {
	elapsed := time.Since(m.begin)
	b.StopTimer()
	cpu, influxCPU := processCPU(b)-m.cpu, childCPU(b, m.rig.in.Cmd.Process.Pid)-m.influx
	b.ReportMetric(float64(n)/elapsed.Seconds(), "signals/s")
	b.ReportMetric(cpu.Seconds()/float64(n)*1e6, "cpu-s/Msignals")
	b.ReportMetric(influxCPU.Seconds()/float64(n)*1e6, "influxd-cpu-s/Msignals")
}

func benchIngest(b *testing.B, count, n int) {
	b.StopTimer()
	r := newIngestRig(b, count, n)
	cfg, js, ctx := r.cfg, r.js, context.Background()
	consumers := []string{cfg.NATS.Consumer}
	if count > 1 {
		consumers = nil
		for p := 0; p < count; p++ {
			consumers = append(consumers, partition.Consumer(cfg.NATS.Consumer, p))
		}
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	if *ingestProfile != "" {
		f, err := os.Create(*ingestProfile)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			b.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	m := r.start(b)
	go func() { done <- Run(runCtx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
	for {
		left := 0
		for _, name := range consumers {
			c, err := js.Consumer(ctx, cfg.NATS.Stream, name)
			if err != nil {
				left = -1
				break
			}
			ci, err := c.Info(ctx)
			if err != nil || ci.Delivered.Stream == 0 && ci.NumPending == 0 {
				left = -1 // not consuming yet
				break
			}
			left += int(ci.NumPending) + ci.NumAckPending
		}
		if left == 0 {
			break
		}
		if time.Since(m.begin) > 5*time.Minute {
			b.Fatal("not consumed in 5 minutes")
		}
		time.Sleep(20 * time.Millisecond)
	}
	acked := time.Since(m.begin)
	cancel() // the hub stops after its last flush
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	m.report(b, n)
	b.ReportMetric(float64(n)/acked.Seconds(), "acked-signals/s")
	b.ReportMetric(peakRSS(b)/1e6, "peak-rss-MB")
}

// peakRSS is the process's peak resident set (VmHWM) in bytes: the hub's,
// the NATS server's and the benchmark's own.
func peakRSS(b *testing.B) float64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb * 1024
		}
	}
	b.Fatal("no VmHWM in /proc/self/status")
	return 0
}

func benchFloor(b *testing.B, decode bool, n int) {
	b.StopTimer()
	r := newIngestRig(b, 1, n)
	ctx := context.Background()
	ccfg := consumeConfig(r.cfg)
	st, err := r.js.Stream(ctx, ccfg.Stream)
	if err != nil {
		b.Fatal(err)
	}
	cons, err := consume.Durable(ctx, st, ccfg)
	if err != nil {
		b.Fatal(err)
	}
	var dec signal.Decoder
	m := r.start(b)
	for got := 0; got < n; {
		batch, err := cons.Fetch(ccfg.Batch, jetstream.FetchMaxWait(250*time.Millisecond))
		if err != nil {
			b.Fatal(err)
		}
		for msg := range batch.Messages() {
			if decode {
				if _, err := dec.Unmarshal(msg.Data()); err != nil {
					b.Fatal(err)
				}
			}
			_ = msg.Ack()
			got++
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, context.DeadlineExceeded) {
			b.Fatal(err)
		}
	}
	// The last acks reached the server when it counts them.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(5 * time.Millisecond) {
		ci, err := cons.Info(ctx)
		if err == nil && ci.NumAckPending == 0 && ci.NumPending == 0 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("acks not counted in a minute")
		}
	}
	m.report(b, n)
}

// processCPU is the CPU time (user and system) this process used so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// childCPU is the CPU time (user and system) process pid used so far, from
// /proc/pid/stat (in clock ticks of 10 ms).
func childCPU(b *testing.B, pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command name, which is in parentheses: state is the
	// first, utime and stime the 12th and 13th.
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+1:]))
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		b.Fatalf("reading %d's CPU time: %v %v", pid, err1, err2)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond
}
