package notify

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/alert"
	"github.com/floorpulse/floorpulse/hub/internal/anomaly"
	"github.com/floorpulse/floorpulse/hub/internal/calendar"
	"github.com/floorpulse/floorpulse/hub/internal/events/payload"
)

var now = time.Date(2026, 6, 1, 5, 0, 0, 0, time.UTC)

// alerts reach alice and bob through the "leaders" json endpoint, carol
// through the "floor" chat robot, and dave through "pager", which is no
// webhook endpoint; the boss hears escalations on "mgmt" (dingtalk).
func alerts(log *bytes.Buffer) *Alerts {
	people := map[string]alert.Person{"alice": {Channel: "leaders", Mention: "@alice"}, "bob": {Channel: "leaders"},
		"carol": {Channel: "floor"}, "dave": {Channel: "pager"}, "boss": {Channel: "mgmt"}}
	return &Alerts{
		Policy: alert.Policy{
			Roster: alert.Roster{
				People:     people,
				Lines:      map[string]map[string][]string{"L1": {alert.AnyShift: {"bob", "alice", "carol", "dave"}}},
				Management: []string{"boss"},
			},
			MaxAge: 15 * time.Minute, EscalateAfter: 10 * time.Minute, RepeatInterval: 30 * time.Minute,
		},
		Calendar: func(site, line string) *calendar.Calendar { return nil },
		Formats:  map[string]string{"leaders": "json", "floor": "text", "mgmt": "dingtalk"},
		Text:     payload.Text{Location: time.UTC, People: people},
		Log:      slog.New(slog.NewTextHandler(log, nil)),
	}
}

func downtime(line string) anomaly.Record {
	return anomaly.Record{Event: anomaly.Event{ID: "ev1", Type: anomaly.UnplannedDowntime, Severity: anomaly.Warning, Site: "plant1",
		Line: line, Equipment: "M01", Start: now.Add(-5 * time.Minute), Detected: now}, Status: anomaly.Opened, Revision: 1, Updated: now}
}

func TestStep(t *testing.T) {
	active := alert.State{Phase: alert.PhaseActive, Leaders: []string{"alice", "bob", "carol", "dave"},
		EscalateAt: now.Add(10 * time.Minute), RepeatAt: now.Add(30 * time.Minute)}
	tests := []struct {
		name      string
		st        alert.State
		rec       func() anomaly.Record
		at        time.Time
		wantPhase string
		want      []string // "<dest> <id> <kind>"
		wantLog   []string
	}{
		{"first alert, one item per endpoint", alert.State{}, func() anomaly.Record { return downtime("L1") }, now, alert.PhaseActive,
			[]string{"floor ev1-alert-opened alert.opened", "leaders ev1-alert-opened alert.opened"},
			[]string{"level=ERROR", "channel=pager", "people=[dave]"}},
		{"repeat numbered", active, func() anomaly.Record { return downtime("L1") }, now.Add(30 * time.Minute), alert.PhaseActive,
			[]string{"mgmt ev1-alert-escalation alert.escalation", "floor ev1-alert-repeat-1 alert.repeat", "leaders ev1-alert-repeat-1 alert.repeat",
				"mgmt ev1-alert-repeat-1 alert.repeat"},
			[]string{"channel=pager"}},
		{"resolved", active, func() anomaly.Record {
			r := downtime("L1")
			end := now.Add(7 * time.Minute)
			r.Status, r.End, r.Revision = anomaly.Resolved, &end, 2
			return r
		}, now.Add(7 * time.Minute), alert.PhaseDone,
			[]string{"floor ev1-alert-resolved alert.resolved", "leaders ev1-alert-resolved alert.resolved"}, []string{"channel=pager"}},
		{"no leaders: escalated at once", alert.State{}, func() anomaly.Record { return downtime("L9") }, now, alert.PhaseActive,
			[]string{"mgmt ev1-alert-escalation alert.escalation"}, []string{"level=WARN", "no shift leader on duty", "to=[boss]"}},
		{"too old: not alerted, said so", alert.State{}, func() anomaly.Record { return downtime("L1") }, now.Add(time.Hour), alert.PhaseSkipped,
			nil, []string{"level=INFO", "downtime not alerted", "why=" + alert.SkipStale}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var log bytes.Buffer
			rec := tc.rec()
			next, items, err := alerts(&log).Step(tc.st, rec, tc.at)
			if err != nil {
				t.Fatal(err)
			}
			if next.Phase != tc.wantPhase {
				t.Fatalf("phase %q, want %q", next.Phase, tc.wantPhase)
			}
			var got []string
			for _, it := range items {
				got = append(got, it.Dest+" "+it.ID+" "+it.Kind)
				if it.RecordID != rec.ID || it.Revision != rec.Revision || it.ContentType != "application/json" {
					t.Errorf("item %+v", it)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("items %q, want %q", got, tc.want)
			}
			for _, w := range tc.wantLog {
				if !strings.Contains(log.String(), w) {
					t.Errorf("log %q lacks %q", log.String(), w)
				}
			}
			if len(tc.wantLog) == 0 && log.Len() > 0 {
				t.Errorf("unexpected log %q", log.String())
			}
		})
	}
}

// Each endpoint gets the notification in its format: json endpoints the
// Standard Webhooks payload with the alert and its record, chat robots the text.
func TestStepRendersPerFormat(t *testing.T) {
	var log bytes.Buffer
	a := alerts(&log)
	rec := downtime("L1")
	_, items, err := a.Step(alert.State{}, rec, now)
	if err != nil || len(items) != 2 {
		t.Fatalf("items %+v, %v", items, err)
	}
	text := a.Text.Alert(rec, alert.Notification{Kind: alert.KindOpened, Channel: "floor", People: []string{"carol"}}, now)
	var chat map[string]string
	if err := json.Unmarshal(items[0].Body, &chat); err != nil || chat["text"] != text {
		t.Fatalf("chat body %s, want text %q", items[0].Body, text)
	}
	var hook struct {
		Type      string        `json:"type"`
		Timestamp string        `json:"timestamp"`
		Data      payload.Alert `json:"data"`
	}
	if err := json.Unmarshal(items[1].Body, &hook); err != nil {
		t.Fatal(err)
	}
	d := hook.Data
	if hook.Type != "floorpulse.alert.opened" || hook.Timestamp != "2026-06-01T05:00:00Z" || d.Kind != alert.KindOpened ||
		!slices.Equal(d.To, []string{"alice", "bob"}) || !slices.Equal(d.Leaders, []string{"bob", "alice", "carol", "dave"}) ||
		d.Record.ID != "ev1" || !strings.Contains(d.Text, "@alice bob") {
		t.Fatalf("webhook body %s", items[1].Body)
	}
}
