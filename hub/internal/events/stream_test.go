package events

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/floorpulse/floorpulse/hub/internal/anomaly"
	"github.com/floorpulse/floorpulse/hub/internal/events/delivery"
	"github.com/floorpulse/floorpulse/hub/internal/events/payload"
	"github.com/floorpulse/floorpulse/pkg/testenv"
)

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// A maintenance system's durable consumer sees every record change once per
// (id, revision), as a CloudEvent on the subject of its type and equipment,
// even when a hub dies after publishing and before clearing its outbox (the
// restart publishes the same messages again; the stream drops the copies).
func TestStreamExactlyOnceAcrossRestart(t *testing.T) {
	srv := testenv.StartNATS(t)
	nc, err := nats.Connect(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "events.db")
	o := baseOptions(nil)
	o.Alerts.Roster.People = nil
	o.JetStream = js
	o.Stream = delivery.StreamConfig{Name: "FLOORPULSE_EVENTS", SubjectPrefix: "floorpulse.events", DuplicateWindow: time.Hour, MaxAge: 24 * time.Hour}

	now := o.Clock()
	dt := downtime("M01", now)
	loss := downtime("M02", now)
	loss.Type, loss.ID = anomaly.SignalLoss, "loss-1"
	s := openStore(t, path, o)
	if _, err := s.Apply([]anomaly.Event{dt, loss}, now); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Ack(dt.ID, "alice", "", now); err != nil {
		t.Fatal(err)
	}
	s.Close()
	// The file as a hub killed after publishing would leave it: items still queued.
	copyFile(t, path, filepath.Join(dir, "snapshot.db"))

	s = openStore(t, path, o)
	stop := runStore(t, s)
	drained(t, s)
	stop()
	s.Close()

	copyFile(t, filepath.Join(dir, "snapshot.db"), path)
	s = openStore(t, path, o)
	if p := pending(t, s); p[delivery.StreamDest] != 3 {
		t.Fatalf("restored outbox %v, want 3 stream items", p)
	}
	if _, err := s.Apply([]anomaly.Event{ended(dt, now.Add(time.Hour))}, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	runStore(t, s)
	drained(t, s)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stream, err := js.Stream(ctx, "FLOORPULSE_EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	cons, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "cmms", AckPolicy: jetstream.AckExplicitPolicy,
		FilterSubject: "floorpulse.events.>"})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	var got []payload.CloudEvent
	for round := 0; ; round++ {
		// Up to the four expected, then one look for anything more.
		var batch jetstream.MessageBatch
		var err error
		if len(got) < 4 && round < 10 {
			batch, err = cons.Fetch(4-len(got), jetstream.FetchMaxWait(2*time.Second))
		} else {
			batch, err = cons.FetchNoWait(10)
		}
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			var ce payload.CloudEvent
			if err := json.Unmarshal(m.Data(), &ce); err != nil {
				t.Fatalf("not a CloudEvent: %v: %s", err, m.Data())
			}
			if m.Headers().Get("Nats-Msg-Id") != ce.ID {
				t.Fatalf("Nats-Msg-Id %q, CloudEvent id %q", m.Headers().Get("Nats-Msg-Id"), ce.ID)
			}
			if want := "floorpulse.events." + ce.Data.Type + ".plant1.L1." + ce.Data.Equipment; m.Subject() != want {
				t.Fatalf("subject %q, want %q", m.Subject(), want)
			}
			seen[ce.ID]++
			got = append(got, ce)
			if err := m.Ack(); err != nil {
				t.Fatal(err)
			}
		}
		if n == 0 && (len(got) >= 4 || round >= 10) {
			break
		}
	}
	want := map[string]int{dt.ID + "-1": 1, dt.ID + "-2": 1, dt.ID + "-3": 1, "loss-1-1": 1}
	if len(seen) != len(want) || len(got) != 4 {
		t.Fatalf("consumer saw %v (%d messages), want each of %v once", seen, len(got), want)
	}
	for id := range want {
		if seen[id] != 1 {
			t.Fatalf("consumer saw %v, want each of %v once", seen, want)
		}
	}
	for _, ce := range got {
		if ce.SpecVersion != "1.0" || ce.Source != "plant1/L1/"+ce.Data.Equipment || ce.Subject != ce.Data.ID || ce.DataContentType != "application/json" ||
			ce.EventID != ce.Data.ID || ce.Revision != ce.Data.Revision || ce.ID != ce.Data.ID+"-"+itoa(ce.Data.Revision) {
			t.Fatalf("bad CloudEvent %+v", ce)
		}
		if _, err := time.Parse(time.RFC3339Nano, ce.Time); err != nil {
			t.Fatalf("time %q: %v", ce.Time, err)
		}
	}
	types := map[string]string{}
	for _, ce := range got {
		types[ce.ID] = ce.Type
	}
	if types[dt.ID+"-1"] != "floorpulse.event.opened" || types[dt.ID+"-2"] != "floorpulse.event.acknowledged" || types[dt.ID+"-3"] != "floorpulse.event.resolved" {
		t.Fatalf("types %v", types)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 4 || info.Config.Duplicates != time.Hour {
		t.Fatalf("stream holds %d messages (want 4), duplicate window %s", info.State.Msgs, info.Config.Duplicates)
	}
}
