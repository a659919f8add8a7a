package app

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/floorpulse/floorpulse/hub/internal/config"
	"github.com/floorpulse/floorpulse/hub/internal/events/payload"
	"github.com/floorpulse/floorpulse/pkg/signal"
	"github.com/floorpulse/floorpulse/pkg/testenv"
)

// BenchmarkAlertLatency measures, on a running hub (embedded NATS,
// real InfluxDB, a real HTTP receiver), the time from the moment a stop
// crosses its threshold (stop start + downtime_min, in real time) to the
// arrival of its signed alert webhook, over 1,000 stops of 50 machines.
// Nothing is sent after a stop: the hub must notice the threshold on its own.
// Reports the median, the 99th percentile and the maximum in milliseconds.
//
//	go test -run '^$' -bench AlertLatency -benchtime 1x ./hub/internal/app
func BenchmarkAlertLatency(b *testing.B) {
	const machines, rounds = 50, 20
	const threshold = time.Second
	in := testenv.StartInflux(b, "floorpulse")
	natsPort := testenv.FreePort(b)

	var mu sync.Mutex
	arrived := map[string]time.Time{} // equipment/round -> arrival
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	var badSig int
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		body, _ := io.ReadAll(r.Body)
		// Standard Webhooks, verified independently: v1,base64(HMAC-SHA256(id.timestamp.body)).
		key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(r.Header.Get("webhook-id") + "." + r.Header.Get("webhook-timestamp") + "."))
		mac.Write(body)
		want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
		if !strings.Contains(" "+r.Header.Get("webhook-signature")+" ", " "+want+" ") {
			mu.Lock()
			badSig++
			mu.Unlock()
		}
		var p struct {
			Type string `json:"type"`
			Data struct {
				Kind   string `json:"kind"`
				Record struct {
					Equipment string    `json:"equipment"`
					Start     time.Time `json:"start"`
				} `json:"record"`
			} `json:"data"`
		}
		if json.Unmarshal(body, &p) == nil && p.Type == payload.AlertTypePrefix+"opened" {
			mu.Lock()
			k := p.Data.Record.Equipment + "@" + p.Data.Record.Start.UTC().Format(time.RFC3339Nano)
			if _, dup := arrived[k]; !dup {
				arrived[k] = now
			}
			mu.Unlock()
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer recv.Close()

	dir := b.TempDir()
	cfg, err := config.Decode("hub.yaml", []byte(fmt.Sprintf(`site: s1
timezone: UTC
data_dir: %s
http: ""
nats: {listen: "127.0.0.1:%d", batch: 500}
influx: {url: %q, bucket: floorpulse/autogen, create_database: true}
state: {signal_timeout: 0s}
activity: {periods: [day, month]}
events:
  detectors: {downtime_min: %s, micro_stop_max: 0s, activity_drop: 0, flatline_min: 0s, out_of_shift_min: 0s, idle_running_min: 0s}
  webhooks:
    - {name: leaders, url: %q, secret: %s, format: json, events: false}
  alerts:
    people: {leader: {channel: leaders}}
    roster: {"*": {all: [leader]}}
equipment:
  - {line: L1, class: cnc, ids: [%s]}
`, filepath.Join(dir, "hub"), natsPort, in.URL, threshold, recv.URL, secret, machineIDs(machines))))
	if err != nil {
		b.Fatal(err)
	}
	seed := addAgent(b, cfg, "bench", "s1")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
	defer func() { cancel(); <-done }()

	js, _ := jetstream.New(connectAgent(b, fmt.Sprintf("nats://127.0.0.1:%d", natsPort), "bench", seed))
	send := func(sigs ...signal.Signal) {
		for _, s := range sigs {
			data, _ := signal.Marshal(s)
			for {
				if _, err := js.Publish(context.Background(), s.Subject(signal.SubjectPrefix), data, jetstream.WithMsgID(s.ID())); err == nil {
					break
				}
				time.Sleep(20 * time.Millisecond) // the hub creates the stream at start
			}
		}
	}
	sig := func(m int, at time.Time, on bool) signal.Signal {
		return signal.Signal{Site: "s1", Line: "L1", Equipment: fmt.Sprintf("M%02d", m), Name: signal.Run, Value: signal.Bool(on), Time: at}
	}

	b.ResetTimer()
	var lat []time.Duration
	for n := 0; n < b.N; n++ {
		start := time.Now()
		for m := 0; m < machines; m++ {
			send(sig(m, start.Add(-time.Minute), true))
		}
		expected := map[string]time.Time{} // key -> threshold crossing
		for round := 0; round < rounds; round++ {
			// Stops spread over 200 ms; each machine runs again after 1.6 s.
			t0 := time.Now()
			for m := 0; m < machines; m++ {
				at := t0.Add(time.Duration(m) * 4 * time.Millisecond)
				time.Sleep(time.Until(at))
				stop := time.Now()
				send(sig(m, stop, false))
				expected[fmt.Sprintf("M%02d@%s", m, stop.UTC().Format(time.RFC3339Nano))] = stop.Add(threshold)
			}
			time.Sleep(time.Until(t0.Add(threshold + 600*time.Millisecond)))
			now := time.Now()
			for m := 0; m < machines; m++ {
				send(sig(m, now.Add(time.Duration(m)*time.Microsecond), true))
			}
			time.Sleep(100 * time.Millisecond)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			mu.Lock()
			got := len(arrived)
			mu.Unlock()
			if got >= len(expected) || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		mu.Lock()
		for k, crossing := range expected {
			at, ok := arrived[k]
			if !ok {
				b.Errorf("no alert for the stop %s", k)
				continue
			}
			lat = append(lat, at.Sub(crossing))
		}
		if badSig > 0 {
			b.Errorf("%d webhooks with a bad signature", badSig)
		}
		clear(arrived)
		mu.Unlock()
	}
	b.StopTimer()
	if len(lat) == 0 {
		b.Fatal("no latencies")
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(0, "ns/op") // one iteration is 20 rounds of stops; its wall time says nothing
	b.ReportMetric(float64(len(lat)), "stops")
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(q(1), "max-ms")
}

func machineIDs(n int) string {
	s := ""
	for i := 0; i < n; i++ {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("M%02d", i)
	}
	return s
}
