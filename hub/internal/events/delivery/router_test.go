package delivery

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/anomaly"
	"github.com/floorpulse/floorpulse/hub/internal/events/payload"
)

func record(site, line, eq string) anomaly.Record {
	return anomaly.Record{Event: anomaly.Event{ID: "ev1", Type: anomaly.UnplannedDowntime, Severity: anomaly.Warning,
		Site: site, Line: line, Equipment: eq, Start: now.Add(-5 * time.Minute), Detected: now},
		Status: anomaly.Opened, Revision: 2, Updated: now}
}

func TestNewRouter(t *testing.T) {
	tests := []struct {
		name    string
		eps     []Endpoint
		wantErr string
	}{
		{"defaults", []Endpoint{{Name: "cmms"}}, ""},
		{"kept", []Endpoint{{Name: "cmms", Timeout: time.Second, MaxAttempts: 3, Secret: secret}}, ""},
		{"reserved name", []Endpoint{{Name: StreamDest}}, `"stream" is reserved`},
		{"bad secret", []Endpoint{{Name: "cmms", Secret: "hunter2"}}, "endpoint cmms: secret"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewRouter(StreamConfig{}, tc.eps, payload.Text{})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			e := r.Endpoints()[0]
			wantTimeout, wantAttempts := 10*time.Second, 20
			if tc.eps[0].Timeout != 0 {
				wantTimeout, wantAttempts = tc.eps[0].Timeout, tc.eps[0].MaxAttempts
			}
			if e.Timeout != wantTimeout || e.MaxAttempts != wantAttempts {
				t.Fatalf("timeout %s attempts %d, want %s %d", e.Timeout, e.MaxAttempts, wantTimeout, wantAttempts)
			}
			if got := r.Dests(); !slices.Equal(got, []string{StreamDest, "cmms"}) {
				t.Fatalf("Dests = %v", got)
			}
		})
	}
}

// Route sends a change to the stream when it is configured and to every
// endpoint that takes events and whose filter passes, in endpoint order.
func TestRouteChoosesDestinations(t *testing.T) {
	eps := []Endpoint{
		{Name: "all", Events: true},
		{Name: "alerts-only"}, // Events false: alerts only
		{Name: "downtime", Events: true, Types: []string{anomaly.UnplannedDowntime}},
		{Name: "gauges", Events: true, Types: []string{anomaly.GaugeAnomaly, anomaly.Flatline}},
		{Name: "line2", Events: true, Lines: []string{"L2"}},
		{Name: "warning", Events: true, MinSeverity: anomaly.Warning},
		{Name: "critical", Events: true, MinSeverity: anomaly.Critical},
		{Name: "both", Events: true, Types: []string{anomaly.UnplannedDowntime}, Lines: []string{"L1"}, MinSeverity: anomaly.Critical},
	}
	tests := []struct {
		name     string
		stream   string
		typ      string
		line     string
		severity string
		want     []string
	}{
		{"downtime warning on L1", "EV", anomaly.UnplannedDowntime, "L1", anomaly.Warning, []string{StreamDest, "all", "downtime", "warning"}},
		{"downtime critical on L1", "EV", anomaly.UnplannedDowntime, "L1", anomaly.Critical, []string{StreamDest, "all", "downtime", "warning", "critical", "both"}},
		{"gauge info on L2", "EV", anomaly.GaugeAnomaly, "L2", anomaly.Info, []string{StreamDest, "all", "gauges", "line2"}},
		{"no stream", "", anomaly.Flatline, "L3", anomaly.Critical, []string{"all", "gauges", "warning", "critical"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewRouter(StreamConfig{Name: tc.stream, SubjectPrefix: "ev"}, eps, payload.Text{Location: time.UTC})
			if err != nil {
				t.Fatal(err)
			}
			rec := record("plant1", tc.line, "M01")
			rec.Type, rec.Severity = tc.typ, tc.severity
			items, err := r.Route(rec, payload.ChangeUpdated)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, it := range items {
				got = append(got, it.Dest)
				if it.ID != "ev1-2" || it.RecordID != "ev1" || it.Revision != 2 || it.Kind != payload.ChangeUpdated {
					t.Errorf("%s: item %+v", it.Dest, it)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("routed to %v, want %v", got, tc.want)
			}
		})
	}
}

// Each destination gets the change in its format: the stream and
// cloudevents endpoints a CloudEvent, json endpoints the Standard Webhooks
// payload, chat endpoints the text.
func TestRouteRendersPerFormat(t *testing.T) {
	eps := []Endpoint{{Name: "json", Events: true}, {Name: "ce", Format: "cloudevents", Events: true},
		{Name: "chat", Format: "text", Events: true}, {Name: "ding", Format: "dingtalk", Events: true}}
	r, err := NewRouter(StreamConfig{Name: "EV", SubjectPrefix: "ev"}, eps, payload.Text{Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	rec := record("plant1", "L1", "M01")
	items, err := r.Route(rec, payload.ChangeOpened)
	if err != nil {
		t.Fatal(err)
	}
	text := payload.Text{Location: time.UTC}.Change(rec, payload.ChangeOpened)
	tests := []struct {
		dest, contentType, subject string
		check                      func(m map[string]any) bool
	}{
		{StreamDest, "application/cloudevents+json", "ev.unplanned_downtime.plant1.L1.M01",
			func(m map[string]any) bool { return m["id"] == "ev1-2" && m["type"] == "floorpulse.event.opened" }},
		{"json", "application/json", "",
			func(m map[string]any) bool {
				return m["type"] == "floorpulse.event.opened" && m["data"].(map[string]any)["id"] == "ev1"
			}},
		{"ce", "application/cloudevents+json", "",
			func(m map[string]any) bool { return m["id"] == "ev1-2" && m["specversion"] == "1.0" }},
		{"chat", "application/json", "",
			func(m map[string]any) bool { return m["text"] == text }},
		{"ding", "application/json", "",
			func(m map[string]any) bool {
				return m["msgtype"] == "text" && m["text"].(map[string]any)["content"] == text
			}},
	}
	if len(items) != len(tests) {
		t.Fatalf("%d items, want %d", len(items), len(tests))
	}
	for i, tc := range tests {
		t.Run(tc.dest, func(t *testing.T) {
			it := items[i]
			var m map[string]any
			if err := json.Unmarshal(it.Body, &m); err != nil {
				t.Fatal(err)
			}
			if it.Dest != tc.dest || it.ContentType != tc.contentType || it.Subject != tc.subject || !tc.check(m) {
				t.Fatalf("item %s %s %q: %s", it.Dest, it.ContentType, it.Subject, it.Body)
			}
		})
	}
}
