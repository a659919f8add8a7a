package benchmark

import (
	"bytes"
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/floorpulse/floorpulse/agent/internal/streamtest"
)

// streamName is the stream every forwarder writes to.
const streamName = streamtest.Stream

// idCount is what a stream holds of messages 0..n-1, by the id each carries.
type idCount struct {
	distinct, lost, doubled int
}

// countIDs reads the whole stream and counts the ids of messages 0..n-1,
// each the number after "key": in a stored message (the agent's signals
// carry it as "n", Telegraf's metrics as "value"). Probes (negative ids) are
// left out; a message without an id, or with one out of range, fails b.
func countIDs(b *testing.B, st *stream, key string, n int) idCount {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	total := st.msgs(b)
	cons, err := st.js.OrderedConsumer(ctx, streamName, jetstream.OrderedConsumerConfig{})
	if err != nil {
		b.Fatalf("ordered consumer: %v", err)
	}
	seen := make([]bool, n)
	var c idCount
	var read, copies uint64
	for read < total {
		batch, err := cons.Fetch(1000, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			b.Fatalf("fetching from the stream after %d of %d messages: %v", read, total, err)
		}
		got := 0
		for m := range batch.Messages() {
			got++
			read++
			id, ok := idOf(m.Data(), key)
			if !ok {
				b.Fatalf("stream message %d holds no %q: %.200s", read, key, m.Data())
			}
			if id < 0 {
				continue
			}
			if id >= int64(n) {
				b.Fatalf("stream message %d holds id %d, want below %d", read, id, n)
			}
			copies++
			if !seen[id] {
				seen[id] = true
				c.distinct++
			}
		}
		if err := batch.Error(); err != nil {
			b.Fatalf("fetching from the stream after %d of %d messages: %v", read, total, err)
		}
		if got == 0 {
			b.Fatalf("the stream delivered %d of its %d messages", read, total)
		}
	}
	c.lost = n - c.distinct
	c.doubled = int(copies) - c.distinct
	return c
}

// idOf returns the integer after the first "key": in data.
func idOf(data []byte, key string) (int64, bool) {
	k := []byte(`"` + key + `":`)
	i := bytes.Index(data, k)
	if i < 0 {
		return 0, false
	}
	rest := data[i+len(k):]
	end := 0
	for end < len(rest) && (rest[end] == '-' || rest[end] >= '0' && rest[end] <= '9') {
		end++
	}
	id, err := strconv.ParseInt(string(rest[:end]), 10, 64)
	return id, err == nil
}
