package benchmark

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/pkg/testenv"
)

var (
	pathMsgs     = flag.Int("pathmsgs", 1_000_000, "BenchmarkPath: QoS 1 messages per contender and round")
	pathDiskMsgs = flag.Int("pathdiskmsgs", 0, "BenchmarkPath: messages for Telegraf with its disk buffer (0: -pathmsgs); "+
		"it forwards about a tenth as fast as the others")
	pathRounds  = flag.Int("pathrounds", 1, "BenchmarkPath: rounds, the contenders alternating within each")
	telegrafBin = flag.String("telegraf", "", "BenchmarkPath: Telegraf binary; empty: "+telegrafTool+" in the tool cache (`make telegraf`)")
)

// telegrafTool is the Telegraf the Makefile builds (`make telegraf`) into the
// tool cache: 1.37.2 with only the MQTT consumer, the NATS output and the
// JSON parsers and serializer.
const telegrafTool = "telegraf-v1.37.2"

// Targets of the agent in BenchmarkPath.
const (
	pathMinRatio      = 1.0     // agent rate / bare subscriber rate, same round
	pathMaxCPUOfTgMem = 1.0 / 3 // agent CPU per message / Telegraf's with its memory buffer
	pathMaxRSSMB      = 25.0
)

// Path topics: 5 lines x 20 machines x 5 gauges (numbers of any value, as
// the ids are).
const pathLines, pathMachines = 5, 20

var pathGauges = [...]string{"power", "load", "temp", "speed", "vibration"}

// pathMessages returns n messages of about 120 bytes on 500 topics, each
// carrying its index as its value: the id by which lost and doubled
// messages are counted in the stream, which both the agent and Telegraf
// carry. Timestamps are unique too, so no two are the same signal.
func pathMessages(n int) []message {
	base := time.Now().Add(-time.Hour).Truncate(time.Second).UTC()
	topics := make([]string, 0, pathLines*pathMachines*len(pathGauges))
	for l := range pathLines {
		for m := range pathMachines {
			for _, s := range pathGauges {
				topics = append(topics, fmt.Sprintf("floorpulse/plant1/L%d/M%03d/%s", l+1, m+1, s))
			}
		}
	}
	msgs := make([]message, n)
	for i := range msgs {
		ts := base.Add(time.Duration(i) * time.Millisecond).Format("2006-01-02T15:04:05.000Z07:00")
		l, m := i%len(topics)/(pathMachines*len(pathGauges)), i%len(topics)/len(pathGauges)%pathMachines
		msgs[i] = message{topic: topics[i%len(topics)], payload: fmt.Appendf(nil,
			`{"ts":%q,"value":%d,"unit":"count","line":"L%d","machine":"M%03d","plc":"plc-%02d","q":"good"}`,
			ts, i, l+1, m+1, (l*pathMachines+m)%64)}
	}
	return msgs
}

// pathSet caches the messages of one size across sub-benchmarks and rounds.
var pathSet struct {
	sync.Mutex
	msgs map[int][]message
}

func pathMessagesOf(n int) []message {
	pathSet.Lock()
	defer pathSet.Unlock()
	if pathSet.msgs == nil {
		pathSet.msgs = map[int][]message{}
	}
	if m, ok := pathSet.msgs[n]; ok {
		return m
	}
	m := pathMessages(n)
	pathSet.msgs[n] = m
	return m
}

// round holds the bare subscriber's rate of the current round, so that the
// others' rates are reported as a ratio to the path's limit at the same
// moment.
var round struct{ bare float64 }

// BenchmarkPath measures, from outside and side by side, the whole path a
// message takes from an MQTT publisher into a JetStream file stream: one
// paho publisher (QoS 1, about 120-byte messages on 500 topics), a fresh
// mosquitto and a fresh stream per measurement, and in turn
//
//   - bare: a bare paho subscriber (baresub), the limit of the path;
//   - agent: the agent binary, every message committed to its bbolt queue
//     (fsync) before its PUBACK, forwarded to the stream;
//   - telegraf-memory and telegraf-disk: Telegraf (inputs.mqtt_consumer at
//     QoS 1 with a persistent session, the JSON parser, outputs.nats
//     publishing to the same stream) with its memory buffer and with its
//     disk buffer.
//
// With -args -pathrounds N the four alternate, round after round (Go's
// -count would repeat each one N times before the next). Each reports its
// sustained rate (first publication to the last message received or stored),
// its CPU seconds per million messages and peak RSS (from /proc), and, for
// the forwarders, the ids missing from the stream (lost), the copies beyond
// one (doubled) and its rate over the bare subscriber's of the same round.
// Rounds after the first are reported under Go's names for repeated
// sub-benchmarks: BenchmarkPath/bare#01, #02 and so on.
//
//	go test -run '^$' -bench Path -benchtime 1x ./agent/internal/benchmark -args -pathmsgs 200000 -pathrounds 3
func BenchmarkPath(b *testing.B) {
	if *pathRounds < 1 {
		b.Fatalf("-pathrounds %d: want at least 1", *pathRounds)
	}
	for range *pathRounds {
		round.bare = 0
		b.Run("bare", func(b *testing.B) {
			binary(b, bareSubPkg)
			msgs := pathMessagesOf(*pathMsgs)
			var rs []result
			for i := 0; i < b.N; i++ {
				rs = append(rs, measureBare(b, msgs))
			}
			round.bare = median(mapped(rs, result.rate))
			reportPath(b, rs, nil)
		})
		b.Run("agent", func(b *testing.B) {
			bin := agentBinary(b)
			msgs := pathMessagesOf(*pathMsgs)
			var rs []result
			var ids []idCount
			for i := 0; i < b.N; i++ {
				r, c := measureAgentCounted(b, bin, msgs)
				rs, ids = append(rs, r), append(ids, c)
			}
			reportPath(b, rs, ids)
			// The split of the peak: the agent's own memory, and pages of
			// the binary and the queue file mapped into it.
			b.ReportMetric(median(mapped(rs, result.peakAnonMB)), "anon-MB")
			b.ReportMetric(median(mapped(rs, func(r result) float64 { return float64(r.maxFile) / 1e6 })), "file-MB")
			a := median(mapped(rs, result.rate))
			if round.bare > 0 {
				b.Logf("agent %.0f msgs/s, %.3f of the bare subscriber in this round (target >= %.2f); %.2f CPU s per million, peak RSS %.1f MB (target <= %.0f MB)",
					a, a/round.bare, pathMinRatio, median(mapped(rs, result.cpuPerMillion)), median(mapped(rs, result.peakRSSMB)), pathMaxRSSMB)
			}
		})
		for _, disk := range []bool{false, true} {
			name := "telegraf-memory"
			if disk {
				name = "telegraf-disk"
			}
			b.Run(name, func(b *testing.B) {
				bin := telegrafBinary(b)
				n := *pathMsgs
				if disk && *pathDiskMsgs > 0 {
					n = *pathDiskMsgs
				}
				msgs := pathMessagesOf(n)
				var rs []result
				var ids []idCount
				for i := 0; i < b.N; i++ {
					r, c := measureTelegraf(b, bin, msgs, disk)
					rs, ids = append(rs, r), append(ids, c)
				}
				reportPath(b, rs, ids)
			})
		}
	}
}

// reportPath reports the medians of one contender's measurements.
func reportPath(b *testing.B, rs []result, ids []idCount) {
	b.Helper()
	b.ReportMetric(0, "ns/op") // one iteration is a whole run; its wall time says nothing
	rate := median(mapped(rs, result.rate))
	b.ReportMetric(rate, "msgs/s")
	b.ReportMetric(median(mapped(rs, result.cpuPerMillion)), "cpu-s/M")
	b.ReportMetric(median(mapped(rs, result.peakRSSMB)), "rss-MB")
	if ids != nil {
		var lost, doubled int
		for _, c := range ids {
			lost, doubled = max(lost, c.lost), max(doubled, c.doubled)
		}
		b.ReportMetric(float64(lost), "lost")
		b.ReportMetric(float64(doubled), "doubled")
		if round.bare > 0 {
			b.ReportMetric(rate/round.bare, "x-bare")
		}
	}
	for i, r := range rs {
		b.Logf("run %d: %d messages in %v: %.0f msgs/s, %.2f CPU s per million (broker %.2f, publisher and NATS server %.2f), peak RSS %.1f MB",
			i+1, r.n, r.elapsed.Round(time.Millisecond), r.rate(), r.cpuPerMillion(), r.perMillion(r.brokerCPU), r.perMillion(r.selfCPU), r.peakRSSMB())
	}
}

// telegrafBinary returns -telegraf, or the tool cache's Telegraf; without
// one, the Telegraf rows are skipped (and the results table says "not run").
func telegrafBinary(b *testing.B) string {
	b.Helper()
	if *telegrafBin != "" {
		return *telegrafBin
	}
	p := filepath.Join(testenv.Root(b), ".cache", "bin", telegrafTool)
	if _, err := os.Stat(p); err != nil {
		b.Skipf("%s not found: `make telegraf` builds it", p)
	}
	return p
}

// measureAgentCounted is measureAgent, then the stream's ids counted.
func measureAgentCounted(b *testing.B, bin string, msgs []message) (result, idCount) {
	b.Helper()
	var c idCount
	r := measureAgentThen(b, bin, msgs, func(st *stream) { c = countIDs(b, st, "n", len(msgs)) })
	return r, c
}

// measureTelegraf publishes msgs to a fresh broker once Telegraf forwards
// to a fresh stream, and waits until the stream holds as many messages;
// then, once no more arrive, it counts their ids.
func measureTelegraf(b *testing.B, bin string, msgs []message, disk bool) (result, idCount) {
	b.Helper()
	brk := startBroker(b)
	defer brk.Kill()
	st := startStream(b)
	defer st.close()
	dir := b.TempDir()
	conf := filepath.Join(dir, "telegraf.conf")
	if err := os.WriteFile(conf, []byte(telegrafConfig(brk.URL, st.ns.URL, dir, disk)), 0o600); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin, "--config", conf)
	cmd.Dir = dir
	tg := process{testenv.Start(b, "telegraf", cmd)}
	defer tg.Stop(stopTimeout)
	base := warmUp(b, brk.URL, st, tg)

	m := startMeasurement(b, brk, msgs, tg.Usage)
	want := base + uint64(len(msgs))
	var got uint64
	m.pub.until(b, func() bool { got = st.msgs(b); return got >= want }, func() string {
		return fmt.Sprintf("stream holds %d of %d messages after %s", got-base, len(msgs), deadlineFor(len(msgs)))
	}, func() string {
		if tg.Exited() {
			return fmt.Sprintf("telegraf exited after %d of %d messages were stored", got-base, len(msgs))
		}
		return ""
	})
	r, _ := m.finish()
	settle(b, st, time.Second)
	return r, countIDs(b, st, "value", len(msgs))
}

// settle waits until the stream's count has not changed for quiet (at most
// ten times quiet), so that late copies are counted.
func settle(b *testing.B, st *stream, quiet time.Duration) {
	b.Helper()
	last, since := st.msgs(b), time.Now()
	for deadline := time.Now().Add(10 * quiet); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if n := st.msgs(b); n != last {
			last, since = n, time.Now()
		} else if time.Since(since) >= quiet {
			return
		}
	}
}

// telegrafConfig is Telegraf's configuration: the MQTT consumer at QoS 1
// with a persistent session (messages acknowledged to the broker once the
// output wrote them), the JSON parser reading the same fields the agent
// reads, and the NATS output publishing each metric to the existing stream
// and waiting for the stream's acks (asynchronous publishing, its faster
// mode). Batches of 1,000 (Telegraf's default) are flushed when full or
// after a second.
func telegrafConfig(broker, natsURL, dir string, disk bool) string {
	strategy := "memory"
	if disk {
		strategy = "disk"
	}
	return fmt.Sprintf(`[agent]
  interval = "10s"
  round_interval = false
  metric_batch_size = 1000
  metric_buffer_limit = 10000
  flush_interval = "1s"
  flush_jitter = "0s"
  omit_hostname = true
  buffer_strategy = %q
  buffer_directory = %q

[[inputs.mqtt_consumer]]
  servers = [%q]
  topics = [%q]
  qos = 1
  persistent_session = true
  client_id = "telegraf-bench"
  max_undelivered_messages = 1000
  data_format = "json"
  json_time_key = "ts"
  json_time_format = "2006-01-02T15:04:05Z07:00"

[[outputs.nats]]
  servers = [%q]
  subject = "floorpulse.signals.telegraf"
  data_format = "json"
  json_timestamp_units = "1ms"
  [outputs.nats.jetstream]
    name = %q
    disable_stream_creation = true
    async_publish = true
`, strategy, filepath.Join(dir, "buffer"), broker, filter, natsURL, streamName)
}

// warmUp publishes a probe message (value -1) every 200 ms until one
// reached the stream, so that the measurement starts with the forwarder
// subscribed and connected; it returns how many messages the stream then
// holds.
func warmUp(b *testing.B, broker string, st *stream, p running) uint64 {
	b.Helper()
	probe := []message{{topic: "floorpulse/plant1/L0/M000/power", payload: []byte(`{"ts":"` +
		time.Now().UTC().Format("2006-01-02T15:04:05.000Z07:00") + `","value":-1}`)}}
	deadline := time.Now().Add(readyTimeout)
	for {
		if err := publish(broker, probe); err != nil {
			b.Fatalf("probe: %v", err)
		}
		wait := time.Now().Add(200 * time.Millisecond)
		for time.Now().Before(wait) {
			if n := st.msgs(b); n > 0 {
				settle(b, st, 300*time.Millisecond)
				return st.msgs(b)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if p.Exited() || time.Now().After(deadline) {
			b.Fatalf("nothing reached the stream %s after the first probe", readyTimeout)
		}
	}
}
