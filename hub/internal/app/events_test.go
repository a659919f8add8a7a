package app

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/floorpulse/floorpulse/hub/internal/anomaly"
	"github.com/floorpulse/floorpulse/hub/internal/config"
	"github.com/floorpulse/floorpulse/hub/internal/events"
	"github.com/floorpulse/floorpulse/hub/internal/events/payload"
	"github.com/floorpulse/floorpulse/hub/internal/partition"
	"github.com/floorpulse/floorpulse/pkg/testenv"
)

// A hub taking a partition over takes the partition's events from the
// events stream: the latest revision of each record of its sites, and none
// of other partitions.
func TestImportEventsOfAPartition(t *testing.T) {
	ns := testenv.StartNATS(t)
	nc, err := nats.Connect(ns.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "EV", Subjects: []string{"ev.>"}}); err != nil {
		t.Fatal(err)
	}
	const n = 4
	// Two sites in different partitions.
	a, b := "siteA", ""
	for i := 0; b == ""; i++ {
		if s := "site" + string(rune('B'+i)); partition.Of(s, n) != partition.Of(a, n) {
			b = s
		}
	}
	pub := func(site, id string, rev uint64, status string) {
		rec := anomaly.Record{Event: anomaly.Event{ID: id, Type: anomaly.UnplannedDowntime, Site: site, Line: "L1", Equipment: "M1",
			Start: time.Unix(1790000000, 0), Detected: time.Unix(1790000300, 0), Evidence: map[string]float64{}}, Status: status, Revision: rev}
		body, _ := json.Marshal(payload.CloudEvent{SpecVersion: "1.0", ID: id, EventID: id, Revision: rev, Data: rec})
		if _, err := js.Publish(ctx, "ev.unplanned_downtime."+site+".L1.M1", body); err != nil {
			t.Fatal(err)
		}
	}
	pub(a, "a1", 1, anomaly.Opened)
	pub(a, "a1", 2, anomaly.Acknowledged)
	pub(b, "b1", 1, anomaly.Opened)

	cfg, err := config.Decode("hub.yaml", []byte("site: siteA\nevents: {stream: {name: EV, subject_prefix: ev}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ev, err := events.Open(filepath.Join(t.TempDir(), "events.db"), events.Options{Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	defer ev.Close()
	if err := importEvents(ctx, js, cfg, partition.Of(a, n), n, ev, log); err != nil {
		t.Fatal(err)
	}
	got, err := ev.Get("a1")
	if err != nil || got.Revision != 2 || got.Status != anomaly.Acknowledged {
		t.Fatalf("a1: %+v %v", got, err)
	}
	if _, err := ev.Get("b1"); err == nil {
		t.Fatal("an event of another partition was taken over")
	}
}
