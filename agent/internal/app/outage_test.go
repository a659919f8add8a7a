package app

import (
	"fmt"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/agent/internal/streamtest"
	"github.com/floorpulse/floorpulse/pkg/testenv"
)

// TestNATSOutageOfAMinute stops NATS for 60 s while MQTT messages keep
// arriving (200 a second), then starts it again: afterwards every message is
// in the stream once, in order per equipment, and the queue is empty.
func TestNATSOutageOfAMinute(t *testing.T) {
	if testing.Short() {
		t.Skip("takes over a minute")
	}
	t.Parallel()
	const (
		total  = 16000
		chunk  = 100
		every  = 500 * time.Millisecond // 200 messages a second: 80 s of traffic
		outage = 60 * time.Second
	)
	mosq := testenv.StartMosquitto(t)
	ns := testenv.StartNATS(t)
	streamtest.Create(t, ns.URL)
	a, _ := runAgent(t, agentYAML(t.TempDir(), "", mosq.URL, ns.URL, "buffer:\n  max_bytes: 64MiB\n"))
	waitFor(t, "agent ready", 10*time.Second, func() bool { return ready(a) })

	pub := publisher(t, mosq.URL, "outage-pub")
	pubErr := make(chan error, 1)
	go func() {
		tick := time.NewTicker(every)
		defer tick.Stop()
		for i := 0; i < total; i += chunk {
			if err := publish(pub, i, i+chunk); err != nil {
				pubErr <- fmt.Errorf("messages %d-%d: %w", i, i+chunk-1, err)
				return
			}
			<-tick.C
		}
		pubErr <- nil
	}()

	streamtest.WaitCount(t, ns.URL, 1000, 30*time.Second)
	ns.Shutdown()
	down := time.Now()
	waitFor(t, "the agent to notice the outage", 10*time.Second, func() bool { return metric(a, "floorpulse_agent_nats_connected") == 0 })
	records := metric(a, "floorpulse_agent_queue_records")
	waitFor(t, "signals to pile up in the queue", 10*time.Second, func() bool { return metric(a, "floorpulse_agent_queue_records") > records+1000 })
	// Hold the outage for its full length; the agent keeps committing meanwhile.
	waitFor(t, "the outage to last a minute", outage+5*time.Second, func() bool { return time.Since(down) >= outage })
	age := metric(a, "floorpulse_agent_queue_oldest_age_seconds")
	queued := metric(a, "floorpulse_agent_queue_records")
	if age < 50 || queued < 10000 || metric(a, "floorpulse_agent_publish_errors_total") == 0 {
		t.Fatalf("after the outage: oldest age %.1fs, %v queued, %v publish errors", age, queued, metric(a, "floorpulse_agent_publish_errors_total"))
	}
	t.Logf("NATS down for %s: %v records queued, oldest %.1fs old", time.Since(down).Round(time.Second), queued, age)

	ns.Restart(t)
	if err := <-pubErr; err != nil {
		t.Fatal(err)
	}
	streamtest.WaitCount(t, ns.URL, total, 60*time.Second)
	waitFor(t, "an empty queue", 20*time.Second, func() bool {
		return metric(a, "floorpulse_agent_queue_records") == 0 && metric(a, "floorpulse_agent_queue_oldest_age_seconds") == 0
	})
	checkStream(t, ns.URL, total)
	d := readStream(t, ns.URL)
	if kept := d.check(t, total); kept != total {
		t.Fatalf("%d of %d delivered", kept, total)
	}
	t.Logf("forwarded %v, of them %v duplicates dropped by JetStream", metric(a, "floorpulse_agent_forwarded_total"), metric(a, "floorpulse_agent_forwarded_duplicates_total"))
}

// TestAgentStartsAndBuffersWhileNATSUnreachable starts the agent while
// nothing listens at the NATS URL: it becomes ready, commits what arrives,
// and forwards it all once NATS is up.
func TestAgentStartsAndBuffersWhileNATSUnreachable(t *testing.T) {
	mosq := testenv.StartMosquitto(t)
	ns := testenv.StartNATS(t)
	streamtest.Create(t, ns.URL)
	ns.Shutdown()
	a, _ := runAgent(t, agentYAML(t.TempDir(), "", mosq.URL, ns.URL))
	waitFor(t, "agent ready", 10*time.Second, func() bool { return ready(a) })
	if err := publish(publisher(t, mosq.URL, "pub-unreachable"), 0, 2000); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "2000 records queued", 10*time.Second, func() bool { return metric(a, "floorpulse_agent_queue_records") == 2000 })
	if metric(a, "floorpulse_agent_nats_connected") != 0 || metric(a, "floorpulse_agent_forwarded_total") != 0 {
		t.Fatal("connected to a stopped server")
	}
	ns.Restart(t)
	streamtest.WaitCount(t, ns.URL, 2000, 30*time.Second)
	waitFor(t, "an empty queue", 10*time.Second, func() bool { return metric(a, "floorpulse_agent_queue_records") == 0 })
	checkStream(t, ns.URL, 2000)
}
