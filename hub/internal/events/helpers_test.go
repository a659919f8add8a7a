package events

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/alert"
	"github.com/floorpulse/floorpulse/hub/internal/anomaly"
	"github.com/floorpulse/floorpulse/hub/internal/calendar"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// testSecret is a Standard Webhooks secret: 32 bytes of 0x2a.
var testSecret = "whsec_" + base64.StdEncoding.EncodeToString([]byte(strings.Repeat("*", 32)))

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *fakeClock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// request is one request a receiver got.
type request struct {
	Header http.Header
	Body   []byte
	Status int
}

// receiver is a real HTTP server that records requests and answers with
// status(n) for the n-th request (1-based).
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	reqs   []request
	status func(n int) int
}

func newReceiver(t *testing.T, status func(n int) int) *receiver {
	r := &receiver{status: status}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		code := http.StatusOK
		if r.status != nil {
			code = r.status(len(r.reqs) + 1)
		}
		r.reqs = append(r.reqs, request{Header: req.Header.Clone(), Body: body, Status: code})
		r.mu.Unlock()
		w.WriteHeader(code)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) requests() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]request(nil), r.reqs...)
}

// accepted returns the bodies answered 2xx, decoded as generic JSON.
func (r *receiver) accepted(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, q := range r.requests() {
		if q.Status/100 != 2 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(q.Body, &m); err != nil {
			t.Fatalf("body is not JSON: %v: %s", err, q.Body)
		}
		out = append(out, m)
	}
	return out
}

// verify checks a Standard Webhooks signature independently of Sign.
func verify(t *testing.T, secret string, h http.Header, body []byte) {
	t.Helper()
	if err := checkSignature(secret, h, body); err != nil {
		t.Fatal(err)
	}
}

func checkSignature(secret string, h http.Header, body []byte) error {
	id, ts, sig := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || sig == "" {
		return fmt.Errorf("missing Standard Webhooks headers: id %q timestamp %q signature %q", id, ts, sig)
	}
	if _, err := strconv.ParseInt(ts, 10, 64); err != nil {
		return fmt.Errorf("timestamp %q is not integer seconds", ts)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return err
	}
	mac := hmac.New(sha256.New, key)
	io.WriteString(mac, id+"."+ts+"."+string(body))
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	for _, s := range strings.Fields(sig) {
		if hmac.Equal([]byte(s), []byte(want)) {
			return nil
		}
	}
	return fmt.Errorf("signature %q does not verify (want %q)", sig, want)
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// drained waits until the outbox is empty.
func drained(t *testing.T, s *Store) {
	t.Helper()
	eventually(t, 10*time.Second, "the outbox to drain", func() bool {
		p, err := s.Pending()
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range p {
			if n > 0 {
				return false
			}
		}
		return true
	})
}

func pending(t *testing.T, s *Store) map[string]int {
	t.Helper()
	p, err := s.Pending()
	if err != nil {
		t.Fatal(err)
	}
	for k, n := range p {
		if n == 0 {
			delete(p, k)
		}
	}
	return p
}

var berlin = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		panic(err)
	}
	return loc
}()

func shifts() *calendar.Calendar {
	c := func(s string) calendar.Clock { v, _ := calendar.ParseClock(s); return v }
	return &calendar.Calendar{Loc: berlin, Shifts: []calendar.Recurring{{Name: "early", Start: c("06:00"), End: c("14:00")},
		{Name: "late", Start: c("14:00"), End: c("22:00")}, {Name: "night", Start: c("22:00"), End: c("06:00")}}}
}

func testPolicy() alert.Policy {
	return alert.Policy{
		Roster: alert.Roster{
			People: map[string]alert.Person{"alice": {Channel: "leaders", Mention: "@alice"}, "bob": {Channel: "leaders"},
				"boss": {Channel: "mgmt"}},
			Lines:      map[string]map[string][]string{"L1": {"early": {"alice"}, "late": {"bob"}}},
			Management: []string{"boss"},
		},
		MaxAge: 15 * time.Minute, EscalateAfter: 10 * time.Minute,
	}
}

// baseOptions: the plant calendar above, the roster above, fast retries.
// Without a fake clock, the store's clock runs in real time from an instant
// in the early shift, so who is on duty does not depend on when the tests
// run.
func baseOptions(clock *fakeClock) Options {
	o := Options{Location: berlin, Calendar: func(string, string) *calendar.Calendar { return shifts() },
		Alerts: testPolicy(), RetryMin: 5 * time.Millisecond, RetryMax: 20 * time.Millisecond, Poll: 10 * time.Millisecond,
		PublicURL: "https://hub.example"}
	if clock != nil {
		o.Clock = clock.Now
	} else {
		o.Clock = runningFrom(local("2026-06-01 07:00"))
	}
	return o
}

// runningFrom is a clock that reads origin when it is made and then runs
// in real time.
func runningFrom(origin time.Time) func() time.Time {
	t0 := time.Now()
	return func() time.Time { return origin.Add(time.Since(t0)) }
}

func openStore(t *testing.T, path string, o Options) *Store {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "events.db")
	}
	s, err := Open(path, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func local(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, berlin)
	if err != nil {
		panic(err)
	}
	return t
}

// downtime is an open unplanned downtime of plant1/L1/<eq> that started 5 minutes before detected.
func downtime(eq string, detected time.Time) anomaly.Event {
	k := signal.Key{Site: "plant1", Line: "L1", Equipment: eq}
	start := detected.Add(-5 * time.Minute)
	return anomaly.Event{ID: anomaly.EventID(anomaly.UnplannedDowntime, k, "", start), Type: anomaly.UnplannedDowntime,
		Severity: anomaly.Warning, Site: k.Site, Line: k.Line, Equipment: k.Equipment, Start: start, Detected: detected,
		Evidence: map[string]float64{"min_duration_s": 300}, Reason: "stopped in shift"}
}

func ended(e anomaly.Event, end time.Time) anomaly.Event {
	e.End = &end
	return e
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

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
