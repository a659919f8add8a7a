package events

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/alert"
	"github.com/floorpulse/floorpulse/hub/internal/anomaly"
)

// CloudEvent is a record change as a CloudEvents 1.0 JSON event.
type CloudEvent struct {
	SpecVersion     string `json:"specversion"`
	ID              string `json:"id"`     // "<record id>-<revision>": the dedupe key
	Source          string `json:"source"` // "<site>/<line>/<equipment>"
	Type            string `json:"type"`   // "floorpulse.event.<change>"
	Subject         string `json:"subject"`
	Time            string `json:"time"`
	DataContentType string `json:"datacontenttype"`
	// Extensions.
	EventID  string         `json:"eventid"`  // the record id
	Revision uint64         `json:"revision"` // the record revision
	EvType   string         `json:"eventtype"`
	Data     anomaly.Record `json:"data"`
}

// TypePrefix starts the type of every CloudEvent and webhook payload.
const TypePrefix = "floorpulse.event."

func cloudEvent(r anomaly.Record, change string) CloudEvent {
	return CloudEvent{
		SpecVersion: "1.0", ID: dedupeID(r.ID, r.Revision),
		Source:  url.PathEscape(r.Site) + "/" + url.PathEscape(r.Line) + "/" + url.PathEscape(r.Equipment),
		Type:    TypePrefix + change,
		Subject: r.ID, Time: r.Updated.UTC().Format(time.RFC3339Nano), DataContentType: "application/json",
		EventID: r.ID, Revision: r.Revision, EvType: r.Type, Data: r,
	}
}

// Subject is the NATS subject of a record: <prefix>.<type>.<site>.<line>.<equipment>.
func Subject(prefix string, r anomaly.Record) string {
	return strings.Join([]string{prefix, r.Type, r.Site, r.Line, r.Equipment}, ".")
}

func (s *Store) streamItem(r anomaly.Record, change string) (item, error) {
	body, err := json.Marshal(cloudEvent(r, change))
	if err != nil {
		return item{}, err
	}
	return item{ID: dedupeID(r.ID, r.Revision), Subject: Subject(s.opts.Stream.SubjectPrefix, r),
		ContentType: "application/cloudevents+json", Body: body, RecordID: r.ID, Revision: r.Revision, Kind: change}, nil
}

// Payload is the body of json-format webhooks: the Standard Webhooks
// payload shape. Data is the record for record changes, an AlertPayload for alerts.
type Payload struct {
	Type      string `json:"type"`
	Timestamp string `json:"timestamp"`
	Data      any    `json:"data"`
}

// AlertPayload is the data of an alert webhook ("floorpulse.alert.<kind>").
type AlertPayload struct {
	Kind    string         `json:"kind"` // opened, repeat, escalation, acknowledged, resolved
	Repeat  int            `json:"repeat,omitempty"`
	Reason  string         `json:"reason,omitempty"`
	To      []string       `json:"to"`
	Shift   string         `json:"shift,omitempty"`
	Leaders []string       `json:"leaders,omitempty"`
	Text    string         `json:"text"`
	Record  anomaly.Record `json:"record"`
}

// AlertTypePrefix starts the type of alert payloads.
const AlertTypePrefix = "floorpulse.alert."

// changeItem renders a record change for an endpoint.
func (s *Store) changeItem(e Endpoint, r anomaly.Record, change string) (item, error) {
	it := item{ID: dedupeID(r.ID, r.Revision), RecordID: r.ID, Revision: r.Revision, Kind: change}
	var err error
	switch e.Format {
	case "cloudevents":
		it.ContentType = "application/cloudevents+json"
		it.Body, err = json.Marshal(cloudEvent(r, change))
	case "text", "dingtalk", "wecom":
		it.ContentType = "application/json"
		it.Body, err = chatBody(e.Format, s.changeText(r, change))
	default:
		it.ContentType = "application/json"
		it.Body, err = json.Marshal(Payload{Type: TypePrefix + change, Timestamp: r.Updated.UTC().Format(time.RFC3339Nano), Data: r})
	}
	return it, err
}

// alertItem renders an alert notification for its channel.
func (s *Store) alertItem(e Endpoint, r anomaly.Record, n alert.Notification, now time.Time) (item, error) {
	id := r.ID + "-alert-" + n.Kind
	if n.Kind == alert.KindRepeat {
		id = fmt.Sprintf("%s-%d", id, n.Seq)
	}
	it := item{ID: id, RecordID: r.ID, Revision: r.Revision, Kind: "alert." + n.Kind, ContentType: "application/json"}
	text := s.alertText(r, n, now)
	var err error
	switch e.Format {
	case "text", "dingtalk", "wecom":
		it.Body, err = chatBody(e.Format, text)
	default:
		it.Body, err = json.Marshal(Payload{Type: AlertTypePrefix + n.Kind, Timestamp: now.UTC().Format(time.RFC3339Nano),
			Data: AlertPayload{Kind: n.Kind, Repeat: n.Seq, Reason: n.Reason, To: n.People, Shift: n.Shift, Leaders: n.Leaders, Text: text, Record: r}})
	}
	return it, err
}

// chatBody is the simple text message of chat robots: {"text": ...}
// (Slack, Mattermost, Rocket.Chat, Teams incoming webhooks, Google Chat) or
// {"msgtype":"text","text":{"content": ...}} (DingTalk, WeCom).
func chatBody(format, text string) ([]byte, error) {
	if format == "text" {
		return json.Marshal(map[string]string{"text": text})
	}
	return json.Marshal(map[string]any{"msgtype": "text", "text": map[string]string{"content": text}})
}

func (s *Store) where(r anomaly.Record) string {
	return fmt.Sprintf("%s/%s (%s)", r.Line, r.Equipment, r.Site)
}

// stamp is a local time, with the date when it is not the day of ref.
func (s *Store) stamp(t, ref time.Time) string {
	lt, lr := t.In(s.opts.Location), ref.In(s.opts.Location)
	if lt.YearDay() != lr.YearDay() || lt.Year() != lr.Year() {
		return lt.Format("2006-01-02 15:04 MST")
	}
	return lt.Format("15:04 MST")
}

// lasted is how long an event lasted (until its end) or has lasted (until now).
func lasted(r anomaly.Record, now time.Time) string {
	end := now
	if r.End != nil {
		end = *r.End
	}
	d := end.Sub(r.Start).Round(time.Minute)
	switch {
	case d < time.Minute:
		return "<1 min"
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	}
	return fmt.Sprintf("%d h %02d min", int(d.Hours()), int(d.Minutes())%60)
}

func (s *Store) link(r anomaly.Record) string {
	if s.opts.PublicURL == "" {
		return ""
	}
	return strings.TrimRight(s.opts.PublicURL, "/") + "/api/v1/events/" + url.PathEscape(r.ID) + "/ack"
}

func (s *Store) changeText(r anomaly.Record, change string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[%s] %s %s: %s, since %s (%s)", strings.ToUpper(change), strings.ReplaceAll(r.Type, "_", " "), s.where(r),
		r.Severity, s.stamp(r.Start, r.Updated), lasted(r, r.Updated))
	if r.Shift != "" {
		fmt.Fprintf(&b, ", shift %s", r.Shift)
	}
	switch {
	case r.Status == anomaly.Acknowledged:
		fmt.Fprintf(&b, ". Acknowledged by %s", r.AcknowledgedBy)
	case r.Status == anomaly.Resolved && r.ResolvedBy != "":
		fmt.Fprintf(&b, ". Resolved by %s", r.ResolvedBy)
	case r.Status == anomaly.Resolved:
		fmt.Fprintf(&b, ". Ended %s", s.stamp(*r.End, r.Updated))
	}
	if r.Note != "" && (change == ChangeAcknowledged || change == ChangeResolved) {
		fmt.Fprintf(&b, ": %s", r.Note)
	}
	if r.Reason != "" {
		fmt.Fprintf(&b, ". %s", r.Reason)
	}
	if l := s.link(r); l != "" && r.Status == anomaly.Opened {
		fmt.Fprintf(&b, ". Acknowledge: %s", l)
	}
	return b.String()
}

func (s *Store) mentions(ids []string) string {
	var out []string
	for _, id := range ids {
		m := s.opts.Alerts.Roster.People[id].Mention
		if m == "" {
			m = id
		}
		out = append(out, m)
	}
	return strings.Join(out, " ")
}

func (s *Store) alertText(r anomaly.Record, n alert.Notification, now time.Time) string {
	var b strings.Builder
	shift := "around the clock"
	if n.Shift != "" {
		shift = "shift " + n.Shift
	}
	down := fmt.Sprintf("%s down since %s (%s)", s.where(r), s.stamp(r.Start, now), lasted(r, now))
	switch n.Kind {
	case alert.KindOpened:
		if r.Status == anomaly.Resolved {
			fmt.Fprintf(&b, "DOWNTIME %s was down from %s to %s (%s), %s", s.where(r), s.stamp(r.Start, now), s.stamp(*r.End, now), lasted(r, now), shift)
		} else {
			fmt.Fprintf(&b, "DOWNTIME %s, %s", down, shift)
		}
	case alert.KindRepeat:
		fmt.Fprintf(&b, "REMINDER %d: %s, not acknowledged, %s", n.Seq, down, shift)
	case alert.KindEscalation:
		if n.Reason == alert.ReasonNoLeaders {
			fmt.Fprintf(&b, "ESCALATION %s: no shift leader on duty (%s)", down, shift)
		} else {
			fmt.Fprintf(&b, "ESCALATION %s: not acknowledged in time by %s (%s)", down, s.mentions(n.Leaders), shift)
		}
	case alert.KindAcknowledged:
		fmt.Fprintf(&b, "ACKNOWLEDGED by %s: %s", r.AcknowledgedBy, down)
	case alert.KindResolved:
		if r.ResolvedBy != "" {
			fmt.Fprintf(&b, "RESOLVED by %s: %s, after %s", r.ResolvedBy, s.where(r), lasted(r, now))
		} else {
			fmt.Fprintf(&b, "RESOLVED %s running again at %s after %s", s.where(r), s.stamp(*r.End, now), lasted(r, now))
		}
	}
	if r.Severity != "" {
		fmt.Fprintf(&b, ", severity %s", r.Severity)
	}
	if r.Note != "" && (n.Kind == alert.KindAcknowledged || n.Kind == alert.KindResolved) {
		fmt.Fprintf(&b, ". Note: %s", r.Note)
	}
	if r.Reason != "" && n.Kind != alert.KindAcknowledged && n.Kind != alert.KindResolved {
		fmt.Fprintf(&b, ". %s", r.Reason)
	}
	fmt.Fprintf(&b, ". %s", s.mentions(n.People))
	if l := s.link(r); l != "" && r.Status == anomaly.Opened {
		fmt.Fprintf(&b, " Acknowledge: %s", l)
	}
	return b.String()
}
