package payload

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/alert"
	"github.com/floorpulse/floorpulse/hub/internal/anomaly"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/<name>.golden, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs (run go test -update after checking the change)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// indented is v as JSON, indented for the reader of the golden file; the
// field names, their order and the values are the wire form's.
func indented(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		t.Fatal(err)
	}
	return append(out.Bytes(), '\n')
}

var (
	plant = time.FixedZone("CEST", 2*3600)
	t0    = time.Date(2026, 6, 1, 5, 0, 0, 0, time.UTC) // 07:00 in the plant
)

func at(d time.Duration) *time.Time { t := t0.Add(d); return &t }

// opened is a downtime detected at t0 that started 5 minutes before.
func opened() anomaly.Record {
	return anomaly.Record{Event: anomaly.Event{ID: "3f2a9c", Type: anomaly.UnplannedDowntime, Severity: anomaly.Critical,
		Site: "plant1", Line: "L1", Equipment: "M01", Start: t0.Add(-5 * time.Minute), Detected: t0, Shift: "early",
		ShiftStart: t0.Add(-time.Hour), Evidence: map[string]float64{"threshold_s": 300}, Reason: "stopped (down) in shift since 06:55"},
		Status: anomaly.Opened, Revision: 1, Updated: t0}
}

func acknowledged() anomaly.Record {
	r := opened()
	r.Status, r.Revision, r.AcknowledgedBy, r.AcknowledgedAt, r.Note = anomaly.Acknowledged, 2, "alice", at(3*time.Minute), "on my way"
	// As a caller might hold it: in the plant's zone, with a fraction of a second.
	r.Updated = t0.Add(3*time.Minute + 250*time.Millisecond).In(plant)
	return r
}

func resolvedByHand() anomaly.Record {
	r := acknowledged()
	r.Status, r.Revision, r.ResolvedBy, r.ResolvedAt, r.Note, r.Updated = anomaly.Resolved, 3, "bob", at(40*time.Minute), "belt replaced", *at(40 * time.Minute)
	return r
}

// resolvedByData ran again after midnight: its end is on another day.
func resolvedByData() anomaly.Record {
	r := opened()
	r.End = at(20 * time.Hour)
	r.Status, r.Revision, r.ResolvedAt, r.Updated = anomaly.Resolved, 2, r.End, *r.End
	r.Evidence = map[string]float64{"threshold_s": 300, "down_s": 72300}
	return r
}

func TestCloudEventGolden(t *testing.T) {
	odd := opened()
	odd.Site, odd.Line, odd.Equipment = "plant one", "L1/a", "M%01"
	tests := []struct {
		name   string
		rec    anomaly.Record
		change string
	}{
		{"cloudevent_opened", opened(), ChangeOpened},
		{"cloudevent_acknowledged", acknowledged(), ChangeAcknowledged},
		{"cloudevent_resolved_by_data", resolvedByData(), ChangeResolved},
		{"cloudevent_escaped_source", odd, ChangeUpdated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ce := NewCloudEvent(tc.rec, tc.change)
			if ce.ID != DedupeID(tc.rec.ID, tc.rec.Revision) {
				t.Fatalf("id %q is not the dedupe key", ce.ID)
			}
			golden(t, tc.name, indented(t, ce))
		})
	}
}

func TestWebhookGolden(t *testing.T) {
	rec := acknowledged()
	text := Text{Location: plant}
	n := alert.Notification{Kind: alert.KindEscalation, Channel: "mgmt", People: []string{"boss"}, Reason: alert.ReasonNotAcked,
		Shift: "early", Leaders: []string{"alice"}}
	tests := []struct {
		name string
		body Webhook
	}{
		{"webhook_change", Webhook{Type: TypePrefix + ChangeAcknowledged, Timestamp: rec.Updated.UTC().Format(time.RFC3339Nano), Data: rec}},
		{"webhook_alert", Webhook{Type: AlertTypePrefix + n.Kind, Timestamp: t0.Add(10 * time.Minute).Format(time.RFC3339Nano),
			Data: Alert{Kind: n.Kind, Reason: n.Reason, To: n.People, Shift: n.Shift, Leaders: n.Leaders,
				Text: text.Alert(opened(), n, t0.Add(10*time.Minute)), Record: opened()}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { golden(t, tc.name, indented(t, tc.body)) })
	}
}

// Chat bodies are golden byte for byte: robots are strict about their shape.
func TestChatGolden(t *testing.T) {
	text := `DOWNTIME L1/M01 (plant1) down since 06:55 CEST (5 min), shift early. @alice "quoted" & <b>`
	for _, format := range []string{"text", "dingtalk", "wecom"} {
		t.Run(format, func(t *testing.T) {
			if !IsChat(format) {
				t.Fatalf("%s is not a chat format", format)
			}
			b, err := Chat(format, text)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "chat_"+format, append(b, '\n'))
		})
	}
	for _, format := range []string{"json", "cloudevents", ""} {
		if IsChat(format) {
			t.Errorf("%q is taken for a chat format", format)
		}
	}
}

func TestDedupeID(t *testing.T) {
	tests := []struct {
		id   string
		rev  uint64
		want string
	}{
		{"3f2a9c", 1, "3f2a9c-1"},
		{"3f2a9c", 12, "3f2a9c-12"},
		{"a-b", 18446744073709551615, "a-b-18446744073709551615"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			if got := DedupeID(tc.id, tc.rev); got != tc.want {
				t.Fatalf("DedupeID = %q, want %q", got, tc.want)
			}
		})
	}
}
