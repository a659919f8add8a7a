package payload

import (
	"strings"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/alert"
	"github.com/floorpulse/floorpulse/hub/internal/anomaly"
)

// The texts people read have one language; every case is one line of
// testdata/text_change.golden or testdata/text_alert.golden.
func texts() Text {
	return Text{Location: plant, PublicURL: "https://hub.example/",
		People: map[string]alert.Person{"alice": {Channel: "leaders", Mention: "@alice"}, "boss": {Channel: "mgmt", Mention: "@boss"}}}
}

func TestChangeTextGolden(t *testing.T) {
	short := opened()
	short.Start = t0.Add(-20 * time.Second)
	short.Shift, short.Reason, short.Type, short.Severity = "", "", anomaly.SignalLoss, anomaly.Warning
	tests := []struct {
		name   string
		text   Text
		rec    anomaly.Record
		change string
	}{
		{"opened with link", texts(), opened(), ChangeOpened},
		{"opened without link", Text{Location: plant}, opened(), ChangeOpened},
		{"under a minute, no shift", texts(), short, ChangeOpened},
		{"acknowledged with note", texts(), acknowledged(), ChangeAcknowledged},
		{"resolved by hand", texts(), resolvedByHand(), ChangeResolved},
		{"resolved by the data, next day", texts(), resolvedByData(), ChangeResolved},
		{"updated after acknowledgement: no note", texts(), acknowledged(), ChangeUpdated},
	}
	var out strings.Builder
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out.WriteString(tc.name + ": " + tc.text.Change(tc.rec, tc.change) + "\n")
		})
	}
	golden(t, "text_change", []byte(out.String()))
}

func TestAlertTextGolden(t *testing.T) {
	over := resolvedByData()
	over.End = at(10 * time.Minute)
	leaders := []string{"alice", "bob"}
	note := func(kind string, people ...string) alert.Notification {
		return alert.Notification{Kind: kind, People: people, Shift: "early", Leaders: leaders}
	}
	repeat := note(alert.KindRepeat, "alice", "bob")
	repeat.Seq = 2
	notAcked := note(alert.KindEscalation, "boss")
	notAcked.Reason = alert.ReasonNotAcked
	noLeaders := alert.Notification{Kind: alert.KindEscalation, People: []string{"boss"}, Reason: alert.ReasonNoLeaders}
	tests := []struct {
		name string
		rec  anomaly.Record
		n    alert.Notification
		now  time.Duration
	}{
		{"opened", opened(), note(alert.KindOpened, "alice", "bob"), 0},
		{"over before alerted", over, note(alert.KindOpened, "alice"), 15 * time.Minute},
		{"repeat", opened(), repeat, time.Hour},
		{"escalation, not acknowledged", opened(), notAcked, 10 * time.Minute},
		{"escalation, no leaders, around the clock", opened(), noLeaders, 0},
		{"acknowledged", acknowledged(), note(alert.KindAcknowledged, "alice", "bob", "boss"), 3 * time.Minute},
		{"resolved by hand", resolvedByHand(), note(alert.KindResolved, "alice"), 40 * time.Minute},
		{"resolved by the data, next day", resolvedByData(), note(alert.KindResolved, "alice"), 20 * time.Hour},
		{"failure risk", risky(opened()), note(alert.KindOpened, "alice"), 0},
		{"failure risk, resolved by the breakdown", risky(resolvedByData()), note(alert.KindResolved, "alice"), time.Hour},
	}
	var out strings.Builder
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out.WriteString(tc.name + ": " + texts().Alert(tc.rec, tc.n, t0.Add(tc.now)) + "\n")
		})
	}
	golden(t, "text_alert", []byte(out.String()))
}

// risky makes r a failure warning.
func risky(r anomaly.Record) anomaly.Record {
	r.Type = anomaly.FailureRisk
	r.Reason = "a breakdown may be coming: temperature 52.1 while running, normally 47 (+4.2 standard deviations)"
	return r
}
