package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
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

// BenchmarkHubIngest measures what one hub carries end to end: signals
// already in the stream (8 sites, 400 machines, run flips once a minute)
// consumed, decoded, applied, committed to the partition stores, acknowledged
// and their figures written to a real InfluxDB. Run it once:
//
//	go test -run '^$' -bench HubIngest -benchtime 1x ./hub/internal/app
func BenchmarkHubIngest(b *testing.B) {
	for _, count := range []int{1, 4} {
		b.Run(fmt.Sprintf("partitions=%d", count), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				benchIngest(b, count, 200_000)
			}
		})
	}
}

func benchIngest(b *testing.B, count, n int) {
	b.StopTimer()
	ns := testenv.StartNATS(b)
	in := testenv.StartInflux(b, "floorpulse")
	cfgText := fmt.Sprintf(`site: s0
timezone: UTC
data_dir: %s
http: ""
nats: {url: %q, batch: 1000}
influx: {url: %q, bucket: floorpulse/autogen}
activity: {periods: [month]}
state: {accept_age: 876000h}  # signals of fixed dates
partitions: {count: %d, hub_id: bench}
`, filepath.Join(b.TempDir(), "hub"), ns.URL, in.URL, count)
	cfg, err := config.Decode("hub.yaml", []byte(cfgText))
	if err != nil {
		b.Fatal(err)
	}
	nc, err := nats.Connect(ns.URL)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
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
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(2 * time.Minute):
		b.Fatal("publishing timed out")
	}
	consumers := []string{cfg.NATS.Consumer}
	if count > 1 {
		consumers = nil
		for p := 0; p < count; p++ {
			consumers = append(consumers, partition.Consumer(cfg.NATS.Consumer, p))
		}
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	b.StartTimer()
	begin := time.Now()
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
		if time.Since(begin) > 5*time.Minute {
			b.Fatal("not consumed in 5 minutes")
		}
		time.Sleep(20 * time.Millisecond)
	}
	elapsed := time.Since(begin)
	b.StopTimer()
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(n)/elapsed.Seconds(), "signals/s")
}
