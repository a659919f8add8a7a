package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/floorpulse/floorpulse/pkg/signal"
	"github.com/floorpulse/floorpulse/pkg/testenv"
)

// memoryBound is the peak resident memory (VmHWM) a hub may reach under the
// poison inputs of TestHubMemoryBoundedUnderPoison.
const memoryBound = 300 << 20

// memoryCap stops a hub that runs away (the test then fails) before it
// takes the machine down with it: a watchdog reads its memory every 10 ms.
const memoryCap = 2 << 30

// Poison inputs (signals decades apart and far in the future, an oversized
// value, 5,000 machines missing from the registry, a recompute of 50 years)
// are counted and leave the
// hub's peak memory under memoryBound, before and after a restart, and the
// figures of the well-behaved machines as a run without them writes.
func TestHubMemoryBoundedUnderPoison(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	bin := binaries(t)
	in := testenv.StartInflux(t, "clean")
	in.Query(t, "CREATE DATABASE poison")
	// Every signal of the well-behaved machines lies in the two days before anchor.
	anchor := time.Now().Truncate(time.Hour).Add(-time.Hour)
	good := goodSignals(anchor)

	clean := startBoundedHub(t, bin, in.URL, "clean")
	clean.publish(t, good)
	clean.settle(t, len(good))
	t.Logf("clean run: peak RSS %d MiB", clean.peak(t)>>20)
	clean.stop(t)

	hub := startBoundedHub(t, bin, in.URL, "poison")
	poison := append(poisonSignals(anchor), good...)
	hub.publish(t, poison)
	code := hub.recompute(t, "1990-01", "2039-12")
	if code != http.StatusBadRequest {
		t.Errorf("a recompute of 50 years: got %d, want 400", code)
	}
	hub.settle(t, len(poison))
	m := hub.metrics()
	for _, name := range []string{
		`floorpulse_hub_signals_out_of_window_total{agent="a1"}`,
		`floorpulse_hub_signals_unregistered_total{decision="rejected"}`,
		`floorpulse_hub_signals_too_large_total`,
	} {
		if m[name] < 1 {
			t.Errorf("%s = %v: the poison was not counted", name, m[name])
		}
	}
	first := hub.peak(t)
	hub.stop(t)
	hub.start(t) // the pending ranges are flushed again at the start
	hub.settle(t, 0)
	second := hub.peak(t)
	hub.stop(t)
	t.Logf("poison run: peak RSS %d MiB, after a restart %d MiB (bound %d MiB)", first>>20, second>>20, memoryBound>>20)
	if first > memoryBound || second > memoryBound {
		t.Errorf("peak RSS above %d MiB: %d MiB, after a restart %d MiB", memoryBound>>20, first>>20, second>>20)
	}

	// Before the hour the test started in: each hub also writes the periods
	// holding its clock's now (from that hour on), which two runs minutes
	// apart may see on either side of an hour, a shift or a midnight.
	before := anchor.Add(time.Hour).UTC().Format(time.RFC3339)
	for _, q := range []string{
		`SELECT * FROM %s.autogen.equipment_activity WHERE line = 'L1' AND time < '%s' GROUP BY *`,
		`SELECT * FROM %s.autogen.line_activity WHERE line = 'L1' AND time < '%s' GROUP BY *`,
		`SELECT * FROM %s.autogen.operator_activity WHERE line = 'L1' AND time < '%s' GROUP BY *`,
	} {
		a, b := in.Query(t, fmt.Sprintf(q, "clean", before)), in.Query(t, fmt.Sprintf(q, "poison", before))
		if !strings.Contains(a, `"values"`) {
			t.Fatalf("clean run wrote nothing for %s: %s", q, a)
		}
		if a != b {
			t.Errorf("%s differs with poison:\nclean:  %.2000s\npoison: %.2000s", q, a, b)
		}
	}
	if a, b := stateRuns(t, in, "clean"), stateRuns(t, in, "poison"); a == "" || a != b {
		t.Errorf("equipment states of L1 differ with poison:\nclean:  %.2000s\npoison: %.2000s", a, b)
	}
}

// goodSignals are three registered machines running on and off every 20
// minutes, with operators logging in, over the two days before anchor.
func goodSignals(anchor time.Time) []signal.Signal {
	var out []signal.Signal
	for i, eq := range []string{"M01", "M02", "M03"} {
		from := anchor.Add(-48 * time.Hour)
		out = append(out, sig(eq, signal.Operator, signal.String([]string{"alice", "bob", "alice,bob"}[i]), from))
		for j := 0; ; j++ {
			at := from.Add(time.Duration(j)*20*time.Minute + time.Duration(i)*7*time.Minute)
			if !at.Before(anchor) {
				break
			}
			out = append(out, sig(eq, signal.Run, signal.Bool((j+i)%3 != 0), at))
		}
	}
	return out
}

// poisonSignals are signals of a registered machine decades apart and far in
// the future, and 5,000 machines that are not registered.
func poisonSignals(anchor time.Time) []signal.Signal {
	out := []signal.Signal{
		sig("M01", signal.Run, signal.Bool(true), time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)),
		sig("M01", signal.Run, signal.Bool(false), time.Date(2199, 6, 1, 0, 0, 0, 0, time.UTC)),
		sig("M02", signal.Run, signal.Bool(true), anchor.AddDate(1, 0, 0)),
		// An operator id of 60 KB: within a message's 64 KiB, far above a value's 4 KiB.
		sig("M01", signal.Operator, signal.String(strings.Repeat("x", 60<<10)), anchor.Add(-2*time.Hour)),
	}
	for i := range 5000 {
		eq := fmt.Sprintf("X%04d", i)
		s := sig(eq, signal.Run, signal.Bool(true), anchor.Add(-time.Hour))
		s.Line = "L9"
		out = append(out, s)
	}
	return out
}

func sig(eq, name string, v signal.Value, at time.Time) signal.Signal {
	return signal.Signal{Site: "plant1", Line: "L1", Equipment: eq, Name: name, Value: v, Time: at, Agent: "a1"}
}

// stateRuns lists the equipment_state changes of line L1 in db: points
// whose state repeats the one before are left out (where a state interval
// is cut into steps depends on how the signals were batched).
func stateRuns(t *testing.T, in *testenv.Influx, db string) string {
	var b strings.Builder
	for _, s := range influxSeries(t, in, "SELECT state FROM "+db+".autogen.equipment_state WHERE line = 'L1' GROUP BY equipment") {
		last := ""
		for _, v := range s.Values {
			if st := fmt.Sprint(v[1]); st != last {
				fmt.Fprintf(&b, "%s %v %s\n", s.Tags["equipment"], v[0], st)
				last = st
			}
		}
	}
	return b.String()
}

// series is one series of an InfluxQL answer.
type series struct {
	Tags    map[string]string `json:"tags"`
	Columns []string          `json:"columns"`
	Values  [][]any           `json:"values"`
}

// influxSeries runs an InfluxQL query and returns the series of its answer.
func influxSeries(t *testing.T, in *testenv.Influx, q string) []series {
	t.Helper()
	var res struct {
		Results []struct {
			Series []series `json:"series"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(in.Query(t, q)), &res); err != nil {
		t.Fatal(err)
	}
	var out []series
	for _, r := range res.Results {
		out = append(out, r.Series...)
	}
	return out
}

// boundedHub is a hub process started from the built binary on its own
// data directory, writing to one InfluxDB database.
type boundedHub struct {
	bin, cfg string
	seed     string // the publishing agent's NATS identity (hub agent add)
	token    string // an admin's API token (hub token add)
	http     string
	nats     string
	p        *testenv.Process
	// capped is closed when the watchdog killed the process at memoryCap.
	capped  chan struct{}
	started time.Time
	top     atomic.Int64 // the highest VmHWM the watchdog saw
}

func startBoundedHub(t *testing.T, bin, influxURL, db string) *boundedHub {
	return startBoundedHubBatch(t, bin, influxURL, db, 1000)
}

// startBoundedHubBatch is startBoundedHub fetching batch signals at a time.
func startBoundedHubBatch(t *testing.T, bin, influxURL, db string, batch int) *boundedHub {
	dir := t.TempDir()
	h := &boundedHub{bin: filepath.Join(bin, "hub"), cfg: filepath.Join(dir, "hub.yaml"),
		http: fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)), nats: fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))}
	cfg := fmt.Sprintf(`site: plant1
timezone: Europe/Berlin
data_dir: %s
http: %s
log_level: warn
nats: {listen: %q, batch: %d}
influx: {url: %q, bucket: %s/autogen, create_database: true}
activity: {flush_interval: 200ms}
calendar:
  shifts:
    - {name: early, start: "06:00", end: "14:00", days: [mon-fri]}
    - {name: late, start: "14:00", end: "22:00", days: [mon-fri]}
equipment:
  - {line: L1, class: cnc, ids: [M01, M02, M03]}
`, filepath.Join(dir, "data"), h.http, h.nats, batch, influxURL, db)
	if err := os.WriteFile(h.cfg, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	// The poison comes through the front door: an agent identity of the
	// site, and an admin's token for the recompute.
	h.seed = filepath.Join(dir, "a1.nk")
	if out, err := exec.Command(h.bin, "agent", "add", "a1", "-site", "plant1", "-seed", h.seed, "-config", h.cfg).CombinedOutput(); err != nil {
		t.Fatalf("hub agent add: %v\n%s", err, out)
	}
	out, err := exec.Command(h.bin, "token", "add", "e2e-admin", "-role", "admin", "-config", h.cfg).Output()
	if err != nil {
		t.Fatalf("hub token add: %v", err)
	}
	h.token = strings.TrimSpace(string(out))
	h.start(t)
	return h
}

func (h *boundedHub) start(t *testing.T) {
	t.Helper()
	h.p = testenv.Start(t, "hub", exec.Command(h.bin, "run", "-config", h.cfg))
	h.capped, h.started = make(chan struct{}), time.Now()
	h.top.Store(0)
	go h.watch(h.p, h.capped)
	waitHTTP(t, "http://"+h.http+"/readyz", h.p, 60*time.Second)
}

// watch kills p when its peak memory passes memoryCap.
func (h *boundedHub) watch(p *testenv.Process, capped chan struct{}) {
	for !p.Exited() {
		if hwm, ok := vmHWM(p.Cmd.Process.Pid); ok {
			h.top.Store(max(h.top.Load(), hwm))
			if hwm > memoryCap {
				p.Kill()
				close(capped)
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (h *boundedHub) stop(t *testing.T) {
	t.Helper()
	h.p.Stop(60 * time.Second)
}

// peak is the process's peak resident memory (VmHWM), in bytes.
func (h *boundedHub) peak(t *testing.T) int64 {
	t.Helper()
	hwm, ok := vmHWM(h.p.Cmd.Process.Pid)
	if !ok {
		t.Fatalf("reading the hub's memory failed (highest seen %d MiB)", h.top.Load()>>20)
	}
	return hwm
}

// vmHWM reads a process's peak resident memory from /proc/PID/status.
func vmHWM(pid int) (int64, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10, err == nil
		}
	}
	return 0, false
}

func (h *boundedHub) publish(t *testing.T, sigs []signal.Signal) {
	t.Helper()
	key, err := nats.NkeyOptionFromSeed(h.seed)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect("nats://"+h.nats, key, nats.CustomInboxPrefix("_INBOX.a1"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	for len(sigs) > 0 {
		n := min(len(sigs), 500)
		var acks []jetstream.PubAckFuture
		for _, s := range sigs[:n] {
			b, err := signal.Marshal(s)
			if err != nil {
				t.Fatal(err)
			}
			f, err := js.PublishAsync(s.Subject(signal.SubjectPrefix), b, jetstream.WithMsgID(s.ID()))
			if err != nil {
				t.Fatal(err)
			}
			acks = append(acks, f)
		}
		for _, f := range acks {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				t.Fatalf("publishing: %v", err)
			case <-time.After(60 * time.Second):
				t.Fatal("publishing timed out")
			}
		}
		sigs = sigs[n:]
	}
}

// recompute asks the hub for a recompute and returns the status code (0
// when it did not answer).
func (h *boundedHub) recompute(t *testing.T, from, to string) int {
	t.Helper()
	req, err := http.NewRequest("POST", fmt.Sprintf("http://%s/api/v1/recompute?from=%s&to=%s", h.http, from, to), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+h.token)
	resp, err := metricsClient.Do(req)
	if err != nil {
		t.Logf("recompute: %v", err)
		return 0
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// settle waits until the hub consumed n signals (since it started), then
// wrote no point and used less than a tenth of a core for two seconds,
// watching its memory on the way.
func (h *boundedHub) settle(t *testing.T, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	lastPoints, quietSince := -1.0, time.Now()
	lastCPU := h.cpu(t)
	for {
		select {
		case <-h.capped:
			t.Fatalf("the hub's peak RSS passed %d MiB %s after it started: stopped", memoryCap>>20, time.Since(h.started).Round(time.Second))
		default:
		}
		m := h.metrics()
		if m["floorpulse_hub_signals_consumed_total"] >= float64(n) {
			if p := m["floorpulse_hub_influx_points_total"]; p != lastPoints {
				lastPoints, quietSince, lastCPU = p, time.Now(), h.cpu(t)
			} else if d := time.Since(quietSince); d > 2*time.Second {
				if h.cpu(t)-lastCPU < d/10 {
					return
				}
				quietSince, lastCPU = time.Now(), h.cpu(t)
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the hub did not settle: %v", m)
		case <-time.After(100 * time.Millisecond):
		}
		if h.p.Exited() {
			t.Fatalf("the hub exited (highest peak RSS seen: %d MiB)", h.top.Load()>>20)
		}
	}
}

// cpu is the CPU time the process used so far.
func (h *boundedHub) cpu(t *testing.T) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", h.p.Cmd.Process.Pid))
	if err != nil {
		t.Fatalf("reading the hub's CPU time: %v", err)
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	f := strings.Fields(rest) // from field 3 (state) on: utime and stime are fields 14 and 15
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond // 100 ticks per second
}

var metricsClient = &http.Client{Timeout: 5 * time.Second}

// metrics reads the hub's unlabelled metrics.
func (h *boundedHub) metrics() map[string]float64 {
	out := map[string]float64{}
	resp, err := metricsClient.Get("http://" + h.http + "/metrics")
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		name, v, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(name, "#") {
			continue
		}
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			out[name] = f
		}
	}
	return out
}
