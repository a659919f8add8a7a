package config

import (
	"slices"
	"strings"
	"testing"
	"time"
)

const eventsBase = `site: plant1
calendar:
  shifts:
    - {name: early, start: "06:00", end: "14:00"}
    - {name: late, start: "14:00", end: "22:00"}
line_calendars:
  L3: {shifts: [{name: early}]}
`

func TestEventsConfig(t *testing.T) {
	cfg, err := Decode("hub.yaml", []byte(eventsBase+`events:
  public_url: https://hub.example
  webhooks:
    - {name: cmms, url: "https://cmms.example/hook", secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", types: [unplanned_downtime], min_severity: warning}
    - {name: chat, url: "http://chat.example/x", format: text, events: false}
  alerts:
    repeat_interval: 30m
    management: [boss]
    people: {alice: {channel: chat, mention: "@alice"}, boss: {channel: chat}}
    roster:
      L1: {early: [alice], late: [alice]}
      L3: {early: [alice]}
      "*": {all: [boss]}
`))
	if err != nil {
		t.Fatal(err)
	}
	e := cfg.Events
	if e.Stream.Name != "FLOORPULSE_EVENTS" || e.Stream.SubjectPrefix != "floorpulse.events" || e.Stream.DuplicateWindow != 24*time.Hour ||
		e.Retry.Min != time.Second || e.Retry.Max != 5*time.Minute {
		t.Fatalf("stream/retry defaults: %+v %+v", e.Stream, e.Retry)
	}
	if w := e.Webhooks[0]; w.Format != FormatJSON || w.Timeout != 10*time.Second || w.MaxAttempts != 20 || !w.ReceivesEvents() {
		t.Fatalf("webhook defaults: %+v", w)
	}
	if e.Webhooks[1].ReceivesEvents() {
		t.Fatal("events: false ignored")
	}
	p := e.Alerts.Policy()
	if p.MaxAge != 15*time.Minute || p.EscalateAfter != 10*time.Minute || p.RepeatInterval != 30*time.Minute ||
		p.Roster.People["alice"].Mention != "@alice" || !slices.Equal(p.Roster.Leaders("L9", "night"), []string{"boss"}) {
		t.Fatalf("policy: %+v", p)
	}
}

func TestEventsConfigNamesEveryKey(t *testing.T) {
	_, err := Decode("hub.yaml", []byte(eventsBase+`events:
  stream: {name: "a.b", subject_prefix: floorpulse.signals.x, duplicate_window: 2h, max_age: 1h}
  retry: {min: 10s, max: 1s}
  public_url: ftp://x
  webhooks:
    - {name: cmms, url: "not a url", secret: "abc", format: xml, types: [meltdown], min_severity: high, max_attempts: -1}
    - {name: cmms, url: "https://x.example", secret: "whsec_AAAA", headers: {webhook-id: x}}
  alerts:
    max_age: -1m
    repeat_interval: 10s
    management: [nobody]
    people: {alice: {channel: pager}, bob: {}}
    roster:
      L1: {nigth: [alice], early: [carol]}
      L3: {late: [alice]}
      "*": {all: [alice]}
`))
	if err == nil {
		t.Fatal("want errors")
	}
	for _, want := range []string{
		`hub.yaml:9: events.stream.name: invalid stream name "a.b"`,
		`hub.yaml:9: events.stream.subject_prefix: "floorpulse.signals.x" overlaps the signals subjects`,
		`hub.yaml:9: events.stream.max_age: must be at least the duplicate window`,
		`hub.yaml:10: events.retry.max: must be at least retry.min`,
		`hub.yaml:11: events.public_url: not an http(s) URL`,
		`hub.yaml:13: events.webhooks[0].url: not an http(s) URL`,
		`hub.yaml:13: events.webhooks[0].secret: want whsec_ followed by base64`,
		`hub.yaml:13: events.webhooks[0].format: unknown format "xml"`,
		`hub.yaml:13: events.webhooks[0].types[0]: unknown event type "meltdown"`,
		`hub.yaml:13: events.webhooks[0].min_severity: unknown severity "high"`,
		`hub.yaml:13: events.webhooks[0].max_attempts: must be positive`,
		`hub.yaml:14: events.webhooks[1].name: endpoint "cmms" defined twice`,
		`hub.yaml:14: events.webhooks[1].secret: key must be 24 to 64 bytes (got 3)`,
		`hub.yaml:14: events.webhooks[1].headers: invalid or reserved header name "webhook-id"`,
		`hub.yaml:16: events.alerts.max_age: must not be negative`,
		`hub.yaml:17: events.alerts.repeat_interval: must be 0 (off) or at least 1m`,
		`hub.yaml:18: events.alerts.management[0]: "nobody" is not in events.alerts.people`,
		`hub.yaml:19: events.alerts.people.alice.channel: no webhook endpoint named "pager"`,
		`hub.yaml:19: events.alerts.people.bob.channel: required`,
		`hub.yaml:21: events.alerts.roster.L1.nigth: no shift "nigth" in the calendar of line L1 (shifts: early, late; or "all")`,
		`hub.yaml:21: events.alerts.roster.L1.early[0]: "carol" is not in events.alerts.people`,
		`hub.yaml:22: events.alerts.roster.L3.late: no shift "late" in the calendar of line L3 (shifts: early; or "all")`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(err)
	}
	if strings.Contains(err.Error(), `roster.*`) {
		t.Errorf("the \"*\" roster was rejected:\n%v", err)
	}
}
