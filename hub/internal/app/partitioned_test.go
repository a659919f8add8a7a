package app

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"os"
	"os/exec"
	ossignal "os/signal"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/floorpulse/floorpulse/hub/internal/config"
	"github.com/floorpulse/floorpulse/hub/internal/partition"
	"github.com/floorpulse/floorpulse/pkg/signal"
	"github.com/floorpulse/floorpulse/pkg/testenv"
)

// hubConfigEnv, when set, makes the test binary run a hub with that
// configuration file instead of the tests: a real process a test can kill.
const hubConfigEnv = "FLOORPULSE_TEST_HUB_CONFIG"

func TestMain(m *testing.M) {
	if path := os.Getenv(hubConfigEnv); path != "" {
		os.Exit(hubProcess(path))
	}
	os.Exit(m.Run())
}

func hubProcess(path string) int {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	cfg, err := config.Load(path)
	if err != nil {
		log.Error("config", "err", err)
		return 1
	}
	ctx, stop := ossignal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := Run(ctx, cfg, log); err != nil {
		log.Error("hub stopped", "err", err)
		return 1
	}
	return 0
}

// partitionedRig is two or more hub processes sharing one NATS server and InfluxDB.
type partitionedRig struct {
	t     *testing.T
	nats  *testenv.NATS
	in    *testenv.Influx
	js    jetstream.JetStream
	dir   string
	sites []string
	count int
	ttl   time.Duration
	http  map[string]int
	token string // an API token every hub knows (a shared tokens file)
}

func (r *partitionedRig) config(id string) string {
	var reg strings.Builder
	for _, s := range r.sites {
		fmt.Fprintf(&reg, "  - {site: %s, line: L1, class: cnc, ids: [M01, M02]}\n  - {site: %s, line: L2, class: press, ids: [M01]}\n", s, s)
	}
	body := fmt.Sprintf(`site: %s
timezone: UTC
data_dir: %s
http: {listen: "127.0.0.1:%d", tokens_file: %q}
nats: {url: %q, batch: 100}
influx: {url: %q, bucket: floorpulse/autogen}
state: {signal_timeout: 0s, accept_age: 876000h}  # signals of fixed dates
activity: {flush_interval: 50ms, periods: [month]}
partitions: {count: %d, lease_ttl: %s, hub_id: %s, snapshot_interval: 3s}
equipment:
%s`, r.sites[0], filepath.Join(r.dir, id), r.http[id], filepath.Join(r.dir, "tokens.yaml"), r.nats.URL, r.in.URL, r.count, r.ttl, id, reg.String())
	if r.token == "" {
		r.token = addToken(r.t, filepath.Join(r.dir, "tokens.yaml"))
	}
	path := filepath.Join(r.dir, id+".yaml")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		r.t.Fatal(err)
	}
	if _, err := config.Load(path); err != nil {
		r.t.Fatal(err)
	}
	return path
}

func (r *partitionedRig) start(id string) *testenv.Process {
	if _, ok := r.http[id]; !ok {
		r.http[id] = testenv.FreePort(r.t)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), hubConfigEnv+"="+r.config(id))
	return testenv.Start(r.t, "hub "+id, cmd)
}

// owners reads the lease bucket: partition -> hub id.
func (r *partitionedRig) owners() map[int]string {
	out := map[int]string{}
	kv, err := r.js.KeyValue(context.Background(), partition.LeaseBucket("FLOORPULSE_SIGNALS"))
	if err != nil {
		return out
	}
	for p := 0; p < r.count; p++ {
		if e, err := kv.Get(context.Background(), "partition."+strconv.Itoa(p)); err == nil {
			out[p] = string(e.Value())
		}
	}
	return out
}

// waitOwners waits until the leases are spread as want says (hub -> partitions held).
func (r *partitionedRig) waitOwners(what string, limit time.Duration, want map[string]int) (map[int]string, time.Duration) {
	r.t.Helper()
	begin := time.Now()
	for {
		o := r.owners()
		n := map[string]int{}
		for _, h := range o {
			n[h]++
		}
		if fmt.Sprint(n) == fmt.Sprint(want) {
			return o, time.Since(begin)
		}
		if time.Since(begin) > limit {
			r.t.Fatalf("%s: leases %v after %s, want %v", what, o, limit, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// consumerInfo is the durable consumer of partition p.
func (r *partitionedRig) consumerInfo(p int) *jetstream.ConsumerInfo {
	c, err := r.js.Consumer(context.Background(), "FLOORPULSE_SIGNALS", partition.Consumer("hub", p))
	if err != nil {
		return nil
	}
	ci, err := c.Info(context.Background())
	if err != nil {
		return nil
	}
	return ci
}

func (r *partitionedRig) waitFor(what string, limit time.Duration, ok func() bool) {
	r.t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			r.t.Fatalf("%s: not within %s", what, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// phase returns the signals of one phase: on every site, L1/M01 runs
// 10+i+k hours and L2/M01 runs 3+k hours, in October 2026 (UTC).
func (r *partitionedRig) phase(k int) ([]signal.Signal, map[string]float64) {
	var sigs []signal.Signal
	want := map[string]float64{}
	for i, site := range r.sites {
		start := time.Date(2026, 10, 1+(k-1)*5, i, 0, 0, 0, time.UTC)
		for _, run := range []struct {
			line  string
			hours int
		}{{"L1", 10 + i + k}, {"L2", 3 + k}} {
			mk := func(at time.Time, on bool) signal.Signal {
				return signal.Signal{Site: site, Line: run.line, Equipment: "M01", Name: signal.Run, Value: signal.Bool(on), Time: at, Agent: "test"}
			}
			sigs = append(sigs, mk(start, true), mk(start.Add(time.Duration(run.hours)*time.Hour), false))
			secs := float64(run.hours * 3600)
			want[fmt.Sprintf("equipment_activity %s/%s/M01", site, run.line)] += secs
			want[fmt.Sprintf("line_activity %s/%s", site, run.line)] += secs / 3600
			want["site_activity "+site] += secs / 3600
		}
	}
	return sigs, want
}

// figures reads every monthly run figure of October 2026 (the month of the
// phases' data) from InfluxDB, one entry per point. (The hubs also write
// the periods holding their clock's now, for every equipment; those are
// not the phases'.)
func (r *partitionedRig) figures() (map[string]float64, error) {
	q := influxdb2.NewClient(r.in.URL, "").QueryAPI("")
	res, err := q.Query(context.Background(), `from(bucket:"floorpulse/autogen") |> range(start: 2026-09-01T00:00:00Z, stop: 2026-10-31T00:00:00Z)
		|> filter(fn: (r) => r.period == "month" and ((r._measurement == "equipment_activity" and r._field == "run_seconds") or
			((r._measurement == "line_activity" or r._measurement == "site_activity") and r._field == "run_hours")))`)
	if err != nil {
		return nil, err
	}
	got := map[string]float64{}
	for res.Next() {
		rec := res.Record()
		if rec.Time().Format("2006-01-02") != "2026-10-01" {
			return nil, fmt.Errorf("a point at %s", rec.Time())
		}
		key := rec.Measurement() + " " + rec.ValueByKey("site").(string)
		if l, ok := rec.ValueByKey("line").(string); ok && l != "" {
			key += "/" + l
		}
		if e, ok := rec.ValueByKey("equipment").(string); ok && e != "" {
			key += "/" + e
		}
		if _, dup := got[key]; dup {
			return nil, fmt.Errorf("two points for %s", key)
		}
		v, _ := rec.Value().(float64)
		got[key] = v
	}
	return got, res.Err()
}

// waitFigures waits until InfluxDB holds exactly want: no point missing,
// none extra, every value equal.
func (r *partitionedRig) waitFigures(what string, want map[string]float64) {
	r.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, err := r.figures()
		diff := diffFigures(got, want)
		if err == nil && diff == "" {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%s: figures in InfluxDB differ (err %v):\n%s", what, err, diff)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func diffFigures(got, want map[string]float64) string {
	var out []string
	for k, w := range want {
		if g, ok := got[k]; !ok || math.Abs(g-w) > 1e-9*math.Max(1, math.Abs(w)) {
			out = append(out, fmt.Sprintf("  %s: got %v (present %t), want %v", k, g, ok, w))
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			out = append(out, fmt.Sprintf("  %s: got %v, want no point", k, g))
		}
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

var takeoverLine = regexp.MustCompile(`msg="partition taken over".* partition=(\d+) snapshot_seq=(\d+) replayed=(\d+)`)

// Two hub processes share four partitions of eight sites; one is killed
// (SIGKILL) after some of its acknowledged input is newer than its last
// snapshot, and while more is on the way; the survivor takes its partitions
// over within a few lease TTLs; the killed hub comes back and gets its share
// again. After every step InfluxDB holds exactly the expected figures of
// every equipment, line and site: none lost, none doubled.
func TestPartitionedHubsTakeOver(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	r := &partitionedRig{t: t, nats: testenv.StartNATS(t), in: testenv.StartInflux(t, "floorpulse"), dir: t.TempDir(),
		sites: []string{"s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8"}, count: 4, ttl: 2 * time.Second, http: map[string]int{}}
	seen := map[int]bool{}
	for _, s := range r.sites {
		seen[partition.Of(s, r.count)] = true
	}
	if len(seen) != r.count {
		t.Fatalf("the sites cover partitions %v, not all %d", seen, r.count)
	}
	r.js, _ = jetstream.New(connect(t, r.nats.URL))

	a, b := r.start("a"), r.start("b")
	owners, _ := r.waitOwners("both hubs hold partitions", 20*time.Second, map[string]int{"a": 2, "b": 2})
	var aParts []int
	for p, h := range owners {
		if h == "a" {
			aParts = append(aParts, p)
		}
	}
	sort.Ints(aParts)

	want := map[string]float64{}
	add := func(k int) []signal.Signal {
		sigs, w := r.phase(k)
		for key, v := range w {
			want[key] += v
		}
		return sigs
	}
	publish(t, r.js, add(1))
	r.waitFigures("phase 1", want)
	// a's snapshots cover phase 1...
	r.waitFor("snapshots of a's partitions", 15*time.Second, func() bool {
		obs, err := r.js.ObjectStore(context.Background(), partition.StateBucket("FLOORPULSE_SIGNALS"))
		if err != nil {
			return false
		}
		for _, p := range aParts {
			info, err := obs.GetInfo(context.Background(), partition.Object(p))
			ci := r.consumerInfo(p)
			if err != nil || ci == nil || ci.AckFloor.Stream == 0 || info.Metadata["seq"] != strconv.FormatUint(ci.AckFloor.Stream, 10) {
				return false
			}
		}
		return true
	})
	// ...then a acknowledges phase 2 (not in a snapshot yet) and is killed
	// while phase 3 arrives.
	publish(t, r.js, add(2))
	r.waitFor("a acknowledges phase 2", 15*time.Second, func() bool {
		for _, p := range aParts {
			ci := r.consumerInfo(p)
			if ci == nil || ci.NumPending > 0 || ci.NumAckPending > 0 {
				return false
			}
		}
		return true
	})
	publish(t, r.js, add(3))
	a.Kill()
	_, took := r.waitOwners("b takes a's partitions", 30*time.Second, map[string]int{"b": 4})
	t.Logf("b took over a's partitions %s after a was killed (lease ttl %s)", took, r.ttl)
	if took > 4*r.ttl {
		t.Errorf("takeover took %s, more than 4 lease TTLs", took)
	}
	publish(t, r.js, add(4))
	r.waitFigures("after the takeover", want)
	last := map[int][2]int{}
	for _, m := range takeoverLine.FindAllStringSubmatch(b.Output(), -1) {
		p, _ := strconv.Atoi(m[1])
		seq, _ := strconv.Atoi(m[2])
		n, _ := strconv.Atoi(m[3])
		last[p] = [2]int{seq, n}
	}
	replayed := 0
	for _, p := range aParts {
		if last[p][0] == 0 {
			t.Errorf("b took partition %d over without a's snapshot (%v)", p, last)
		}
		replayed += last[p][1]
	}
	if replayed == 0 {
		t.Errorf("b replayed nothing of a's partitions after their snapshots (%v); phase 2 was acknowledged after them", last)
	}
	t.Logf("b's takeovers (partition: snapshot seq, replayed signals): %v", last)

	// a comes back: the partitions spread again, handed over without loss.
	r.start("a")
	_, took = r.waitOwners("a gets its share back", 30*time.Second, map[string]int{"a": 2, "b": 2})
	t.Logf("rebalanced %s after a restarted", took)
	publish(t, r.js, add(5))
	r.waitFigures("after rebalancing", want)

	// Either hub serves the configured site's month: from its own
	// partition, or by redirecting to the hub holding it.
	for id, port := range r.http {
		var m struct {
			Equipment []struct {
				Site, Line, Equipment string
				RunSeconds            float64 `json:"run_seconds"`
			} `json:"equipment"`
		}
		body := get(t, fmt.Sprintf("http://127.0.0.1:%d/api/v1/months/2026-10", port), r.token)
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			t.Fatalf("hub %s month API: %v: %s", id, err, body)
		}
		found := false
		for _, e := range m.Equipment {
			if e.Site == r.sites[0] && e.Line == "L1" && e.Equipment == "M01" {
				found = true
				if k := "equipment_activity " + r.sites[0] + "/L1/M01"; e.RunSeconds != want[k] {
					t.Errorf("hub %s API: %s run_seconds %v, want %v", id, k, e.RunSeconds, want[k])
				}
			}
		}
		if !found {
			t.Errorf("hub %s API has no %s/L1/M01: %s", id, r.sites[0], body)
		}
	}
}
