package benchmark

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/floorpulse/floorpulse/pkg/testenv"
)

// broker is a mosquitto started for one measurement.
type broker struct {
	*testenv.Process
	URL string
}

// startBroker starts mosquitto on a free port with a configuration of its
// own: no persistence file (no periodic save competes for the CPU), queued
// messages not limited, and in-flight QoS 1 messages per subscriber limited
// by -inflight (default 0: not limited, so that only the subscriber's speed
// sets the rate).
func startBroker(b *testing.B) *broker {
	b.Helper()
	if *inflight < 0 {
		b.Fatalf("-inflight %d: want 0 (no limit) or more", *inflight)
	}
	dir := b.TempDir()
	port := testenv.FreePort(b)
	conf := filepath.Join(dir, "mosquitto.conf")
	body := fmt.Sprintf("user root\nlistener %d 127.0.0.1\nallow_anonymous true\npersistence false\n"+
		"max_queued_messages 0\nmax_queued_bytes 0\nmax_inflight_messages %d\nmax_inflight_bytes 0\n"+
		"log_dest stderr\nlog_type error\nlog_type warning\n", port, *inflight)
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		b.Fatal(err)
	}
	p := testenv.Start(b, "mosquitto", exec.Command(testenv.Binary(b, "mosquitto"), "-c", conf))
	testenv.WaitPort(b, fmt.Sprintf("127.0.0.1:%d", port), 10*time.Second)
	return &broker{Process: p, URL: fmt.Sprintf("tcp://127.0.0.1:%d", port)}
}

// message is one MQTT publication.
type message struct {
	topic   string
	payload []byte
}

// Topics: lines x machines x signals, as the simulator names them.
const lines, machines = 4, 10

// signalNames are signals whose value may be any number: the agent drops a
// run that is not 0 or 1 and an operator that is not a string.
var signalNames = [...]string{"state", "count", "power", "load", "temp"}

// newMessages returns n messages shaped like the simulator's:
// {"ts":"...","value":...} on floorpulse/<site>/<line>/<equipment>/<signal>,
// spread round-robin over 200 topics. Every message has its own timestamp,
// so every signal the agent makes of them has its own id: none is a
// duplicate for the stream.
func newMessages(n int) []message {
	base := time.Now().Add(-time.Hour).Truncate(time.Second).UTC()
	topics := make([]string, 0, lines*machines*len(signalNames))
	for l := range lines {
		for m := range machines {
			for _, s := range signalNames {
				topics = append(topics, fmt.Sprintf("floorpulse/plant1/L%d/M%02d/%s", l+1, m+1, s))
			}
		}
	}
	msgs := make([]message, n)
	for i := range msgs {
		ts := base.Add(time.Duration(i) * time.Millisecond).Format("2006-01-02T15:04:05.000Z07:00")
		msgs[i] = message{topic: topics[i%len(topics)], payload: fmt.Appendf(nil, `{"ts":%q,"value":%d}`, ts, i%10000)}
	}
	return msgs
}

// publishWindow is how many publications may await the broker's PUBACK.
const publishWindow = 1000

// paceEvery is how many messages are published between two checks of the
// pace set by -rate.
const paceEvery = 50

// publish sends msgs at QoS 1 as fast as the broker acknowledges them (or
// at -rate messages a second), keeping up to publishWindow unacknowledged.
func publish(url string, msgs []message) error {
	c := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID("bench-publisher").
		SetCleanSession(true).SetAutoReconnect(false).SetOrderMatters(false))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return fmt.Errorf("publisher connect: %v", tok.Error())
	}
	defer c.Disconnect(100)
	wait := func(tok paho.Token) error {
		if !tok.WaitTimeout(60 * time.Second) {
			return fmt.Errorf("no PUBACK within 60s")
		}
		return tok.Error()
	}
	var window [publishWindow]paho.Token // a ring: slot i%publishWindow holds message i
	start := time.Now()
	for i, m := range msgs {
		if *rate > 0 && i%paceEvery == 0 {
			// Offer the messages at -rate: message i is due i/rate after the start.
			if wait := time.Until(start.Add(time.Duration(float64(i) / float64(*rate) * float64(time.Second)))); wait > 0 {
				time.Sleep(wait)
			}
		}
		slot := &window[i%publishWindow]
		if *slot != nil {
			if err := wait(*slot); err != nil {
				return fmt.Errorf("publishing message %d: %w", i-publishWindow, err)
			}
		}
		*slot = c.Publish(m.topic, 1, false, m.payload)
	}
	for _, tok := range window {
		if tok == nil {
			continue
		}
		if err := wait(tok); err != nil {
			return err
		}
	}
	return nil
}

// subscriber is a bare paho subscriber inside the benchmark process
// (-bareinprocess): QoS 1, acknowledged by paho as soon as the handler
// returns, nothing done with the message but counting it. baresub is the
// same as a process of its own.
type subscriber struct {
	c        paho.Client
	received atomic.Int64
	all      chan struct{}
}

func subscribe(url, filter string, n int64) (*subscriber, error) {
	s := &subscriber{all: make(chan struct{})}
	s.c = paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID("bench-bare").
		SetCleanSession(true).SetAutoReconnect(false).SetOrderMatters(true))
	if tok := s.c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return nil, fmt.Errorf("subscriber connect: %v", tok.Error())
	}
	tok := s.c.Subscribe(filter, 1, func(paho.Client, paho.Message) {
		if s.received.Add(1) == n {
			close(s.all)
		}
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		s.c.Disconnect(0)
		return nil, fmt.Errorf("subscribing to %s: %v", filter, tok.Error())
	}
	return s, nil
}

func (s *subscriber) close() { s.c.Disconnect(100) }

func (s *subscriber) done() bool {
	select {
	case <-s.all:
		return true
	default:
		return false
	}
}

func (s *subscriber) Usage() (Usage, error) { return Usage{}, nil }
