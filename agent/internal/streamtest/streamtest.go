// Package streamtest helps tests inspect the JetStream stream the agent
// forwards to: it creates the stream the hub would create and reads it back.
package streamtest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/floorpulse/floorpulse/pkg/signal"
)

// Stream is the stream name the hub creates.
const Stream = "FLOORPULSE_SIGNALS"

// Msg is one stored message.
type Msg struct {
	Subject string
	ID      string // Nats-Msg-Id
	Signal  signal.Signal
}

func connect(t testing.TB, url string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatalf("connecting to nats: %v", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		t.Fatal(err)
	}
	return nc, js
}

// Create creates the signals stream (subjects floorpulse.signals.>, two-minute
// duplicate window).
func Create(t testing.TB, url string) {
	t.Helper()
	nc, js := connect(t, url)
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name: Stream, Subjects: []string{signal.SubjectPrefix + ".>"}, Duplicates: 2 * time.Minute,
	})
	if err != nil {
		t.Fatalf("creating stream: %v", err)
	}
}

// Count returns the number of messages in the stream (0 if it does not exist).
func Count(t testing.TB, url string) uint64 {
	t.Helper()
	nc, js := connect(t, url)
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, Stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return 0
	}
	if err != nil {
		t.Fatalf("stream info: %v", err)
	}
	return s.CachedInfo().State.Msgs
}

// WaitCount polls until the stream holds at least n messages.
func WaitCount(t testing.TB, url string, n uint64, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		c := Count(t, url)
		if c >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("stream holds %d messages after %s, want %d", c, timeout, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Messages reads every message of the stream.
func Messages(t testing.TB, url string) []Msg {
	t.Helper()
	nc, js := connect(t, url)
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	total := Count(t, url)
	cons, err := js.OrderedConsumer(ctx, Stream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatalf("consumer: %v", err)
	}
	var out []Msg
	for uint64(len(out)) < total {
		batch, err := cons.Fetch(1000, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			t.Fatalf("fetch: %v", err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			s, err := signal.Unmarshal(m.Data())
			if err != nil {
				t.Fatalf("message on %s does not decode: %v", m.Subject(), err)
			}
			out = append(out, Msg{Subject: m.Subject(), ID: m.Headers().Get(jetstream.MsgIDHeader), Signal: s})
		}
		if n == 0 && ctx.Err() != nil {
			t.Fatalf("read %d of %d messages", len(out), total)
		}
	}
	return out
}
