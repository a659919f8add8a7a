package benchmark

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/floorpulse/floorpulse/pkg/signal"
)

// The physical references of the path: what nats.go and the NATS server do
// on this machine with nothing else of ours, into and out of the same file
// stream the forwarders write to (a fresh in-process server per run, as in
// BenchmarkPath). One operation is one message of BenchmarkPath's size.
//
//	go test -run '^$' -bench NATS -benchtime 100000x ./agent/internal/benchmark

// refSubject is a subject of the signal stream.
const refSubject = signal.SubjectPrefix + ".plant1.L1.M001.power"

// refWindow is how many asynchronous publications may await their ack.
const refWindow = 4000

// BenchmarkNATSPublish is a raw nats.go publish loop: asynchronous
// JetStream publications with a message id each, as many awaiting their
// ack as refWindow, until the stream acknowledged them all.
func BenchmarkNATSPublish(b *testing.B) {
	st := startStream(b)
	defer st.close()
	js, err := jetstream.New(st.nc, jetstream.WithPublishAsyncMaxPending(refWindow))
	if err != nil {
		b.Fatal(err)
	}
	msgs := pathMessagesOf(min(b.N, 1_000_000))
	b.ResetTimer()
	publishAll(b, js, msgs, b.N)
	b.StopTimer()
	if got := st.msgs(b); got != uint64(b.N) {
		b.Fatalf("stream holds %d messages, %d published", got, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// publishAll publishes n messages, cycling through msgs, and waits for
// every ack.
func publishAll(b *testing.B, js jetstream.JetStream, msgs []message, n int) {
	b.Helper()
	for i := range n {
		if _, err := js.PublishAsync(refSubject, msgs[i%len(msgs)].payload,
			jetstream.WithMsgID(strconv.Itoa(i)), jetstream.WithStallWait(30*time.Second)); err != nil {
			b.Fatalf("publishing message %d: %v", i, err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(time.Minute):
		b.Fatalf("%d publications not acknowledged after a minute", js.PublishAsyncPending())
	}
}

// BenchmarkNATSConsume is JetStream's delivery rate to a pull
// consumer: messages already in the stream fetched in batches of 1,000 by
// a durable consumer with explicit acks and each acknowledged, nothing else
// done with them.
func BenchmarkNATSConsume(b *testing.B) {
	st := startStream(b)
	defer st.close()
	js, err := jetstream.New(st.nc, jetstream.WithPublishAsyncMaxPending(refWindow))
	if err != nil {
		b.Fatal(err)
	}
	publishAll(b, js, pathMessagesOf(min(b.N, 1_000_000)), b.N)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cons, err := js.CreateConsumer(ctx, streamName, jetstream.ConsumerConfig{
		Durable: "bench", AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 10_000,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for got := 0; got < b.N; {
		batch, err := cons.Fetch(1000, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			b.Fatalf("fetching after %d of %d: %v", got, b.N, err)
		}
		n := 0
		for m := range batch.Messages() {
			if err := m.Ack(); err != nil {
				b.Fatalf("ack: %v", err)
			}
			n++
		}
		if err := batch.Error(); err != nil {
			b.Fatalf("fetching after %d of %d: %v", got, b.N, err)
		}
		if n == 0 {
			b.Fatalf("nothing delivered after %d of %d", got, b.N)
		}
		got += n
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
