// Package payload holds the wire forms of anomaly event deliveries: the
// CloudEvents 1.0 JSON of a record change (the events stream and
// cloudevents-format webhooks), the Standard Webhooks payload of json-format
// webhooks, the chat messages of chat robots, and the texts people read in
// them. It is pure: values in, bytes or strings out.
//
// What always holds: every delivery of a record revision carries the same
// dedupe key, "<record id>-<revision>" (DedupeID): the CloudEvent id, the
// Nats-Msg-Id and the webhook-id.
package payload

import (
	"encoding/json"
	"net/url"
	"strconv"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/anomaly"
)

// Change kinds of a record, the last part of the CloudEvent type.
const (
	ChangeOpened       = "opened"
	ChangeUpdated      = "updated"
	ChangeAcknowledged = "acknowledged"
	ChangeResolved     = "resolved"
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

// NewCloudEvent returns the CloudEvent of a change of r.
func NewCloudEvent(r anomaly.Record, change string) CloudEvent {
	return CloudEvent{
		SpecVersion: "1.0", ID: DedupeID(r.ID, r.Revision),
		Source:  url.PathEscape(r.Site) + "/" + url.PathEscape(r.Line) + "/" + url.PathEscape(r.Equipment),
		Type:    TypePrefix + change,
		Subject: r.ID, Time: r.Updated.UTC().Format(time.RFC3339Nano), DataContentType: "application/json",
		EventID: r.ID, Revision: r.Revision, EvType: r.Type, Data: r,
	}
}

// Webhook is the body of json-format webhooks: the Standard Webhooks
// payload shape. Data is the record for record changes, an Alert for alerts.
type Webhook struct {
	Type      string `json:"type"`
	Timestamp string `json:"timestamp"`
	Data      any    `json:"data"`
}

// Alert is the data of an alert webhook ("floorpulse.alert.<kind>").
type Alert struct {
	Kind    string   `json:"kind"` // opened, repeat, escalation, acknowledged, resolved
	Repeat  int      `json:"repeat,omitempty"`
	Reason  string   `json:"reason,omitempty"`
	To      []string `json:"to"`
	Shift   string   `json:"shift,omitempty"`
	Leaders []string `json:"leaders,omitempty"`
	Text    string   `json:"text"`
	// AckLinks are the acknowledge links of an open record, by recipient,
	// each signed for that person (see Text).
	AckLinks map[string]string `json:"ack_links,omitempty"`
	Record   anomaly.Record    `json:"record"`
}

// AlertTypePrefix starts the type of alert payloads.
const AlertTypePrefix = "floorpulse.alert."

// Chat is the simple text message of chat robots in format "text":
// {"text": ...} (Slack, Mattermost, Rocket.Chat, Teams incoming webhooks,
// Google Chat), or in "dingtalk" and "wecom":
// {"msgtype":"text","text":{"content": ...}}.
func Chat(format, text string) ([]byte, error) {
	if format == "text" {
		return json.Marshal(map[string]string{"text": text})
	}
	return json.Marshal(map[string]any{"msgtype": "text", "text": map[string]string{"content": text}})
}

// IsChat reports whether a webhook format is a chat message.
func IsChat(format string) bool {
	return format == "text" || format == "dingtalk" || format == "wecom"
}

// DedupeID is the delivery id of a record revision.
func DedupeID(id string, rev uint64) string { return id + "-" + strconv.FormatUint(rev, 10) }
