package app

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/floorpulse/floorpulse/pkg/signal"
	"github.com/floorpulse/floorpulse/pkg/testenv"
)

var (
	plantMachines = flag.Int("plantmachines", 10_000, "BenchmarkPlantRSS: registered machines (100 to a line)")
	plantWarmup   = flag.Duration("plantwarmup", 65*time.Second, "BenchmarkPlantRSS: time from the hub's start before its memory is watched")
	plantWindow   = flag.Duration("plantwindow", 45*time.Second, "BenchmarkPlantRSS: how long the hub's memory is watched")
)

// BenchmarkPlantRSS runs the hub binary (as `make release` builds it) with
// -plantmachines (10,000) registered machines on 100 lines, its embedded
// NATS server and a real InfluxDB, while every machine changes state about
// once a minute (45 to 75 s apart, published to the signals stream as an
// agent does, with message ids), and reports the most resident memory
// (VmRSS, sampled every 200 ms) seen over -plantwindow after -plantwarmup,
// in MB ("rss-MB"); VmHWM over the whole run is logged beside it. Run it
// with -benchtime 1x.
//
//	go test -run '^$' -bench PlantRSS -benchtime 1x ./hub/internal/app
func BenchmarkPlantRSS(b *testing.B) {
	if *plantMachines < 100 || *plantMachines%100 != 0 {
		b.Fatalf("-plantmachines %d: want a multiple of 100", *plantMachines)
	}
	bin := buildHub(b)
	var peaks []float64
	for i := 0; i < b.N; i++ {
		peak, hwm, sent, consumed := plantRSS(b, bin, *plantMachines)
		b.Logf("iteration %d: %d machines, %d state changes sent, %d consumed; hub RSS at most %.1f MB over %s after %s (VmHWM since its start %.1f MB)",
			i+1, *plantMachines, sent, consumed, peak, *plantWindow, *plantWarmup, hwm)
		peaks = append(peaks, peak)
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(peaks[len(peaks)/2], "rss-MB")
}

func plantRSS(b *testing.B, bin string, machines int) (peak, hwm float64, sent, consumed int) {
	b.Helper()
	in := testenv.StartInflux(b, "floorpulse")
	defer in.Kill()
	dir := b.TempDir()
	natsPort, httpPort := testenv.FreePort(b), testenv.FreePort(b)
	var eq strings.Builder
	for l := 0; l < machines/100; l++ {
		ids := make([]string, 100)
		for m := range ids {
			ids[m] = fmt.Sprintf("M%02d", m)
		}
		fmt.Fprintf(&eq, "  - {line: L%03d, class: cnc, ids: [%s]}\n", l, strings.Join(ids, ", "))
	}
	cfgPath := filepath.Join(dir, "hub.yaml")
	cfg := fmt.Sprintf(`site: plant
timezone: Europe/Berlin
data_dir: %s
http: 127.0.0.1:%d
nats: {listen: "127.0.0.1:%d", auth: none}
influx: {url: %q, bucket: floorpulse/autogen, create_database: true}
state: {codes: {"1": running, "2": idle, "3": setup, "4": down}}
calendar:
  shifts:
    - {name: early, start: "06:00", end: "14:00"}
    - {name: late, start: "14:00", end: "22:00"}
    - {name: night, start: "22:00", end: "06:00"}
  planned_stops:
    - {name: break, start: "12:00", end: "12:30"}
equipment:
%s`, filepath.Join(dir, "hub"), httpPort, natsPort, in.URL, eq.String())
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	hub := testenv.Start(b, "hub", exec.Command(bin, "run", "-config", cfgPath))
	defer hub.Stop(10 * time.Second)
	pid := hub.Cmd.Process.Pid

	nc, err := nats.Connect(fmt.Sprintf("nats://127.0.0.1:%d", natsPort), nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1))
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}

	// Every machine's next state change, the first ones spread over a minute.
	rng := rand.New(rand.NewPCG(1, 2))
	next := make([]time.Time, machines)
	for i := range next {
		next[i] = start.Add(time.Duration(rng.IntN(60_000)) * time.Millisecond)
	}
	codes := []float64{1, 1, 1, 1, 2, 3, 4}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pubDone := make(chan error, 1)
	go func() {
		var futures []jetstream.PubAckFuture
		for ctx.Err() == nil {
			now := time.Now()
			for i := range next {
				if next[i].After(now) {
					continue
				}
				s := signal.Signal{Site: "plant", Line: fmt.Sprintf("L%03d", i/100), Equipment: fmt.Sprintf("M%02d", i%100),
					Name: signal.State, Value: signal.Number(codes[rng.IntN(len(codes))]), Time: now, Quality: signal.Good,
					Agent: "gw1", Seq: uint64(sent + 1)}
				data, _ := signal.Marshal(s)
				f, err := js.PublishAsync(s.Subject(signal.SubjectPrefix), data, jetstream.WithMsgID(s.ID()))
				if err != nil {
					break // the stream is not there yet: again at the next tick
				}
				futures = append(futures, f)
				sent++
				next[i] = now.Add(time.Duration(45_000+rng.IntN(30_000)) * time.Millisecond)
			}
			select {
			case <-js.PublishAsyncComplete():
			case <-time.After(5 * time.Second):
			}
			for _, f := range futures {
				select {
				case err := <-f.Err():
					pubDone <- fmt.Errorf("publishing: %w", err)
					return
				default:
				}
			}
			futures = futures[:0]
			time.Sleep(100 * time.Millisecond)
		}
		pubDone <- nil
	}()

	metrics := fmt.Sprintf("http://127.0.0.1:%d/metrics", httpPort)
	watchFrom := start.Add(*plantWarmup)
	end := watchFrom.Add(*plantWindow)
	for now := time.Now(); now.Before(end); now = time.Now() {
		if hub.Exited() {
			b.Fatalf("hub exited:\n%s", hub.Output())
		}
		select {
		case err := <-pubDone:
			b.Fatal(err)
		default:
		}
		if !now.Before(watchFrom) {
			rss, h, err := procMemory(pid)
			if err != nil {
				b.Fatal(err)
			}
			peak, hwm = max(peak, rss), h
		}
		time.Sleep(200 * time.Millisecond)
	}
	cancel()
	if err := <-pubDone; err != nil {
		b.Fatal(err)
	}
	consumed = int(scrapeCounter(b, metrics, "floorpulse_hub_signals_consumed_total"))
	if consumed < machines {
		b.Fatalf("the hub consumed %d signals, fewer than the %d machines", consumed, machines)
	}
	return peak, hwm, sent, consumed
}

// buildHub builds ./hub/cmd/hub as `make release` does (static, without
// symbol tables) into a temporary folder.
func buildHub(b *testing.B) string {
	b.Helper()
	p := filepath.Join(b.TempDir(), "hub")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", p, "./hub/cmd/hub")
	cmd.Dir = testenv.Root(b)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build ./hub/cmd/hub: %v\n%s", err, out)
	}
	return p
}

// procMemory reads a process's resident memory (VmRSS) and its peak
// (VmHWM) from /proc, in MB.
func procMemory(pid int) (rss, hwm float64, err error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		key, rest, ok := strings.Cut(line, ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, 0, fmt.Errorf("%s: unexpected value %q", key, rest)
		}
		kb, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return 0, 0, err
		}
		if key == "VmRSS" {
			rss = kb * 1024 / 1e6
		} else {
			hwm = kb * 1024 / 1e6
		}
	}
	return rss, hwm, nil
}

// scrapeCounter reads one unlabelled sample of a Prometheus text page.
func scrapeCounter(b *testing.B, url, name string) float64 {
	b.Helper()
	resp, err := http.Get(url)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for line := range strings.SplitSeq(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				b.Fatal(err)
			}
			return f
		}
	}
	b.Fatalf("no %s in %s", name, url)
	return 0
}
