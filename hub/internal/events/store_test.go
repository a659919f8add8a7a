package events

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/anomaly"
	"github.com/floorpulse/floorpulse/hub/internal/events/delivery"
	"github.com/floorpulse/floorpulse/hub/internal/events/ledger"
)

// runStore runs s until the test ends (or stop is called) and fails the test if Run fails.
func runStore(t *testing.T, s *Store) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func TestApplyIsIdempotent(t *testing.T) {
	o := baseOptions(nil)
	o.Stream = delivery.StreamConfig{Name: "EV", SubjectPrefix: "ev"}
	o.Webhooks = []delivery.Endpoint{{Name: "cmms", URL: "http://127.0.0.1:1", Events: true}, {Name: "leaders", URL: "http://127.0.0.1:1"}, {Name: "mgmt", URL: "http://127.0.0.1:1"}}
	s := openStore(t, "", o)
	now := local("2026-06-01 07:00")
	dt := downtime("M01", now)
	loss := downtime("M02", now)
	loss.Type, loss.ID = anomaly.SignalLoss, "loss-1"

	changed, err := s.Apply([]anomaly.Event{dt, loss}, now)
	if err != nil || len(changed) != 2 || changed[0].Revision != 1 || changed[0].Status != anomaly.Opened {
		t.Fatalf("first apply: %+v, %v", changed, err)
	}
	// Two records to the stream and to cmms; one alert to the leaders.
	want := map[string]int{delivery.StreamDest: 2, "cmms": 2, "leaders": 1}
	if got := pending(t, s); !maps.Equal(got, want) {
		t.Fatalf("outbox %v, want %v", got, want)
	}
	// The same detections again, in another zone and a minute later: nothing.
	again := dt
	again.Start, again.Detected = dt.Start.In(time.UTC), dt.Detected.In(berlin)
	again.Evidence = map[string]float64{"min_duration_s": 300}
	for range 3 {
		changed, err = s.Apply([]anomaly.Event{again, loss}, now.Add(time.Minute))
		if err != nil || len(changed) != 0 {
			t.Fatalf("re-apply changed %+v, %v", changed, err)
		}
	}
	if got := pending(t, s); !maps.Equal(got, want) {
		t.Fatalf("re-apply changed the outbox: %v, want %v", got, want)
	}
	// New evidence: revision 2, one more delivery each, no new alert.
	dt.Evidence = map[string]float64{"min_duration_s": 300, "alarm": 17}
	changed, err = s.Apply([]anomaly.Event{dt, loss}, now.Add(2*time.Minute))
	if err != nil || len(changed) != 1 || changed[0].Revision != 2 || changed[0].Status != anomaly.Opened {
		t.Fatalf("evidence change: %+v, %v", changed, err)
	}
	// Ended: resolved by the data, revision 3, the resolution alerted.
	end := now.Add(10 * time.Minute)
	changed, err = s.Apply([]anomaly.Event{ended(dt, end)}, end)
	if err != nil || len(changed) != 1 {
		t.Fatalf("end: %+v, %v", changed, err)
	}
	r := changed[0]
	if r.Revision != 3 || r.Status != anomaly.Resolved || r.ResolvedBy != "" || r.ResolvedAt == nil || !r.ResolvedAt.Equal(end) {
		t.Fatalf("resolved by data: %+v", r)
	}
	want = map[string]int{delivery.StreamDest: 4, "cmms": 4, "leaders": 2}
	if got := pending(t, s); !maps.Equal(got, want) {
		t.Fatalf("outbox %v, want %v", got, want)
	}
	if _, err := s.Apply([]anomaly.Event{ended(dt, end)}, end.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := pending(t, s); !maps.Equal(got, want) {
		t.Fatalf("re-applying the ended event changed the outbox: %v", got)
	}
	if _, err := s.Apply([]anomaly.Event{{Type: anomaly.Flatline}}, now); err == nil {
		t.Fatal("an event without id was accepted")
	}
}

func TestLifecycle(t *testing.T) {
	o := baseOptions(nil)
	o.Webhooks = []delivery.Endpoint{{Name: "leaders", URL: "http://127.0.0.1:1"}, {Name: "mgmt", URL: "http://127.0.0.1:1"}}
	s := openStore(t, "", o)
	now := local("2026-06-01 07:00")
	dt := downtime("M01", now)
	if _, err := s.Apply([]anomaly.Event{dt}, now); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Ack(dt.ID, "  ", "", now); !errors.Is(err, ledger.ErrInvalid) {
		t.Fatalf("ack without by: %v", err)
	}
	if _, err := s.Ack("nope", "alice", "", now); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("ack unknown: %v", err)
	}
	r, err := s.Ack(dt.ID, "alice", "on my way", now.Add(time.Minute))
	if err != nil || r.Status != anomaly.Acknowledged || r.Revision != 2 || r.AcknowledgedBy != "alice" || r.Note != "on my way" ||
		r.AcknowledgedAt == nil || !r.AcknowledgedAt.Equal(now.Add(time.Minute)) {
		t.Fatalf("ack: %+v, %v", r, err)
	}
	if _, err := s.Ack(dt.ID, "bob", "", now); !errors.Is(err, ledger.ErrConflict) || !strings.Contains(err.Error(), "alice") {
		t.Fatalf("second ack: %v", err)
	}
	r, err = s.Resolve(dt.ID, "bob", "bearing replaced", now.Add(time.Hour))
	if err != nil || r.Status != anomaly.Resolved || r.Revision != 3 || r.ResolvedBy != "bob" || r.Note != "bearing replaced" || r.AcknowledgedBy != "alice" {
		t.Fatalf("resolve: %+v, %v", r, err)
	}
	if _, err := s.Resolve(dt.ID, "bob", "", now.Add(time.Hour)); !errors.Is(err, ledger.ErrConflict) {
		t.Fatalf("second resolve: %v", err)
	}
	if _, err := s.Ack(dt.ID, "bob", "", now.Add(time.Hour)); !errors.Is(err, ledger.ErrConflict) {
		t.Fatalf("ack after resolve: %v", err)
	}
	// The detector still sees it open: the hand-made resolution stands.
	if changed, err := s.Apply([]anomaly.Event{dt}, now.Add(2*time.Hour)); err != nil || len(changed) != 0 {
		t.Fatalf("re-detection after resolve: %+v, %v", changed, err)
	}
	got, err := s.Get(dt.ID)
	if err != nil || got.Revision != 3 || got.Status != anomaly.Resolved {
		t.Fatalf("get: %+v, %v", got, err)
	}
	// Ack, resolve: alerts to the leaders (opened, acknowledged, resolved).
	if got := pending(t, s)["leaders"]; got != 3 {
		t.Fatalf("leaders outbox %d, want 3", got)
	}
}

// Deliveries are signed per Standard Webhooks, retried on 5xx with the same
// webhook-id, and removed from the outbox after the 2xx.
func TestWebhookSignedRetriedDelivered(t *testing.T) {
	cmms := newReceiver(t, func(n int) int {
		if n <= 2 {
			return http.StatusServiceUnavailable
		}
		return http.StatusNoContent
	})
	chat := newReceiver(t, nil)
	o := baseOptions(nil)
	o.Webhooks = []delivery.Endpoint{
		{Name: "cmms", URL: cmms.URL, Secret: testSecret, Format: "json", Events: true, Types: []string{anomaly.UnplannedDowntime}, MaxAttempts: 5},
		{Name: "leaders", URL: chat.URL, Format: "text"},
		{Name: "mgmt", URL: chat.URL, Format: "dingtalk"},
	}
	s := openStore(t, "", o)
	now := o.Clock()
	dt := downtime("M01", now.Add(-time.Minute))
	loss := downtime("M02", now)
	loss.Type, loss.ID = anomaly.SignalLoss, "loss-1" // filtered out for cmms
	if _, err := s.Apply([]anomaly.Event{dt, loss}, now); err != nil {
		t.Fatal(err)
	}
	runStore(t, s)
	drained(t, s)

	reqs := cmms.requests()
	if len(reqs) != 3 {
		t.Fatalf("cmms got %d requests, want 3 (two 503, one 204)", len(reqs))
	}
	for _, q := range reqs {
		verify(t, testSecret, q.Header, q.Body)
		if q.Header.Get("webhook-id") != dt.ID+"-1" || q.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("headers %v", q.Header)
		}
	}
	var p struct {
		Type      string         `json:"type"`
		Timestamp time.Time      `json:"timestamp"`
		Data      anomaly.Record `json:"data"`
	}
	if err := json.Unmarshal(reqs[2].Body, &p); err != nil || p.Type != "floorpulse.event.opened" || p.Data.ID != dt.ID || p.Data.Revision != 1 || p.Data.Status != anomaly.Opened {
		t.Fatalf("payload %s: %v", reqs[2].Body, err)
	}
	// A tampered body does not verify.
	bad := append([]byte(nil), reqs[2].Body...)
	bad[len(bad)-2] ^= 1
	if err := checkSignature(testSecret, reqs[2].Header, bad); err == nil {
		t.Fatal("a tampered body verified")
	}
	if err := checkSignature("whsec_"+base64.StdEncoding.EncodeToString([]byte(strings.Repeat("x", 32))), reqs[2].Header, reqs[2].Body); err == nil {
		t.Fatal("another secret verified")
	}

	// The leader's chat got the alert as {"text": ...} naming line, machine,
	// duration, shift and the ack link; unsigned (no secret).
	msgs := chat.accepted(t)
	if len(msgs) != 1 {
		t.Fatalf("chat got %d messages, want 1: %v", len(msgs), msgs)
	}
	text, _ := msgs[0]["text"].(string)
	for _, want := range []string{"DOWNTIME", "L1/M01", "shift", "@alice", "(6 min)", "https://hub.example/api/v1/events/" + dt.ID + "/ack"} {
		if !strings.Contains(text, want) {
			t.Errorf("alert text lacks %q: %s", want, text)
		}
	}
	if h := chat.requests()[0].Header; h.Get("webhook-signature") != "" || h.Get("webhook-id") != dt.ID+"-alert-opened" {
		t.Fatalf("chat headers %v", h)
	}
}

func TestDeadLetters(t *testing.T) {
	down := newReceiver(t, func(int) int { return http.StatusBadGateway })
	rejecting := newReceiver(t, func(int) int { return http.StatusUnprocessableEntity })
	o := baseOptions(nil)
	o.Alerts.Roster.People = nil
	o.Webhooks = []delivery.Endpoint{{Name: "down", URL: down.URL, Events: true, MaxAttempts: 3},
		{Name: "rejecting", URL: rejecting.URL, Events: true, MaxAttempts: 10}}
	s := openStore(t, "", o)
	now := o.Clock()
	dt := downtime("M01", now)
	if _, err := s.Apply([]anomaly.Event{dt}, now); err != nil {
		t.Fatal(err)
	}
	runStore(t, s)
	drained(t, s)
	if n := len(down.requests()); n != 3 {
		t.Fatalf("down endpoint tried %d times, want 3", n)
	}
	if n := len(rejecting.requests()); n != 1 {
		t.Fatalf("a 422 was retried: %d attempts", n)
	}
	dls, err := s.DeadLetters(0, 100)
	if err != nil || len(dls) != 2 {
		t.Fatalf("dead letters %+v, %v", dls, err)
	}
	byEndpoint := map[string]ledger.DeadLetter{}
	for _, d := range dls {
		byEndpoint[d.Endpoint] = d
	}
	if d := byEndpoint["down"]; d.Attempts != 3 || d.ID != dt.ID+"-1" || !strings.Contains(d.LastError, "502") {
		t.Fatalf("dead letter %+v", d)
	}
	if d := byEndpoint["rejecting"]; d.Attempts != 1 || !strings.Contains(d.LastError, "422") {
		t.Fatalf("dead letter %+v", d)
	}
	// Listed over REST, and put back into the outbox on request.
	rec := doJSON(t, s.Handler(), "GET", "/api/v1/events/deadletters", "", http.StatusOK)
	if got := len(rec["deadletters"].([]any)); got != 2 {
		t.Fatalf("REST lists %d dead letters", got)
	}
	doJSON(t, s.Handler(), "POST", "/api/v1/events/deadletters/999/retry", "", http.StatusNotFound)
	doJSON(t, s.Handler(), "POST", "/api/v1/events/deadletters/"+itoa(byEndpoint["down"].Seq)+"/retry", "", http.StatusOK)
	eventually(t, 10*time.Second, "the redelivered item to fail again", func() bool { return len(down.requests()) == 6 })
	drained(t, s)
	if dls, _ := s.DeadLetters(0, 100); len(dls) != 2 {
		t.Fatalf("after the retry: %d dead letters", len(dls))
	}
}

// A restart keeps undelivered items and alert timers; re-detecting after the
// restart neither alerts again nor delivers twice.
func TestRestartKeepsOutboxAndTimers(t *testing.T) {
	leaders, mgmt := newReceiver(t, nil), newReceiver(t, nil)
	path := filepath.Join(t.TempDir(), "events.db")
	start := local("2026-06-01 07:00")
	clock := newClock(start)
	o := baseOptions(clock)
	o.Webhooks = []delivery.Endpoint{{Name: "leaders", URL: leaders.URL, Secret: testSecret}, {Name: "mgmt", URL: mgmt.URL}}
	dt, other := downtime("M01", start), downtime("M02", start)

	// First life: detected, not delivered (the hub dies before Run delivers).
	s := openStore(t, path, o)
	if _, err := s.Apply([]anomaly.Event{dt, other}, start); err != nil {
		t.Fatal(err)
	}
	s.Close()

	// Second life: re-detected (no-op), delivered once, one of them acked.
	clock.Add(time.Minute)
	s = openStore(t, path, o)
	if changed, err := s.Apply([]anomaly.Event{dt, other}, clock.Now()); err != nil || len(changed) != 0 {
		t.Fatalf("re-detection after restart: %+v, %v", changed, err)
	}
	stop := runStore(t, s)
	drained(t, s)
	if n := len(leaders.accepted(t)); n != 2 {
		t.Fatalf("leaders got %d alerts, want 2", n)
	}
	if _, err := s.Ack(other.ID, "alice", "", clock.Now()); err != nil {
		t.Fatal(err)
	}
	drained(t, s)
	stop()
	s.Close()

	// Third life, past the escalation time: the stored timer fires, once, for
	// the unacknowledged downtime only.
	clock.Add(15 * time.Minute)
	s = openStore(t, path, o)
	runStore(t, s)
	eventually(t, 10*time.Second, "the escalation", func() bool { return len(mgmt.accepted(t)) >= 1 })
	for range 5 { // more timer passes, and more detections
		if _, err := s.Apply([]anomaly.Event{dt, other}, clock.Now()); err != nil {
			t.Fatal(err)
		}
		clock.Add(time.Minute)
		if err := s.Due(clock.Now()); err != nil {
			t.Fatal(err)
		}
	}
	drained(t, s)
	esc := mgmt.accepted(t)
	if len(esc) != 1 {
		t.Fatalf("management got %d messages, want 1 escalation", len(esc))
	}
	data := esc[0]["data"].(map[string]any)
	if esc[0]["type"] != "floorpulse.alert.escalation" || data["record"].(map[string]any)["id"] != dt.ID || data["reason"] != "not_acknowledged" {
		t.Fatalf("escalation payload %v", esc[0])
	}
	if n := len(leaders.accepted(t)); n != 3 { // 2 opened + 1 acknowledged
		t.Fatalf("leaders got %d messages, want 3", n)
	}
	ids := map[string]int{}
	for _, q := range leaders.requests() {
		verify(t, testSecret, q.Header, q.Body)
		ids[q.Header.Get("webhook-id")]++
	}
	for id, n := range ids {
		if n != 1 {
			t.Fatalf("webhook-id %s delivered %d times", id, n)
		}
	}
}

// History replay: detections older than max_age are recorded and delivered
// to maintenance systems but alert nobody.
func TestNoAlertForOldDetections(t *testing.T) {
	cmms, leaders, mgmt := newReceiver(t, nil), newReceiver(t, nil), newReceiver(t, nil)
	o := baseOptions(nil)
	o.Webhooks = []delivery.Endpoint{{Name: "cmms", URL: cmms.URL, Events: true}, {Name: "leaders", URL: leaders.URL}, {Name: "mgmt", URL: mgmt.URL}}
	s := openStore(t, "", o)
	now := o.Clock()
	old := downtime("M01", now.Add(-16*time.Minute))
	fresh := downtime("M02", now.Add(-14*time.Minute))
	if _, err := s.Apply([]anomaly.Event{old, fresh}, now); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Apply([]anomaly.Event{ended(old, now), ended(fresh, now)}, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	runStore(t, s)
	drained(t, s)
	if n := len(cmms.accepted(t)); n != 4 {
		t.Fatalf("cmms got %d, want 4 (two records, opened and resolved)", n)
	}
	var texts []string
	for _, m := range leaders.accepted(t) {
		texts = append(texts, m["type"].(string)+" "+m["data"].(map[string]any)["record"].(map[string]any)["equipment"].(string))
	}
	if want := []string{"floorpulse.alert.opened M02", "floorpulse.alert.resolved M02"}; !slices.Equal(texts, want) {
		t.Fatalf("leaders got %v, want %v", texts, want)
	}
	if n := len(mgmt.requests()); n != 0 {
		t.Fatalf("management got %d messages", n)
	}
}

// Items of an endpoint removed from the configuration go to the dead letters at start.
func TestRemovedEndpoint(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.db")
	o := baseOptions(nil)
	o.Alerts.Roster.People = nil
	o.Webhooks = []delivery.Endpoint{{Name: "old", URL: "http://127.0.0.1:1", Events: true}}
	s := openStore(t, path, o)
	if _, err := s.Apply([]anomaly.Event{downtime("M01", o.Clock())}, o.Clock()); err != nil {
		t.Fatal(err)
	}
	s.Close()
	o.Webhooks = nil
	s = openStore(t, path, o)
	runStore(t, s)
	eventually(t, 10*time.Second, "the dead letter", func() bool {
		dls, _ := s.DeadLetters(0, 10)
		return len(dls) == 1 && dls[0].Endpoint == "old"
	})
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
}
