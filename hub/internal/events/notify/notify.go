// Package notify turns the alerts of downtime records into deliveries. The
// decisions (who is on duty, grouping, repeats, escalation) are package
// alert's; notify runs them on the kept state and renders each notification
// for the webhook endpoint of its channel, in the endpoint's format.
//
// What always holds: each notification of a step becomes one item for the
// outbox of its channel, in the order alert returned them, with the dedupe
// key "<record id>-alert-<kind>" (and "-<n>" for the n-th reminder) as its
// webhook-id; a notification to a channel that is not a webhook endpoint is
// dropped with an error logged. Step does no I/O but logging.
package notify

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/alert"
	"github.com/floorpulse/floorpulse/hub/internal/anomaly"
	"github.com/floorpulse/floorpulse/hub/internal/calendar"
	"github.com/floorpulse/floorpulse/hub/internal/events/ledger"
	"github.com/floorpulse/floorpulse/hub/internal/events/payload"
)

// Alerts steps alerts and renders their notifications.
type Alerts struct {
	Policy alert.Policy
	// Calendar returns a line's calendar (nil: around the clock).
	Calendar func(site, line string) *calendar.Calendar
	// Formats are the webhook formats of the channels, by endpoint name.
	Formats map[string]string
	Text    payload.Text
	Log     *slog.Logger
}

var _ ledger.Alerter = (*Alerts)(nil)

// Step advances the alert of rec from the kept state st; it returns the
// state to keep and the notifications to deliver.
func (a *Alerts) Step(st alert.State, rec anomaly.Record, now time.Time) (alert.State, []ledger.Item, error) {
	next, notes := a.Policy.Step(st, rec, a.Calendar(rec.Site, rec.Line), now)
	if st.Phase == alert.PhaseNone && next.Phase == alert.PhaseSkipped && next.Skip != alert.SkipDisabled {
		a.Log.Info("downtime not alerted", "event", rec.ID, "line", rec.Line, "equipment", rec.Equipment, "why", next.Skip)
	}
	var items []ledger.Item
	for _, n := range notes {
		if n.Reason == alert.ReasonNoLeaders {
			a.Log.Warn("no shift leader on duty: escalating at once", "event", rec.ID, "line", rec.Line, "shift", n.Shift, "to", n.People)
		}
		format, ok := a.Formats[n.Channel]
		if !ok {
			a.Log.Error("alert channel is not a webhook endpoint", "channel", n.Channel, "event", rec.ID, "people", n.People)
			continue
		}
		it, err := a.item(n.Channel, format, rec, n, now)
		if err != nil {
			return next, nil, err
		}
		items = append(items, it)
	}
	return next, items, nil
}

// item renders a notification for its channel.
func (a *Alerts) item(channel, format string, r anomaly.Record, n alert.Notification, now time.Time) (ledger.Item, error) {
	id := r.ID + "-alert-" + n.Kind
	if n.Kind == alert.KindRepeat {
		id = fmt.Sprintf("%s-%d", id, n.Seq)
	}
	it := ledger.Item{Dest: channel, ID: id, RecordID: r.ID, Revision: r.Revision, Kind: "alert." + n.Kind, ContentType: "application/json"}
	text := a.Text.Alert(r, n, now)
	var err error
	if payload.IsChat(format) {
		it.Body, err = payload.Chat(format, text)
	} else {
		it.Body, err = json.Marshal(payload.Webhook{Type: payload.AlertTypePrefix + n.Kind, Timestamp: now.UTC().Format(time.RFC3339Nano),
			Data: payload.Alert{Kind: n.Kind, Repeat: n.Seq, Reason: n.Reason, To: n.People, Shift: n.Shift, Leaders: n.Leaders, Text: text,
				AckLinks: a.Text.AckLinks(r, n.People, now), Record: r}})
	}
	return it, err
}
