package benchmark

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/floorpulse/floorpulse/agent/internal/streamtest"
	"github.com/floorpulse/floorpulse/pkg/testenv"
)

var (
	msgCount = flag.Int("msgs", 200_000, "QoS 1 messages per measurement")
	rate     = flag.Int("rate", 0, "messages a second offered to both subscribers (0: as fast as the broker takes them); "+
		"when both keep up, the agent's CPU time and memory are those of that load")
	enforce   = flag.Bool("enforce", false, "fail the benchmark when the agent misses a target")
	inflight  = flag.Int("inflight", 0, "mosquitto's max_inflight_messages: unacknowledged QoS 1 messages per subscriber (0: no limit; mosquitto's default is 20)")
	agentBin  = flag.String("agentbin", "", "agent binary to measure; empty: build ./agent/cmd/agent")
	agentYAML = flag.String("agentyaml", "", "YAML appended to the agent's configuration, e.g. a buffer section; \\n is a new line")
	agentEnv  = flag.String("agentenv", "", "comma-separated KEY=VALUE pairs added to the agent's environment, e.g. GOGC=200")
	direct    = flag.Bool("direct", true, "also measure a direct forwarder (baresub -nats: paho's handler publishes each message to the stream, "+
		"nothing on disk, the broker's ack not waiting for the stream's), beside the other two")
	bareInProc = flag.Bool("bareinprocess", false, "run the bare subscriber inside the benchmark process, with the publisher, "+
		"instead of as a process of its own; its CPU time and memory are then not measured")
	inProc = flag.Bool("inprocess", false, "run the agent inside the benchmark process, for -cpuprofile and -memprofile; "+
		"its CPU time and memory are then not measured")
)

// Targets for the agent, against the bare subscriber measured in the same run.
const (
	minRatio     = 0.90 // agent rate / bare subscriber rate
	maxCPUPerM   = 15.0 // CPU seconds per million signals
	maxPeakRSSMB = 25.0 // peak resident memory, MB (10^6 bytes)
)

const (
	filter         = "floorpulse/+/+/+/+" // what both subscribe to
	readyTimeout   = 20 * time.Second
	pollInterval   = 5 * time.Millisecond
	stopTimeout    = 10 * time.Second
	perMsgDeadline = time.Millisecond // time allowed per message on top of a fixed 30s
)

// built holds the binaries built once per test binary, by package path.
var built struct {
	sync.Mutex
	dir   string
	paths map[string]string
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// agentBinary returns the agent binary to measure: -agentbin, or
// ./agent/cmd/agent built as `make release` builds it (static, without
// symbol tables): the binary that is measured is the one that ships.
func agentBinary(b *testing.B) string {
	b.Helper()
	if *agentBin != "" {
		return *agentBin
	}
	return binary(b, "./agent/cmd/agent")
}

// binary builds the command in pkg (relative to the repository) once per
// test binary, as `make release` does, and returns its path.
func binary(b *testing.B, pkg string) string {
	b.Helper()
	built.Lock()
	defer built.Unlock()
	if p, ok := built.paths[pkg]; ok {
		return p
	}
	if built.dir == "" {
		dir, err := os.MkdirTemp("", "floorpulse-bench")
		if err != nil {
			b.Fatal(err)
		}
		built.dir, built.paths = dir, map[string]string{}
	}
	p := filepath.Join(built.dir, filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", p, pkg)
	cmd.Dir = testenv.Root(b)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	built.paths[pkg] = p
	return p
}

// result is one measurement: n messages from the first publication until
// the last one was received (bare) or stored in the stream (agent).
type result struct {
	n       int
	elapsed time.Duration
	cpu     time.Duration // agent process only, over elapsed
	peakRSS uint64        // agent process only, bytes, since its start
	begin   Usage         // agent process only, ready and idle before the first publication
	end     Usage         // agent process only, when the last message was stored

	// Agent only, from its metrics: when the last message was committed to
	// the queue (0: not seen), and the most records the queue held.
	committed time.Duration
	maxQueued uint64
	maxAnon   uint64 // the most anonymous memory (RssAnon) seen, sampled
	maxFile   uint64 // the most file-backed memory (RssFile) seen, sampled

	// CPU time of the broker and of this process (publisher, and the bare
	// subscriber or the NATS server) over elapsed: the rest of the machine.
	brokerCPU, selfCPU time.Duration
}

func (r result) rate() float64 { return float64(r.n) / r.elapsed.Seconds() }

// cpuPerMillion is the agent's CPU seconds per million signals.
func (r result) cpuPerMillion() float64 { return r.cpu.Seconds() * 1e6 / float64(r.n) }

func (r result) peakRSSMB() float64 { return float64(r.peakRSS) / 1e6 }

func (r result) peakAnonMB() float64 { return float64(r.maxAnon) / 1e6 }

// perMillion is d per million messages, in seconds.
func (r result) perMillion(d time.Duration) float64 { return d.Seconds() * 1e6 / float64(r.n) }

func deadlineFor(n int) time.Duration { return 30*time.Second + time.Duration(n)*perMsgDeadline }

// BenchmarkMQTTToJetStream measures, side by side on this machine, a bare
// paho subscriber and the agent binary receiving the same QoS 1 messages
// from mosquitto; the agent commits each message to its bbolt queue before
// acknowledging it and forwards it to JetStream, where it is counted. Each
// iteration measures both, each against a fresh broker (and, for the agent, a
// fresh NATS server, stream and data directory). Run it with -benchtime 1x:
// one iteration is -msgs messages through each.
func BenchmarkMQTTToJetStream(b *testing.B) {
	bin := agentBinary(b)
	if !*bareInProc {
		binary(b, bareSubPkg) // built before anything is measured
	}
	msgs := newMessages(*msgCount)
	var bare, agent, directs []result
	for i := 0; i < b.N; i++ {
		bare = append(bare, measureBare(b, msgs))
		agent = append(agent, measureAgent(b, bin, msgs))
		r, a := bare[i], agent[i]
		if *direct {
			f := measureDirect(b, msgs)
			directs = append(directs, f)
			b.Logf("iteration %d: direct forwarder %.0f msgs/s, %.3f of the bare subscriber; CPU s per million: broker %.2f, publisher + NATS server %.2f, forwarder %.2f",
				i+1, f.rate(), f.rate()/r.rate(), f.perMillion(f.brokerCPU), f.perMillion(f.selfCPU), f.cpuPerMillion())
		}
		b.Logf("iteration %d: %d messages; bare %.0f msgs/s (%v); agent %.0f msgs/s (%v), ratio %.3f; all committed to the agent's queue after %v, at most %d records queued",
			i+1, len(msgs), r.rate(), r.elapsed.Round(time.Millisecond), a.rate(), a.elapsed.Round(time.Millisecond), a.rate()/r.rate(),
			a.committed.Round(time.Millisecond), a.maxQueued)
		bareRun := fmt.Sprintf("publisher %.2f, bare subscriber %.2f", r.perMillion(r.selfCPU), r.cpuPerMillion())
		if *bareInProc {
			bareRun = fmt.Sprintf("publisher + bare subscriber %.2f", r.perMillion(r.selfCPU))
		}
		agentRun := fmt.Sprintf("publisher + NATS server %.2f, agent %.2f", a.perMillion(a.selfCPU), a.cpuPerMillion())
		if *inProc {
			agentRun = fmt.Sprintf("publisher + NATS server + agent %.2f", a.perMillion(a.selfCPU))
		}
		b.Logf("iteration %d: CPU s per million messages: bare run: broker %.2f, %s; agent run: broker %.2f, %s",
			i+1, r.perMillion(r.brokerCPU), bareRun, a.perMillion(a.brokerCPU), agentRun)
		if !*inProc {
			b.Logf("iteration %d: agent %.2f CPU s per million signals, peak RSS %.1f MB (sampled: anonymous memory at most %.1f MB, mapped files at most %.1f MB); "+
				"RSS idle before %.1f MB = %.1f MB anonymous + %.1f MB mapped files (queue file, binary), at the end %.1f MB = %.1f + %.1f MB",
				i+1, a.cpuPerMillion(), a.peakRSSMB(), a.peakAnonMB(), float64(a.maxFile)/1e6,
				float64(a.begin.RSS)/1e6, float64(a.begin.RSSAnon)/1e6, float64(a.begin.RSSFile)/1e6,
				float64(a.end.RSS)/1e6, float64(a.end.RSSAnon)/1e6, float64(a.end.RSSFile)/1e6)
		}
	}
	ratios := make([]float64, len(agent))
	for i := range agent {
		ratios[i] = agent[i].rate() / bare[i].rate()
	}
	ratio := median(ratios)
	b.ReportMetric(0, "ns/op") // one iteration is a whole run; its wall time says nothing
	b.ReportMetric(median(mapped(bare, result.rate)), "bare_msgs/s")
	b.ReportMetric(median(mapped(agent, result.rate)), "agent_msgs/s")
	b.ReportMetric(ratio, "agent/bare")
	cpu := median(mapped(agent, result.cpuPerMillion))
	rss := median(mapped(agent, result.peakRSSMB))
	if !*bareInProc {
		b.ReportMetric(median(mapped(bare, result.cpuPerMillion)), "bare_cpu_s/Msignals")
	}
	if len(directs) > 0 {
		dr := make([]float64, len(directs))
		for i := range directs {
			dr[i] = directs[i].rate() / bare[i].rate()
		}
		ad := make([]float64, len(directs))
		for i := range directs {
			ad[i] = agent[i].rate() / directs[i].rate()
		}
		b.ReportMetric(median(dr), "direct/bare")
		b.ReportMetric(median(ad), "agent/direct")
		b.ReportMetric(median(mapped(directs, result.rate)), "direct_msgs/s")
		b.ReportMetric(median(mapped(directs, result.cpuPerMillion)), "direct_cpu_s/Msignals")
	}
	if !*inProc {
		b.ReportMetric(cpu, "agent_cpu_s/Msignals")
		b.ReportMetric(rss, "agent_peak_rss_MB")
		b.ReportMetric(median(mapped(agent, result.peakAnonMB)), "agent_peak_anon_MB")
	}

	check := func(met bool, format string, args ...any) {
		verdict := "met"
		if !met {
			verdict = "MISSED"
		}
		msg := fmt.Sprintf("target %s: ", verdict) + fmt.Sprintf(format, args...)
		if !met && *enforce {
			b.Error(msg)
			return
		}
		b.Log(msg)
	}
	check(ratio >= minRatio, "agent/bare %.3f, want >= %.2f", ratio, minRatio)
	if !*inProc {
		check(cpu <= maxCPUPerM, "agent CPU %.2f s per million signals, want <= %.0f", cpu, maxCPUPerM)
		check(rss <= maxPeakRSSMB, "agent peak RSS %.1f MB, want <= %.0f", rss, maxPeakRSSMB)
	}
}

// measureBare publishes msgs and waits until a bare subscriber received
// them all. The subscriber is a process of its own (baresub), measured like
// the agent, unless -bareinprocess.
func measureBare(b *testing.B, msgs []message) result {
	b.Helper()
	brk := startBroker(b)
	defer brk.Kill()
	var sub bareSubscriber
	if *bareInProc {
		s, err := subscribe(brk.URL, filter, int64(len(msgs)))
		if err != nil {
			b.Fatal(err)
		}
		sub = s
	} else {
		sub = startBareProcess(b, brk.URL, len(msgs))
	}
	defer sub.close()

	m := startMeasurement(b, brk, msgs, sub.Usage)
	m.pub.until(b, sub.done, func() string {
		return fmt.Sprintf("the bare subscriber did not receive all %d messages within %s", len(msgs), deadlineFor(len(msgs)))
	}, nil)
	r, _ := m.finish()
	return r
}

// measurement is one subscriber's measured run: msgs published since
// pub.start, the subscriber's usage (zero without a process of its own)
// and the CPU time of the broker and this process from before the first
// publication.
type measurement struct {
	b      *testing.B
	usage  func() (Usage, error)
	before Usage
	others cpuClock
	pub    *publication
}

func startMeasurement(b *testing.B, brk *broker, msgs []message, usage func() (Usage, error)) *measurement {
	b.Helper()
	before, err := usage()
	if err != nil {
		b.Fatal(err)
	}
	others := startCPU(b, brk)
	return &measurement{b: b, usage: usage, before: before, others: others, pub: startPublishing(brk.URL, msgs)}
}

// finish ends the measurement when the subscriber has everything: the
// result so far, and the subscriber's usage at the end. It waits for the
// publisher.
func (m *measurement) finish() (result, Usage) {
	m.b.Helper()
	elapsed := time.Since(m.pub.start)
	after, err := m.usage()
	if err != nil {
		m.b.Fatal(err)
	}
	brokerCPU, selfCPU := m.others.since(m.b)
	m.pub.wait(m.b)
	return result{n: m.pub.n, elapsed: elapsed, cpu: after.CPU - m.before.CPU, peakRSS: after.PeakRSS,
		brokerCPU: brokerCPU, selfCPU: selfCPU}, after
}

// untilStored polls the stream until it holds all the messages published,
// failing b when abort (may be nil) says why to stop, and when the stream
// holds more.
func (m *measurement) untilStored(st *stream, abort func(got uint64) string) {
	m.b.Helper()
	want := uint64(m.pub.n)
	var got uint64
	var stop func() string
	if abort != nil {
		stop = func() string { return abort(got) }
	}
	m.pub.until(m.b, func() bool { got = st.msgs(m.b); return got >= want }, func() string {
		return fmt.Sprintf("stream holds %d of %d messages after %s", got, want, deadlineFor(m.pub.n))
	}, stop)
	if got != want {
		m.b.Fatalf("stream holds %d messages, %d published", got, want)
	}
}

// stream is a fresh NATS server with the signal stream, for one measurement.
type stream struct {
	ns *testenv.NATS
	nc *nats.Conn
	js jetstream.JetStream
}

func startStream(b *testing.B) *stream {
	b.Helper()
	ns := testenv.StartNATS(b)
	streamtest.Create(b, ns.URL)
	nc, err := nats.Connect(ns.URL)
	if err != nil {
		ns.Shutdown()
		b.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		ns.Shutdown()
		b.Fatal(err)
	}
	return &stream{ns: ns, nc: nc, js: js}
}

func (st *stream) close() {
	st.nc.Close()
	st.ns.Shutdown()
}

// msgs is how many messages the signal stream holds.
func (st *stream) msgs(b *testing.B) uint64 {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := st.js.Stream(ctx, streamtest.Stream)
	if err != nil {
		b.Fatalf("stream info: %v", err)
	}
	return s.CachedInfo().State.Msgs
}

// publication is msgs being published in the background since start.
type publication struct {
	start time.Time
	n     int
	errc  chan error
	done  bool // the publisher returned without an error
}

func startPublishing(url string, msgs []message) *publication {
	p := &publication{start: time.Now(), n: len(msgs), errc: make(chan error, 1)}
	go func() { p.errc <- publish(url, msgs) }()
	return p
}

// until polls done every pollInterval until it holds. It fails b when the
// publisher fails, when the time allowed for the messages has passed
// (saying late()), or when abort (may be nil) says why to stop.
func (p *publication) until(b *testing.B, done func() bool, late, abort func() string) {
	b.Helper()
	deadline := p.start.Add(deadlineFor(p.n))
	for !done() {
		p.check(b, false)
		if abort != nil {
			if why := abort(); why != "" {
				b.Fatal(why)
			}
		}
		if time.Now().After(deadline) {
			b.Fatal(late())
		}
		time.Sleep(pollInterval)
	}
}

// wait waits for the publisher to return and fails b if it failed.
func (p *publication) wait(b *testing.B) {
	b.Helper()
	p.check(b, true)
}

func (p *publication) check(b *testing.B, block bool) {
	b.Helper()
	if p.done {
		return
	}
	var err error
	if block {
		err = <-p.errc
	} else {
		select {
		case err = <-p.errc:
		default:
			return
		}
	}
	if err != nil {
		b.Fatal(err)
	}
	p.done = true
}

// bareSubscriber is the bare subscriber of one measurement.
type bareSubscriber interface {
	done() bool            // all messages received
	Usage() (Usage, error) // zero without a process of its own
	close()
}

// bareSubPkg is the bare subscriber's command.
const bareSubPkg = "./agent/internal/benchmark/baresub"

// bareProcess is baresub, run as a process.
type bareProcess struct{ *testenv.Process }

// startBareProcess starts baresub on url and waits until it is subscribed.
func startBareProcess(b *testing.B, url string, n int, args ...string) bareProcess {
	b.Helper()
	cmd := exec.Command(binary(b, bareSubPkg), append([]string{"-broker", url, "-filter", filter, "-n", fmt.Sprint(n)}, args...)...)
	p := bareProcess{testenv.Start(b, "baresub", cmd)}
	deadline := time.Now().Add(readyTimeout)
	for !strings.Contains(p.Output(), "subscribed") {
		if p.Exited() || time.Now().After(deadline) {
			b.Fatalf("bare subscriber not subscribed after %s:\n%s", readyTimeout, p.Output())
		}
		time.Sleep(pollInterval)
	}
	return p
}

func (p bareProcess) done() bool {
	return strings.Contains(p.Output(), "received")
}

func (p bareProcess) Usage() (Usage, error) { return ReadUsage(p.Cmd.Process.Pid) }

func (p bareProcess) close() { p.Stop(stopTimeout) }

// measureAgent starts the agent binary on a fresh broker and NATS server,
// publishes msgs once it is subscribed, and waits until the stream holds
// them all. The agent's CPU time is counted from the first publication to
// the last message stored.
func measureAgent(b *testing.B, bin string, msgs []message) result {
	b.Helper()
	return measureAgentThen(b, bin, msgs, nil)
}

// measureAgentThen is measureAgent, then inspect (may be nil) called with
// the stream before it is closed.
func measureAgentThen(b *testing.B, bin string, msgs []message, inspect func(*stream)) result {
	b.Helper()
	brk := startBroker(b)
	defer brk.Kill()
	st := startStream(b)
	defer st.close()

	dir := b.TempDir()
	httpAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(b))
	cfg := filepath.Join(dir, "agent.yaml")
	if err := os.WriteFile(cfg, []byte(agentConfig(filepath.Join(dir, "data"), httpAddr, brk.URL, st.ns.URL)), 0o600); err != nil {
		b.Fatal(err)
	}
	var agent running
	if *inProc {
		agent = startInProcess(b, cfg)
	} else {
		cmd := exec.Command(bin, "run", "-config", cfg)
		cmd.Dir = dir
		if *agentEnv != "" {
			cmd.Env = append(os.Environ(), strings.Split(*agentEnv, ",")...)
		}
		agent = process{testenv.Start(b, "agent", cmd)}
	}
	defer agent.Stop(stopTimeout)
	waitReady(b, agent, "http://"+httpAddr+"/readyz")

	m := startMeasurement(b, brk, msgs, agent.Usage)
	w := watch("http://"+httpAddr+"/metrics", agent.Usage, uint64(len(msgs)), m.pub.start)
	defer w.finish()
	m.untilStored(st, func(got uint64) string {
		if agent.Exited() {
			return fmt.Sprintf("agent exited after %d of %d messages were stored", got, len(msgs))
		}
		return ""
	})
	r, after := m.finish()
	r.committed, r.maxQueued, r.maxAnon, r.maxFile = w.finish()
	r.begin, r.end = m.before, after
	r.maxAnon, r.maxFile = max(r.maxAnon, after.RSSAnon), max(r.maxFile, after.RSSFile)
	if inspect != nil {
		inspect(st)
	}
	return r
}

// measureDirect publishes msgs to a fresh broker and waits until baresub
// -nats has forwarded them all into a fresh stream: a forwarder written the
// plain way, with nothing on disk.
func measureDirect(b *testing.B, msgs []message) result {
	b.Helper()
	brk := startBroker(b)
	defer brk.Kill()
	st := startStream(b)
	defer st.close()
	fwd := startBareProcess(b, brk.URL, len(msgs), "-nats", st.ns.URL)
	defer fwd.close()

	m := startMeasurement(b, brk, msgs, fwd.Usage)
	m.untilStored(st, nil)
	r, _ := m.finish()
	return r
}

// agentConfig is the agent's configuration for a measurement: the default
// buffer (group commit) and forwarding settings, as configs/agent.yaml has them.
func agentConfig(dataDir, httpAddr, broker, natsURL string) string {
	return fmt.Sprintf(`agent_id: bench
site: plant1
data_dir: %s
http: %s
log_level: info
nats:
  url: %s
mqtt:
  - broker: %s
    client_id: floorpulse-agent-bench
    qos: 1
    subscriptions:
      - topic: %s
        template: floorpulse/{site}/{line}/{equipment}/{signal}
        format: json
        value: value
        time: ts
        time_format: rfc3339
`, dataDir, httpAddr, natsURL, broker, filter) + strings.ReplaceAll(*agentYAML, `\n`, "\n")
}

// waitReady polls /readyz until the agent's MQTT source is connected and
// subscribed.
func waitReady(b *testing.B, agent running, url string) {
	b.Helper()
	c := http.Client{Timeout: time.Second}
	deadline := time.Now().Add(readyTimeout)
	for {
		resp, err := c.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if agent.Exited() || time.Now().After(deadline) {
			b.Fatalf("agent not ready after %s (last: %v)", readyTimeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func mapped(rs []result, f func(result) float64) []float64 {
	out := make([]float64, len(rs))
	for i, r := range rs {
		out[i] = f(r)
	}
	return out
}

// median of xs (not empty); xs is left unchanged.
func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// cpuClock is the CPU time of the broker and of this process at a start.
type cpuClock struct {
	pid          int
	broker, self time.Duration
}

func startCPU(b *testing.B, brk *broker) cpuClock {
	b.Helper()
	c := cpuClock{pid: brk.Cmd.Process.Pid}
	c.broker, c.self = readCPU(b, c.pid), readCPU(b, os.Getpid())
	return c
}

// since returns the CPU time the broker and this process used since c.
func (c cpuClock) since(b *testing.B) (broker, self time.Duration) {
	b.Helper()
	return readCPU(b, c.pid) - c.broker, readCPU(b, os.Getpid()) - c.self
}

func readCPU(b *testing.B, pid int) time.Duration {
	b.Helper()
	u, err := ReadUsage(pid)
	if err != nil {
		b.Fatal(err)
	}
	return u.CPU
}
