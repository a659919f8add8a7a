package rest

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/alert"
	"github.com/floorpulse/floorpulse/hub/internal/anomaly"
	"github.com/floorpulse/floorpulse/hub/internal/auth"
	"github.com/floorpulse/floorpulse/hub/internal/events/payload"
)

// The acknowledge link in an alert lets the leader it was sent to
// acknowledge that one event, once, as themselves; an altered, expired or
// borrowed link is refused, and the link opens nothing else.
func TestAlertLinkAcknowledgesOnceAsItsLeader(t *testing.T) {
	clock := newClock(local("2026-06-01 07:00"))
	s := openLedger(t)
	dt, other := downtime("M01", clock.Now()), downtime("M02", clock.Now())
	if _, err := s.Apply([]anomaly.Event{dt, other}, clock.Now()); err != nil {
		t.Fatal(err)
	}
	rec, _ := s.Get(dt.ID)
	acc, err := auth.OpenAccounts(filepath.Join(t.TempDir(), "users.yaml"), filepath.Join(t.TempDir(), "tokens.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	links := auth.NewLinks([]byte(strings.Repeat("k", 32)), 30*time.Minute)
	h := auth.New(auth.Options{Accounts: acc, Links: links, Clock: clock.Now}).Wrap(New(s, s, clock.Now, berlin))

	text := payload.Text{Location: berlin, PublicURL: "https://hub.example/", Sign: links.Sign,
		People: map[string]alert.Person{"alice": {Mention: "@alice"}, "bob": {Mention: "@bob"}}}
	n := alert.Notification{Kind: alert.KindOpened, People: []string{"alice", "bob"}}
	msg := text.Alert(rec, n, clock.Now())
	ls := text.AckLinks(rec, n.People, clock.Now())
	if len(ls) != 2 || ls["alice"] == ls["bob"] || !strings.Contains(msg, "@alice "+ls["alice"]) || !strings.Contains(msg, "@bob "+ls["bob"]) {
		t.Fatalf("alert %q, links %v", msg, ls)
	}
	target := func(link string) string { u, _ := url.Parse(link); return u.RequestURI() }
	do := func(method, link string) *httptest.ResponseRecorder {
		var body *strings.Reader
		if method == "POST" {
			body = strings.NewReader("note=on+my+way")
		} else {
			body = strings.NewReader("")
		}
		req := httptest.NewRequest(method, target(link), body)
		req.Header.Set("Accept", "text/html")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		if method == "POST" {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	alice := ls["alice"]

	// Refused: altered, for another event, expired (with a clock past it).
	tok := strings.TrimPrefix(target(alice), "/api/v1/events/"+dt.ID+"/ack?link=")
	for name, link := range map[string]string{
		"altered":       strings.Replace(alice, "link=", "link=A", 1),
		"another event": "https://hub.example/api/v1/events/" + other.ID + "/ack?link=" + tok,
	} {
		if w := do("POST", link); w.Code != http.StatusUnauthorized {
			t.Errorf("%s link: %d %s", name, w.Code, w.Body)
		}
	}
	// The link opens nothing but its event's acknowledge page.
	for _, path := range []string{"/api/v1/events/" + dt.ID + "/resolve?link=" + tok, "/api/v1/events?link=" + tok, "/api/v1/events/" + dt.ID + "?link=" + tok} {
		method := "GET"
		if strings.Contains(path, "resolve") {
			method = "POST"
		}
		req := httptest.NewRequest(method, path, nil)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusUnauthorized {
			t.Errorf("%s %s with a link: %d", method, path, w.Code)
		}
	}
	if r, _ := s.Get(dt.ID); r.Status != anomaly.Opened {
		t.Fatalf("changed by a refused link: %+v", r)
	}

	// The page (a GET changes nothing) offers to acknowledge as alice.
	if w := do("GET", alice); w.Code != 200 || !strings.Contains(w.Body.String(), "Acknowledge as <b>alice</b>") {
		t.Fatalf("page: %d %s", w.Code, w.Body)
	}
	if w := do("POST", alice); w.Code != 200 {
		t.Fatalf("acknowledging: %d %s", w.Code, w.Body)
	}
	if r, _ := s.Get(dt.ID); r.Status != anomaly.Acknowledged || r.AcknowledgedBy != "alice" || r.Note != "on my way" {
		t.Fatalf("record %+v", r)
	}
	// Once: the same link again, and bob's, are refused.
	if w := do("POST", alice); w.Code != http.StatusGone {
		t.Fatalf("used link: %d %s", w.Code, w.Body)
	}
	if w := do("POST", ls["bob"]); w.Code != http.StatusConflict {
		t.Fatalf("bob's link after alice acknowledged: %d %s", w.Code, w.Body)
	}
	// Expired.
	ls = text.AckLinks(func() anomaly.Record { r, _ := s.Get(other.ID); return r }(), []string{"alice"}, clock.Now())
	clock.mu.Lock()
	clock.t = clock.t.Add(31 * time.Minute)
	clock.mu.Unlock()
	if w := do("POST", ls["alice"]); w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), "expired") {
		t.Fatalf("expired link: %d %s", w.Code, w.Body)
	}
	if r, _ := s.Get(other.ID); r.Status != anomaly.Opened {
		t.Fatalf("changed by an expired link: %+v", r)
	}
}
