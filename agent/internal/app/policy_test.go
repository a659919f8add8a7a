package app

import (
	"fmt"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/agent/internal/streamtest"
	"github.com/floorpulse/floorpulse/pkg/signal"
	"github.com/floorpulse/floorpulse/pkg/testenv"
)

// delivered is what the stream holds for one test: per equipment the values
// of plain signals in stream order, and the gap markers.
type delivered struct {
	values  map[string][]int
	markers map[string][]signal.Signal
	order   map[string][]bool // per equipment, in stream order: true for a marker
	dropped uint64            // sum of the markers' Dropped
}

func readStream(t *testing.T, url string) delivered {
	t.Helper()
	d := delivered{values: map[string][]int{}, markers: map[string][]signal.Signal{}, order: map[string][]bool{}}
	seen := map[string]bool{}
	for _, m := range streamtest.Messages(t, url) {
		if seen[m.ID] {
			t.Fatalf("msg id %s stored twice", m.ID)
		}
		seen[m.ID] = true
		eq := m.Signal.Equipment
		d.order[eq] = append(d.order[eq], m.Signal.Gap != nil)
		if m.Signal.Gap != nil {
			d.markers[eq] = append(d.markers[eq], m.Signal)
			d.dropped += m.Signal.Gap.Dropped
			continue
		}
		d.values[eq] = append(d.values[eq], int(m.Signal.Value.Num))
	}
	return d
}

// check asserts that of messages [0, n) every one was delivered once, in
// order per equipment, or is covered by a gap marker of its equipment, and
// that no marker covers a delivered value.
func (d delivered) check(t *testing.T, n int) (kept int) {
	t.Helper()
	for eq, vals := range d.values {
		for i := 1; i < len(vals); i++ {
			if vals[i] <= vals[i-1] {
				t.Fatalf("%s: value %d after %d: out of order", eq, vals[i], vals[i-1])
			}
		}
		kept += len(vals)
	}
	covered := func(eq string, i int) bool {
		ts := base.Add(time.Duration(i) * time.Millisecond)
		for _, m := range d.markers[eq] {
			if !ts.Before(m.Gap.From) && !ts.After(m.Gap.To) {
				return true
			}
		}
		return false
	}
	got := map[int]bool{}
	for eq, vals := range d.values {
		for _, v := range vals {
			got[v] = true
			if covered(eq, v) {
				t.Fatalf("%s: value %d delivered and covered by a gap marker", eq, v)
			}
		}
	}
	for i := 0; i < n; i++ {
		eq := fmt.Sprintf("M%02d", i%10)
		if !got[i] && !covered(eq, i) {
			t.Fatalf("%s: value %d neither delivered nor covered by a gap marker", eq, i)
		}
	}
	if uint64(kept)+d.dropped != uint64(n) {
		t.Fatalf("%d delivered + %d in gap markers != %d published", kept, d.dropped, n)
	}
	return kept
}

// TestBufferFullPolicies fills a 1 MiB queue while NATS is down (the agent
// starts without it) with 12,000 MQTT messages, about 1.5 times what fits,
// under each policy, then brings NATS back and checks what reaches the stream
// and what the counters say.
func TestBufferFullPolicies(t *testing.T) {
	const n = 12000
	for _, policy := range []string{"drop_oldest", "drop_newest", "block"} {
		t.Run(policy, func(t *testing.T) {
			mosq := testenv.StartMosquitto(t)
			ns := testenv.StartNATS(t)
			streamtest.Create(t, ns.URL)
			ns.Shutdown()
			dataDir := t.TempDir()
			doc := agentYAML(dataDir, "", mosq.URL, ns.URL,
				fmt.Sprintf("buffer:\n  max_bytes: 1MiB\n  policy: %s\n  commit_max: 200\n", policy))
			a, stop := runAgent(t, doc)
			waitFor(t, "agent ready without NATS", 10*time.Second, func() bool { return ready(a) })

			if err := publish(publisher(t, mosq.URL, "pub-"+policy), 0, n); err != nil {
				t.Fatal(err)
			}
			dropName := `floorpulse_agent_queue_dropped_total{reason="` + policy + `"}`
			in := `floorpulse_agent_signals_in_total{kind="mqtt",source="` + mosq.URL + `"}`
			if policy == "block" {
				waitFor(t, "the committer to block", 20*time.Second, func() bool { return metric(a, "floorpulse_agent_queue_blocked") == 1 })
				stored := metric(a, "floorpulse_agent_queue_records")
				if stored >= n || metric(a, in) != stored || metric(a, "floorpulse_agent_queue_bytes") > 1<<20 {
					t.Fatalf("blocked with %v records, %v acknowledged, %v bytes", stored, metric(a, in), metric(a, "floorpulse_agent_queue_bytes"))
				}
				// What is held was not acknowledged: a restart gets it again from the broker.
				stop()
				a, _ = runAgent(t, doc)
				waitFor(t, "the restarted committer to block", 20*time.Second, func() bool { return metric(a, "floorpulse_agent_queue_blocked") == 1 })
			} else {
				waitFor(t, "every message handled", 20*time.Second, func() bool { return metric(a, in) == n })
				if b := metric(a, "floorpulse_agent_queue_bytes"); b > 1<<20 {
					t.Fatalf("queue holds %v bytes, bound 1MiB", b)
				}
			}
			dropped := metric(a, dropName)
			if metric(a, "floorpulse_agent_nats_connected") != 0 || metric(a, "floorpulse_agent_queue_records") == 0 {
				t.Fatal("the agent did not buffer while NATS was down")
			}

			ns.Restart(t)
			if policy == "block" {
				streamtest.WaitCount(t, ns.URL, n, 60*time.Second)
			}
			waitFor(t, "an empty queue", 60*time.Second, func() bool {
				return metric(a, "floorpulse_agent_queue_records") == 0 && metric(a, "floorpulse_agent_queue_blocked") == 0
			})
			d := readStream(t, ns.URL)
			kept := d.check(t, n)
			t.Logf("%s: %d delivered, %d dropped (counter %v), %d markers", policy, kept, d.dropped, dropped, countAll(d.markers))

			switch policy {
			case "block":
				if kept != n || d.dropped != 0 || dropped != 0 {
					t.Fatalf("block lost data: %d delivered, %d in markers, counter %v", kept, d.dropped, dropped)
				}
			case "drop_oldest", "drop_newest":
				if d.dropped == 0 || float64(d.dropped) != dropped {
					t.Fatalf("markers cover %d signals, %s counter says %v", d.dropped, policy, dropped)
				}
				for i := 0; i < 10; i++ {
					eq := fmt.Sprintf("M%02d", i)
					vals := d.values[eq]
					if len(d.markers[eq]) == 0 || len(vals) == 0 {
						t.Fatalf("%s: %d values, %d markers", eq, len(vals), len(d.markers[eq]))
					}
					last := n - 10 + i
					if policy == "drop_oldest" && vals[len(vals)-1] != last {
						t.Fatalf("%s: drop_oldest lost the newest value: last delivered %d, want %d", eq, vals[len(vals)-1], last)
					}
					if policy == "drop_newest" {
						if vals[0] != i {
							t.Fatalf("%s: drop_newest lost the oldest value: first delivered %d", eq, vals[0])
						}
						// One marker, after every kept value of the equipment.
						o := d.order[eq]
						if len(d.markers[eq]) != 1 || !o[len(o)-1] {
							t.Fatalf("%s: want one gap marker after the kept values, got %d (order %v)", eq, len(d.markers[eq]), o[len(o)-3:])
						}
					}
				}
			}
		})
	}
}

func countAll(m map[string][]signal.Signal) int {
	n := 0
	for _, v := range m {
		n += len(v)
	}
	return n
}
