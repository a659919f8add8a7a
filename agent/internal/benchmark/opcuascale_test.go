package benchmark

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/pkg/testenv"
)

var (
	opcuaItems   = flag.Int("opcuaitems", 10_000, "BenchmarkOPCUAScale: monitored items (a multiple of 5: five variables a machine)")
	opcuaWarmup  = flag.Duration("opcuawarmup", 20*time.Second, "BenchmarkOPCUAScale: time after every item reported once before measuring")
	opcuaWindow  = flag.Duration("opcuawindow", 40*time.Second, "BenchmarkOPCUAScale: how long the agent's CPU time is measured")
	opcuaPublish = flag.Duration("opcuapublish", time.Second, "BenchmarkOPCUAScale: the subscription's publishing interval")
	opcuaPerCall = flag.Int("opcuapercall", 0, "BenchmarkOPCUAScale: the agent's max_items_per_call (0: the server's limits, 10,000 for node-opcua)")
)

// Targets of the agent reading OPC UA at scale.
const (
	maxOPCUACPU = 5.0  // % of one core
	maxOPCUARSS = 60.0 // MB (10^6 bytes), peak
)

// opcuaSignals are the signal names of a machine's five variables in
// simulators/nodeopcua/scale.js, by browse name.
var opcuaSignals = [...][2]string{{"Run", "run"}, {"State", "state"}, {"Count", "count"}, {"Power", "power"}, {"Operator", "operator"}}

// BenchmarkOPCUAScale subscribes the agent binary to -opcuaitems (10,000)
// variables of one node-opcua server, each sampled every second and each
// changing every second (simulators/nodeopcua/scale.js), forwarding to a
// real JetStream stream, and measures, after every item reported and
// -opcuawarmup, the agent's CPU time over -opcuawindow as a share of one
// core and its peak resident memory (VmHWM, since its start). Run it with
// -benchtime 1x.
//
//	go test -run '^$' -bench OPCUAScale -benchtime 1x ./agent/internal/benchmark
func BenchmarkOPCUAScale(b *testing.B) {
	if *opcuaItems <= 0 || *opcuaItems%len(opcuaSignals) != 0 {
		b.Fatalf("-opcuaitems %d: want a positive multiple of %d", *opcuaItems, len(opcuaSignals))
	}
	bin := agentBinary(b)
	var cpus, rsss []float64
	for i := 0; i < b.N; i++ {
		cpu, rss, rate := measureOPCUA(b, bin, *opcuaItems/len(opcuaSignals))
		b.Logf("iteration %d: %d monitored items, %.0f signals/s committed; agent %.2f %% of one core, peak RSS %.1f MB",
			i+1, *opcuaItems, rate, cpu, rss)
		cpus, rsss = append(cpus, cpu), append(rsss, rss)
	}
	b.ReportMetric(0, "ns/op")
	if *inProc {
		return // the agent's CPU time and memory are not its own: profile only
	}
	cpu, rss := median(cpus), median(rsss)
	b.ReportMetric(cpu, "cpu-%")
	b.ReportMetric(rss, "rss-MB")
	verdict := func(met bool) string {
		if met {
			return "met"
		}
		return "MISSED"
	}
	b.Logf("target %s: agent CPU %.2f %% of one core, want < %.0f", verdict(cpu < maxOPCUACPU), cpu, maxOPCUACPU)
	b.Logf("target %s: agent peak RSS %.1f MB, want < %.0f", verdict(rss < maxOPCUARSS), rss, maxOPCUARSS)
	if *enforce && (cpu >= maxOPCUACPU || rss >= maxOPCUARSS) {
		b.Error("an OPC UA scale target was missed")
	}
}

// measureOPCUA runs one measurement: the agent's CPU as a percentage of
// one core, its peak RSS in MB, and the signals it committed per second
// over the window.
func measureOPCUA(b *testing.B, bin string, machines int) (cpu, rss, rate float64) {
	b.Helper()
	srv := startScaleServer(b, machines)
	defer srv.Stop(stopTimeout)
	st := startStream(b)
	defer st.close()

	dir := b.TempDir()
	httpAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(b))
	cfg := filepath.Join(dir, "agent.yaml")
	if err := os.WriteFile(cfg, []byte(opcuaConfig(filepath.Join(dir, "data"), httpAddr, st.ns.URL, srv.url, machines)), 0o600); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "-config", cfg)
	cmd.Dir = dir
	if *agentEnv != "" {
		cmd.Env = append(os.Environ(), strings.Split(*agentEnv, ",")...)
	}
	var agent running
	if *inProc {
		agent = startInProcess(b, cfg)
	} else {
		agent = process{testenv.Start(b, "agent", cmd)}
	}
	defer agent.Stop(stopTimeout)

	// Every item has reported (its first value and then some).
	metrics := "http://" + httpAddr + "/metrics"
	items := float64(machines * len(opcuaSignals))
	deadline := time.Now().Add(3 * time.Minute)
	for scrape(metrics)["floorpulse_agent_signals_in_total"] < 2*items {
		if agent.Exited() || srv.Exited() || time.Now().After(deadline) {
			b.Fatalf("the agent did not get %.0f values in time\nserver:\n%s", 2*items, tail(srv.Output()))
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(*opcuaWarmup)

	before, err := agent.Usage()
	if err != nil {
		b.Fatal(err)
	}
	srvBefore, err := ReadUsage(srv.Cmd.Process.Pid)
	if err != nil {
		b.Fatal(err)
	}
	in0 := scrape(metrics)["floorpulse_agent_signals_in_total"]
	t0 := time.Now()
	var maxRSS, maxAnon uint64
	for time.Since(t0) < *opcuaWindow {
		if u, err := agent.Usage(); err == nil {
			maxRSS, maxAnon = max(maxRSS, u.RSS), max(maxAnon, u.RSSAnon)
		}
		time.Sleep(200 * time.Millisecond)
	}
	after, err := agent.Usage()
	if err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(t0)
	in1 := scrape(metrics)["floorpulse_agent_signals_in_total"]
	if st.msgs(b) == 0 {
		b.Fatal("nothing reached the stream")
	}
	srvAfter, err := ReadUsage(srv.Cmd.Process.Pid)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("server: %.0f %% of one core over the window", 100*(srvAfter.CPU-srvBefore.CPU).Seconds()/elapsed.Seconds())
	b.Logf("over the window: RSS at most %.1f MB (anonymous at most %.1f MB); at its start %.1f MB, at its end %.1f MB",
		float64(maxRSS)/1e6, float64(maxAnon)/1e6, float64(before.RSS)/1e6, float64(after.RSS)/1e6)
	return 100 * (after.CPU - before.CPU).Seconds() / elapsed.Seconds(), float64(after.PeakRSS) / 1e6, (in1 - in0) / elapsed.Seconds()
}

// scaleServer is simulators/nodeopcua/scale.js running.
type scaleServer struct {
	*testenv.Process
	url string
}

func startScaleServer(b *testing.B, machines int) scaleServer {
	b.Helper()
	dir := testenv.InstallNodeOPCUA(b)
	port := testenv.FreePort(b)
	cmd := exec.Command("node", filepath.Join(testenv.Root(b), "simulators", "nodeopcua", "scale.js"),
		"--port", fmt.Sprint(port), "--pki", filepath.Join(b.TempDir(), "pki"), "--machines", fmt.Sprint(machines))
	cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(dir, "node_modules"))
	p := testenv.Start(b, "node-opcua-scale", cmd)
	deadline := time.Now().Add(2 * time.Minute)
	for !strings.Contains(p.Output(), "ready ") {
		if p.Exited() || time.Now().After(deadline) {
			b.Fatalf("node-opcua scale server did not start:\n%s", tail(p.Output()))
		}
		time.Sleep(50 * time.Millisecond)
	}
	return scaleServer{Process: p, url: fmt.Sprintf("opc.tcp://127.0.0.1:%d", port)}
}

// opcuaConfig subscribes to every variable of machines machines of the
// scale server at 1 s sampling, 100 machines to a line.
func opcuaConfig(dataDir, httpAddr, natsURL, endpoint string, machines int) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, `agent_id: bench
site: plant1
data_dir: %s
http: %s
log_level: info
nats:
  url: %s
opcua:
  - endpoint: %s
    sampling_interval: 1s
    publishing_interval: %s
    max_items_per_call: %d
    nodes:
`, dataDir, httpAddr, natsURL, endpoint, *opcuaPublish, *opcuaPerCall)
	for m := range machines {
		id := fmt.Sprintf("M%04d", m)
		for _, s := range opcuaSignals {
			fmt.Fprintf(&sb, "      - {node_id: \"ns=1;s=%s.%s\", line: L%02d, equipment: %s, signal: %s}\n", id, s[0], m/100, id, s[1])
		}
	}
	return sb.String() + strings.ReplaceAll(*agentYAML, `\n`, "\n")
}
