package mqtt

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/floorpulse/floorpulse/agent/internal/buffer"
	"github.com/floorpulse/floorpulse/agent/internal/config"
	"github.com/floorpulse/floorpulse/agent/internal/metrics"
	"github.com/floorpulse/floorpulse/pkg/signal"
	"github.com/floorpulse/floorpulse/pkg/testenv"
)

// Integration tests: a real mosquitto, the real queue and group committer.

type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }
func (l *logBuf) String() string              { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// rig is a queue with its committer, fed by sources started on it.
type rig struct {
	t    *testing.T
	q    *buffer.Queue
	b    *buffer.Batcher
	logs *logBuf
	log  *slog.Logger
}

func newRig(t *testing.T) *rig {
	t.Helper()
	q, err := buffer.Open(filepath.Join(t.TempDir(), "queue.db"), 0)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, q: q, logs: &logBuf{}}
	r.log = slog.New(slog.NewTextHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r.b = buffer.NewBatcher(q, 100, 5*time.Millisecond, r.log)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = r.b.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
		q.Close()
		if t.Failed() {
			t.Logf("--- agent log ---\n%s", r.logs.String())
		}
	})
	return r
}

// validMQTT fills defaults and validates a broker section, as Load does.
func validMQTT(t testing.TB, m config.MQTT) config.MQTT {
	t.Helper()
	c := config.Config{AgentID: "a1", Site: "plant1", DataDir: "x", LogLevel: "info", MQTT: []config.MQTT{m}}
	c.NATS = config.NATS{URL: "nats://h:1", SubjectPrefix: "p", Batch: 1, AckTimeout: time.Second}
	c.Buffer = config.Buffer{MaxBytes: 1 << 30, Policy: "drop_oldest", CommitMax: 1}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return c.MQTT[0]
}

// start runs a source until the returned stop is called (or the test ends).
func (r *rig) start(m config.MQTT) (stat *metrics.Source, stop func()) {
	r.t.Helper()
	stat = &metrics.Source{Kind: "mqtt", Name: m.Broker}
	src := New(validMQTT(r.t, m), "a1", "plant1", r.b, stat, r.log.With("source", m.ClientID))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				r.t.Errorf("Run: %v", err)
			}
		})
	}
	r.t.Cleanup(stop)
	return stat, stop
}

// signals returns what the queue holds, in order.
func (r *rig) signals() []signal.Signal {
	r.t.Helper()
	recs, err := r.q.Peek(100000)
	if err != nil {
		r.t.Fatal(err)
	}
	out := make([]signal.Signal, 0, len(recs))
	for _, rec := range recs {
		s, err := signal.Unmarshal(rec.Data)
		if err != nil {
			r.t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func (r *rig) waitSignals(n int) []signal.Signal {
	r.t.Helper()
	waitFor(r.t, fmt.Sprintf("%d signals in the queue", n), 20*time.Second, func() bool { return r.q.Len() >= uint64(n) })
	got := r.signals()
	if len(got) != n {
		r.t.Fatalf("queue holds %d signals, want %d", len(got), n)
	}
	return got
}

func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func ready(stat *metrics.Source) func() bool {
	return func() bool { return stat.Connected.Load() && stat.Subscribed.Load() }
}

func publisher(t testing.TB, broker string, tc *tls.Config) paho.Client {
	t.Helper()
	opts := paho.NewClientOptions().AddBroker(broker).SetClientID(fmt.Sprintf("pub-%d", time.Now().UnixNano())).
		SetCleanSession(true).SetAutoReconnect(false)
	if tc != nil {
		opts.SetTLSConfig(tc)
	}
	c := paho.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publisher connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

func publish(t testing.TB, c paho.Client, topic string, qos byte, payload []byte) {
	t.Helper()
	if tok := c.Publish(topic, qos, false, payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publishing to %s: %v", topic, tok.Error())
	}
}

func jsonAt(i int) []byte {
	return []byte(fmt.Sprintf(`{"value":%d,"ts":%q}`, i, rx.Add(time.Duration(i)*time.Millisecond).Format(time.RFC3339Nano)))
}

func jsonBroker(url, clientID string, qos int) config.MQTT {
	return config.MQTT{
		Broker: url, ClientID: clientID, QoS: &qos, MaxReconnectInterval: 200 * time.Millisecond,
		Subscriptions: []config.Subscription{{Topic: "fp/+/+/+", Template: "fp/{line}/{equipment}/{signal}", Time: "ts"}},
	}
}

// checkCounts asserts the queue holds values 0..n-1 of fp/L1/M01/count, once each, in order.
func checkCounts(t *testing.T, got []signal.Signal, n int) {
	t.Helper()
	if len(got) != n {
		t.Fatalf("%d signals, want %d", len(got), n)
	}
	for i, s := range got {
		if s.Value != signal.Number(float64(i)) || s.Equipment != "M01" || s.Name != "count" || s.Received ||
			!s.Time.Equal(rx.Add(time.Duration(i)*time.Millisecond)) || s.Agent != "a1" {
			t.Fatalf("signal %d: %+v", i, s)
		}
	}
}

func TestQoSLevelsIntoQueue(t *testing.T) {
	mosq := testenv.StartMosquitto(t)
	for _, qos := range []int{0, 1, 2} {
		t.Run(fmt.Sprintf("qos%d", qos), func(t *testing.T) {
			r := newRig(t)
			stat, _ := r.start(jsonBroker(mosq.URL, fmt.Sprintf("agent-qos%d", qos), qos))
			waitFor(t, "source ready", 10*time.Second, ready(stat))
			pub := publisher(t, mosq.URL, nil)
			for i := 0; i < 50; i++ {
				publish(t, pub, "fp/L1/M01/count", byte(qos), jsonAt(i))
			}
			checkCounts(t, r.waitSignals(50), 50)
			waitFor(t, "signals counted", 5*time.Second, func() bool { return stat.SignalsIn.Load() == 50 })
		})
	}
}

// TestPersistentSessionKeepsMessagesWhileDown: with the default persistent
// session, QoS 1 and 2 messages published while the source is stopped are
// delivered when it comes back.
func TestPersistentSessionKeepsMessagesWhileDown(t *testing.T) {
	mosq := testenv.StartMosquitto(t)
	for _, qos := range []int{1, 2} {
		t.Run(fmt.Sprintf("qos%d", qos), func(t *testing.T) {
			r := newRig(t)
			m := jsonBroker(mosq.URL, fmt.Sprintf("agent-persist%d", qos), qos)
			stat, stop := r.start(m)
			waitFor(t, "source ready", 10*time.Second, ready(stat))
			stop()
			pub := publisher(t, mosq.URL, nil)
			for i := 0; i < 30; i++ {
				publish(t, pub, "fp/L1/M01/count", byte(qos), jsonAt(i))
			}
			_, stop = r.start(m)
			checkCounts(t, r.waitSignals(30), 30)
			// Each was acknowledged after its commit: another restart
			// brings only what is new, no copy of the 30.
			stop()
			publish(t, pub, "fp/L1/M01/count", byte(qos), jsonAt(30))
			r.start(m)
			checkCounts(t, r.waitSignals(31), 31)
		})
	}
}

func TestResubscribesAfterBrokerRestart(t *testing.T) {
	mosq := testenv.StartMosquitto(t)
	r := newRig(t)
	stat, _ := r.start(jsonBroker(mosq.URL, "agent-restart", 1))
	waitFor(t, "source ready", 10*time.Second, ready(stat))
	publish(t, publisher(t, mosq.URL, nil), "fp/L1/M01/count", 1, jsonAt(0))
	r.waitSignals(1)

	mosq.Restart()
	waitFor(t, "the loss noticed", 10*time.Second, func() bool { return !stat.Connected.Load() })
	waitFor(t, "source ready again", 15*time.Second, ready(stat))
	pub := publisher(t, mosq.URL, nil)
	for i := 1; i < 10; i++ {
		publish(t, pub, "fp/L1/M01/count", 1, jsonAt(i))
	}
	checkCounts(t, r.waitSignals(10), 10)
}

// TestBadMessagesCountedAndAcknowledged: undecodable, implausibly timed and
// oversized messages are counted, logged at a limited rate, acknowledged
// (never redelivered) and do not hold up the messages after them.
func TestBadMessagesCountedAndAcknowledged(t *testing.T) {
	mosq := testenv.StartMosquitto(t)
	r := newRig(t)
	m := jsonBroker(mosq.URL, "agent-bad", 1)
	stat, stop := r.start(m)
	waitFor(t, "source ready", 10*time.Second, ready(stat))
	pub := publisher(t, mosq.URL, nil)
	bad := [][]byte{
		[]byte("garbage"),
		[]byte(`{"value":1,"ts":"1970-01-01T00:00:00Z"}`),
		[]byte(`{"value":1,"ts":"` + time.Now().Add(72*time.Hour).UTC().Format(time.RFC3339) + `"}`),
		[]byte(`{"value":"` + strings.Repeat("x", 70<<10) + `"}`),
		{0x12, 0xff},
	}
	for _, b := range bad {
		publish(t, pub, "fp/L1/M01/count", 1, b)
	}
	publish(t, pub, "fp/L1/M01/count", 1, jsonAt(0))
	checkCounts(t, r.waitSignals(1), 1)
	if n := stat.DecodeErrors.Load(); n != uint64(len(bad)) {
		t.Fatalf("decode errors %d, want %d", n, len(bad))
	}
	for reason, want := range map[metrics.DecodeReason]uint64{metrics.BadPayload: 2, metrics.BadTimestamp: 2, metrics.TooLarge: 1} {
		if n := stat.DecodeErrors.Of(reason); n != want {
			t.Errorf("%s: %d, want %d", reason, n, want)
		}
	}
	// Rate-limited per reason: not one line per bad message (a slow
	// machine may cross one limiter interval, so allow a second line).
	for _, reason := range []string{"bad_payload", "bad_timestamp", "too_large"} {
		if n := strings.Count(r.logs.String(), `msg="dropping an undecodable mqtt message" source=agent-bad reason=`+reason); n < 1 || n > 2 {
			t.Fatalf("logged %d times for reason %s, want 1 (rate limit)", n, reason)
		}
	}
	// Acknowledged: after a restart of the source, the next message is the
	// first one delivered, with no bad one before it.
	stop()
	publish(t, pub, "fp/L1/M01/count", 1, jsonAt(1))
	stat, _ = r.start(m)
	checkCounts(t, r.waitSignals(2), 2)
	if n := stat.DecodeErrors.Load(); n != 0 {
		t.Fatalf("%d bad messages redelivered", n)
	}
}

func tlsBroker(url string, tc *config.TLS) config.MQTT {
	m := jsonBroker(url, "agent-tls", 1)
	m.TLS = tc
	return m
}

func TestTLSWithClientCertificate(t *testing.T) {
	certs := testenv.GenerateCerts(t)
	mosq := testenv.StartMosquittoTLS(t, certs, true)
	r := newRig(t)
	stat, _ := r.start(tlsBroker(mosq.URL, &config.TLS{CA: certs.CA, Cert: certs.ClientCert, Key: certs.ClientKey}))
	waitFor(t, "source ready over TLS", 10*time.Second, ready(stat))

	pubTLS, err := (&config.TLS{CA: certs.CA, Cert: certs.ClientCert, Key: certs.ClientKey}).Config()
	if err != nil {
		t.Fatal(err)
	}
	pub := publisher(t, mosq.URL, pubTLS)
	for i := 0; i < 5; i++ {
		publish(t, pub, "fp/L1/M01/count", 1, jsonAt(i))
	}
	checkCounts(t, r.waitSignals(5), 5)

	// The broker requires a certificate: without one the source is refused,
	// and says so.
	r2 := newRig(t)
	m := tlsBroker(mosq.URL, &config.TLS{CA: certs.CA})
	m.ClientID = "agent-tls-nocert"
	stat2, _ := r2.start(m)
	waitFor(t, "the refusal logged", 10*time.Second, func() bool {
		return strings.Contains(r2.logs.String(), "connecting to mqtt broker failed")
	})
	if stat2.Connected.Load() {
		t.Fatal("connected without a client certificate")
	}
}

func TestTLSWrongCAFailsClearly(t *testing.T) {
	certs := testenv.GenerateCerts(t)
	other := testenv.GenerateCerts(t)
	mosq := testenv.StartMosquittoTLS(t, certs, false)
	r := newRig(t)
	stat, _ := r.start(tlsBroker(mosq.URL, &config.TLS{CA: other.CA}))
	waitFor(t, "the certificate error logged twice (retried)", 10*time.Second, func() bool {
		return strings.Count(r.logs.String(), "certificate signed by unknown authority") >= 2
	})
	line := r.logs.String()
	line = line[:strings.Index(line, "certificate signed by unknown authority")]
	line = line[strings.LastIndex(line, "\n")+1:]
	if !strings.Contains(line, "level=ERROR") || !strings.Contains(line, `msg="connecting to mqtt broker failed, retrying"`) {
		t.Fatalf("the error is not logged clearly: %s", line)
	}
	if stat.Connected.Load() {
		t.Fatal("connected with the wrong CA")
	}
	// The right CA connects to the same broker.
	r2 := newRig(t)
	m := tlsBroker(mosq.URL, &config.TLS{CA: certs.CA})
	m.ClientID = "agent-tls-right"
	stat2, _ := r2.start(m)
	waitFor(t, "source ready with the right CA", 10*time.Second, ready(stat2))
}

// TestConnectionTakenOverMidFlight: while QoS 1 and 2 messages flow, another
// connection with the agent's client id takes the session over three times
// (the broker closes the agent's connection, as it does for a duplicate
// client id, and leaves what was in flight unacknowledged). The source
// reconnects with the same paho client and nothing is lost; a message
// committed before the takeover and sent again by the broker comes back
// with the same signal id (JetStream drops that copy).
func TestConnectionTakenOverMidFlight(t *testing.T) {
	mosq := testenv.StartMosquitto(t)
	for _, qos := range []int{1, 2} {
		t.Run(fmt.Sprintf("qos%d", qos), func(t *testing.T) {
			r := newRig(t)
			m := jsonBroker(mosq.URL, fmt.Sprintf("agent-takeover%d", qos), qos)
			stat, _ := r.start(m)
			waitFor(t, "source ready", 10*time.Second, ready(stat))

			const n = 3000
			pub := publisher(t, mosq.URL, nil)
			published := make(chan error, 1)
			go func() {
				// At most 20 unacknowledged publications (mosquitto's
				// default limit, which it enforces on QoS 2 publishers).
				var window [20]paho.Token
				for i := 0; i < n+len(window); i++ {
					if tok := window[i%len(window)]; tok != nil {
						if !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
							published <- fmt.Errorf("publish: %v", tok.Error())
							return
						}
					}
					if i < n {
						window[i%len(window)] = pub.Publish("fp/L1/M01/count", byte(qos), false, jsonAt(i))
					}
				}
				published <- nil
			}()
			for k := 0; k < 3; k++ {
				waitFor(t, "messages arriving", 20*time.Second, func() bool { return r.q.Len() > uint64(k*n/4) })
				connects := stat.Connects.Load()
				takeOver(t, mosq.Port, m.ClientID)
				waitFor(t, "a new connection after the takeover", 10*time.Second, func() bool { return stat.Connects.Load() > connects })
			}
			if err := <-published; err != nil {
				t.Fatal(err)
			}
			ids := map[float64]string{}
			waitFor(t, fmt.Sprintf("all %d values in the queue", n), 30*time.Second, func() bool {
				for _, s := range r.signals() {
					v := s.Value.Num
					if id, seen := ids[v]; seen && id != s.ID() {
						t.Fatalf("value %v queued twice with different ids", v)
					}
					ids[v] = s.ID()
				}
				return len(ids) == n
			})
			t.Logf("%d messages committed again after 3 takeovers", r.q.Len()-n)
		})
	}
}

// takeOver connects with clientID to the broker on port, keeping the
// session (clean session 0), and closes the connection right after the
// broker accepted it: the broker closes the connection that held the
// client id, and what it had in flight stays unacknowledged.
func takeOver(t *testing.T, port int, clientID string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	body := append([]byte{0, 4, 'M', 'Q', 'T', 'T', 4, 0, 0, 60, 0, byte(len(clientID))}, clientID...)
	if _, err := c.Write(append([]byte{0x10, byte(len(body))}, body...)); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	ack := make([]byte, 4)
	if _, err := io.ReadFull(c, ack); err != nil || ack[0] != 0x20 || ack[3] != 0 {
		t.Fatalf("CONNACK %x: %v", ack, err)
	}
}

// While the broker is down the source retries with back-off and jitter: a
// few attempts a second, not a flood.
func TestReconnectBacksOffWhileBrokerDown(t *testing.T) {
	mosq := testenv.StartMosquitto(t)
	r := newRig(t)
	m := jsonBroker(mosq.URL, "agent-backoff", 1)
	m.MaxReconnectInterval = 800 * time.Millisecond
	stat, _ := r.start(m)
	waitFor(t, "source ready", 10*time.Second, ready(stat))
	mosq.Kill()
	waitFor(t, "the loss noticed", 10*time.Second, func() bool { return !stat.Connected.Load() })
	attempts := testenv.CountConnections(t, mosq.Port, 3*time.Second)
	t.Logf("%d connection attempts in 3s while the broker was down", attempts)
	// Back-off 0.5 s, then 0.8 s, each drawn from its upper half: about 4 to
	// 9 in 3 s.
	if attempts < 2 || attempts > 12 {
		t.Errorf("%d connection attempts in 3s against a broker that is down, want 2..12", attempts)
	}
}
