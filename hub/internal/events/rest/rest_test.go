package rest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/floorpulse/floorpulse/hub/internal/anomaly"
	"github.com/floorpulse/floorpulse/hub/internal/auth"
	"github.com/floorpulse/floorpulse/hub/internal/events/ledger"
)

// doJSON sends a request to h and checks the status; it returns the decoded JSON object.
func doJSON(t *testing.T, h http.Handler, method, target, body string, status int) map[string]any {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != status {
		t.Fatalf("%s %s: %d %s, want %d", method, target, w.Code, w.Body, status)
	}
	var m map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		t.Fatalf("%s %s: not JSON: %s", method, target, w.Body)
	}
	return m
}

func listIDs(t *testing.T, h http.Handler, query string) (ids []string, next string, more bool) {
	t.Helper()
	m := doJSON(t, h, "GET", "/api/v1/events?"+query, "", http.StatusOK)
	for _, e := range m["events"].([]any) {
		r := e.(map[string]any)
		ids = append(ids, r["equipment"].(string)+"@"+fmt.Sprint(r["revision"]))
	}
	next, _ = m["next"].(string)
	more, _ = m["more"].(bool)
	return ids, next, more
}

func TestREST(t *testing.T) {
	clock := newClock(local("2026-06-01 07:00"))
	s := openLedger(t)
	who := &auth.Identity{Name: "carol", Role: auth.ShiftLeader, Via: "session"}
	h := signedIn(New(s, s, clock.Now, berlin), who)
	t0 := clock.Now()
	var evs []anomaly.Event
	for i := range 7 {
		e := downtime(fmt.Sprintf("M%02d", i), t0)
		if i%2 == 1 {
			e.Type, e.ID, e.Line = anomaly.IdleRunning, fmt.Sprintf("idle-%d", i), "L2"
		}
		evs = append(evs, e)
	}
	// All seven changed at the same instant, in one transaction: listed in the order applied.
	if _, err := s.Apply(evs, t0); err != nil {
		t.Fatal(err)
	}
	// M00 is acknowledged later, so it moves to the end.
	if _, err := s.Ack(evs[0].ID, "alice", "", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}

	var all []string
	cursor := ""
	pages := 0
	for {
		q := "limit=3"
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		ids, next, more := listIDs(t, h, q)
		all = append(all, ids...)
		pages++
		cursor = next
		if !more {
			break
		}
	}
	if len(all) != 7 || pages != 3 || all[0] != "M01@1" || all[6] != "M00@2" {
		t.Fatalf("paged %v in %d pages", all, pages)
	}
	seen := map[string]bool{}
	for _, id := range all {
		if seen[id] {
			t.Fatalf("%s listed twice: %v", id, all)
		}
		seen[id] = true
	}
	// A change after the cursor shows up on the next page of the feed.
	if _, err := s.Resolve(evs[2].ID, "bob", "", t0.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	ids, next, more := listIDs(t, h, "cursor="+url.QueryEscape(cursor))
	if len(ids) != 1 || ids[0] != "M02@2" || more || next == cursor {
		t.Fatalf("after the last cursor: %v %q %v", ids, next, more)
	}
	// Nothing new: the same cursor back, no records.
	if ids, again, more := listIDs(t, h, "cursor="+url.QueryEscape(next)); len(ids) != 0 || again != next || more {
		t.Fatalf("polling an idle feed: %v %q %v", ids, again, more)
	}

	for _, tc := range []struct {
		query string
		want  int
	}{
		{"type=idle_running", 3}, {"line=L1", 4}, {"line=L1&status=opened", 2}, {"status=acknowledged", 1},
		{"status=resolved&type=unplanned_downtime", 1}, {"equipment=M03", 1}, {"site=elsewhere", 0},
		{"since=" + url.QueryEscape(t0.Add(time.Minute).Format(time.RFC3339)), 2},
	} {
		if ids, _, _ := listIDs(t, h, tc.query); len(ids) != tc.want {
			t.Errorf("%s: %v, want %d", tc.query, ids, tc.want)
		}
	}
	// Filters and pages together: 3 idle_running records in pages of 2.
	ids, next, more = listIDs(t, h, "type=idle_running&limit=2")
	rest, _, more2 := listIDs(t, h, "type=idle_running&limit=2&cursor="+url.QueryEscape(next))
	if len(ids) != 2 || !more || len(rest) != 1 || more2 || ids[0] == rest[0] || ids[1] == rest[0] {
		t.Fatalf("filtered pages %v %v", ids, rest)
	}

	// One record; lifecycle over REST.
	id := evs[4].ID
	if r := doJSON(t, h, "GET", "/api/v1/events/"+id, "", http.StatusOK); r["id"] != id || r["status"] != "opened" {
		t.Fatalf("get: %v", r)
	}
	if r := doJSON(t, h, "POST", "/api/v1/events/"+id+"/ack", `{"note":"looking"}`, http.StatusOK); r["status"] != "acknowledged" || r["revision"] != 2.0 || r["acknowledged_by"] != "carol" {
		t.Fatalf("ack: %v", r)
	}
	doJSON(t, h, "POST", "/api/v1/events/"+id+"/ack", `{"by":"carol"}`, http.StatusConflict)
	who.Name = "dave"
	// A name in the body is not who acts.
	doJSON(t, h, "POST", "/api/v1/events/"+id+"/resolve", `{"by":"mallory"}`, http.StatusBadRequest)
	if r := doJSON(t, h, "POST", "/api/v1/events/"+id+"/resolve", `{"note":"fixed"}`, http.StatusOK); r["status"] != "resolved" || r["resolved_by"] != "dave" || r["revision"] != 3.0 {
		t.Fatalf("resolve: %v", r)
	}
	if r := doJSON(t, h, "POST", "/api/v1/events/"+id+"/resolve", ``, http.StatusConflict); !strings.Contains(r["error"].(string), "already resolved by dave") {
		t.Fatalf("second resolve: %v", r)
	}
}

func TestRESTBadRequests(t *testing.T) {
	clock := runningFrom(local("2026-06-01 07:00"))
	s := openLedger(t)
	who := &auth.Identity{Name: "Alice A.", Role: auth.ShiftLeader, Via: "session"}
	h := signedIn(New(s, s, clock, berlin), who)
	now := clock()
	dt := downtime("M01", now)
	if _, err := s.Apply([]anomaly.Event{dt}, now); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		method, target, body string
		status               int
		msg                  string
	}{
		{"GET", "/api/v1/events?limit=0", "", 400, "limit must be between 1 and 1000"},
		{"GET", "/api/v1/events?limit=x", "", 400, "limit"},
		{"GET", "/api/v1/events?type=meltdown", "", 400, `unknown type "meltdown"`},
		{"GET", "/api/v1/events?status=open", "", 400, `unknown status "open"`},
		{"GET", "/api/v1/events?since=yesterday", "", 400, "since must be an RFC 3339 time"},
		{"GET", "/api/v1/events?cursor=%25%25", "", 400, "bad cursor"},
		{"GET", "/api/v1/events?lin=L1", "", 400, `unknown parameter "lin"`},
		{"GET", "/api/v1/events/nope", "", 404, "no such event"},
		{"POST", "/api/v1/events/nope/ack", `{}`, 404, "no such event"},
		{"POST", "/api/v1/events/" + dt.ID + "/ack", `{"by":"bob"}`, 400, `"by" is who sent the request ("Alice A.")`},
		{"POST", "/api/v1/events/" + dt.ID + "/ack", `{"note":"a","who":"b"}`, 400, `unknown field "who"`},
		{"POST", "/api/v1/events/" + dt.ID + "/ack", `{"note":"a"} {"note":"b"}`, 400, "trailing data"},
		{"POST", "/api/v1/events/" + dt.ID + "/ack", `{"note":1}`, 400, "want a JSON object"},
		{"POST", "/api/v1/events/" + dt.ID + "/resolve", `{"note":"` + strings.Repeat("x", 5000) + `"}`, 400, "at most 4096 bytes"},
		{"GET", "/api/v1/events/deadletters?after=-1", "", 400, "after must be a sequence number"},
		{"POST", "/api/v1/events/deadletters/x/retry", "", 400, "not a sequence number"},
	} {
		r := doJSON(t, h, tc.method, tc.target, tc.body, tc.status)
		if msg, _ := r["error"].(string); !strings.Contains(msg, tc.msg) {
			t.Errorf("%s %s %s: error %q lacks %q", tc.method, tc.target, tc.body, msg, tc.msg)
		}
	}
	// Without an identity nothing is acknowledged.
	who.Name = ""
	doJSON(t, h, "POST", "/api/v1/events/"+dt.ID+"/ack", `{}`, http.StatusUnauthorized)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/api/v1/events/"+dt.ID+"/ack", nil))
	if w.Code != 200 || strings.Contains(w.Body.String(), "<form") {
		t.Fatalf("ack page without a shift leader: %d %s", w.Code, w.Body)
	}
	who.Name = "Alice A."
	// Nothing above changed the record.
	if r, _ := s.Get(dt.ID); r.Revision != 1 || r.Status != anomaly.Opened {
		t.Fatalf("record changed: %+v", r)
	}
	// The ack page: GET shows a form and changes nothing; the form posts.
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/api/v1/events/"+dt.ID+"/ack", nil))
	if w.Code != 200 || !strings.Contains(w.Body.String(), `<form method="post">`) || !strings.Contains(w.Body.String(), "Acknowledge as <b>Alice A.</b>") || !strings.Contains(w.Body.String(), "L1/M01") {
		t.Fatalf("ack page: %d %s", w.Code, w.Body)
	}
	req := httptest.NewRequest("POST", "/api/v1/events/"+dt.ID+"/ack", strings.NewReader("note=coming"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w = httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if r, _ := s.Get(dt.ID); w.Code != 200 || r.Status != anomaly.Acknowledged || r.AcknowledgedBy != "Alice A." || r.Note != "coming" {
		t.Fatalf("form ack: %d %s %+v", w.Code, w.Body, r)
	}
	if strings.Contains(w.Body.String(), "<form") {
		t.Fatal("the page after acknowledging still offers the form")
	}
}

func FuzzDecodeAction(f *testing.F) {
	for _, seed := range []string{`{"by":"alice","note":"x"}`, `{"by":""}`, `{}`, `null`, `{"by":"a"}{}`, `{"by":"\u0000"}`, "by=a&note=b", "by=%zz", ""} {
		f.Add("application/json", []byte(seed))
		f.Add("application/x-www-form-urlencoded", []byte(seed))
	}
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		a, err := DecodeAction(ct, bytes.NewReader(body), "alice")
		if err != nil {
			if !errors.Is(err, ledger.ErrInvalid) {
				t.Fatalf("error not ErrInvalid: %v", err)
			}
			return
		}
		if a.By != "alice" || a.By != strings.TrimSpace(a.By) || len(a.By) > ledger.MaxBy || len(a.Note) > ledger.MaxNote ||
			!utf8.ValidString(a.By) || !utf8.ValidString(a.Note) || strings.ContainsFunc(a.By, isControl) {
			t.Fatalf("accepted a bad action %+v from %q", a, body)
		}
		// What was accepted survives the store's own check.
		if err := ledger.CheckAction(a.By, a.Note); err != nil {
			t.Fatalf("decoded %+v fails CheckAction: %v", a, err)
		}
	})
}

func FuzzParseFilter(f *testing.F) {
	for _, seed := range []string{"type=idle_running&limit=5", "since=2026-06-01T00:00:00Z", "limit=1001", "status=x", "cursor=AAAA", "a=b", "%"} {
		f.Add(seed)
	}
	s, err := ledger.Open(f.TempDir()+"/events.db", ledger.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		flt, cursor, limit, err := ParseFilter(q)
		if err != nil {
			if !errors.Is(err, ledger.ErrInvalid) {
				t.Fatalf("error not ErrInvalid: %v", err)
			}
			return
		}
		if limit < 1 || limit > 1000 {
			t.Fatalf("limit %d accepted", limit)
		}
		if _, _, _, err := s.List(flt, cursor, limit); err != nil && !errors.Is(err, ledger.ErrInvalid) {
			t.Fatalf("List: %v", err)
		}
	})
}
