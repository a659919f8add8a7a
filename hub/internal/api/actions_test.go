package api

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/action"
	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/anomaly"
	"github.com/floorpulse/floorpulse/hub/internal/auth"
	"github.com/floorpulse/floorpulse/hub/internal/engine"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// improvedEngine holds M1 on L1: running 00:00-20:00 each day of October
// and early November 2026 with a stop at 08:00, four hours long until
// 10-22 and two hours from then on; M2 on L1 runs 00:00-12:00 throughout.
func improvedEngine(t *testing.T) (*engine.Engine, *time.Location) {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	reg := []activity.Equipment{{Key: signal.Key{Site: "s", Line: "L1", Equipment: "M1"}}, {Key: signal.Key{Site: "s", Line: "L1", Equipment: "M2"}}}
	eng := engine.New(engine.Options{Location: loc, Registry: reg, Threshold: func(string) time.Duration { return 80 * time.Hour }}, nil)
	var sigs []signal.Signal
	add := func(eq string, at time.Time, st string) {
		sigs = append(sigs, signal.Signal{Site: "s", Line: "L1", Equipment: eq, Name: signal.State, Value: signal.String(st), Time: at},
			signal.Signal{Site: "s", Line: "L1", Equipment: eq, Name: signal.Run, Value: signal.Bool(st == "running"), Time: at})
	}
	for d := time.Date(2026, 10, 1, 0, 0, 0, 0, loc); d.Before(time.Date(2026, 11, 10, 0, 0, 0, 0, loc)); d = d.AddDate(0, 0, 1) {
		at := func(h int) time.Time { return time.Date(d.Year(), d.Month(), d.Day(), h, 0, 0, 0, loc) }
		stop := 12
		if !d.Before(time.Date(2026, 10, 22, 0, 0, 0, 0, loc)) {
			stop = 10
		}
		add("M1", at(0), "running")
		add("M1", at(8), "down")
		add("M1", at(stop), "running")
		add("M1", at(20), "idle")
		add("M2", at(0), "running")
		add("M2", at(12), "idle")
	}
	end := time.Date(2026, 11, 10, 0, 0, 0, 0, loc)
	add("M1", end, "idle")
	add("M2", end, "idle")
	eng.Apply(sigs)
	return eng, loc
}

func send(t *testing.T, srv *httptest.Server, method, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// An action on M1 is opened, started and done through the API with the
// real store; its effect, read back, is the halved downtime the machine's
// signals show, over 14 days each side, and complete once they have passed.
func TestActionLifecycleAndEffect(t *testing.T) {
	eng, loc := improvedEngine(t)
	st, err := action.OpenStore(filepath.Join(t.TempDir(), "actions.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 10, 20, 10, 0, 0, 0, loc)
	event := anomaly.Record{Event: anomaly.Event{ID: "ev1", Site: "s", Line: "L1", Equipment: "M1", Start: time.Date(2026, 10, 12, 8, 0, 0, 0, loc)}}
	acts := action.Handler(action.Options{Store: st, Location: loc, Site: "s", WindowDays: 14, Clock: func() time.Time { return now },
		Day: ActionDay(eng), Known: ActionKnown(eng),
		Events: func(from, to time.Time) ([]anomaly.Record, error) {
			return []anomaly.Record{event}, nil
		},
		Event: func(id string) (action.Subject, bool) {
			if id != event.ID {
				return action.Subject{}, false
			}
			return action.Subject{Site: event.Site, Line: event.Line, Equipment: event.Equipment}, true
		}})
	as := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.ServeHTTP(w, r.WithContext(auth.WithIdentity(r.Context(), auth.Identity{Name: "lea", Role: auth.ShiftLeader})))
		})
	}
	srv := httptest.NewServer(as(New(eng, loc, "s", nil, WithActions(acts))))
	defer srv.Close()

	code, body := send(t, srv, "POST", "/api/v1/actions", `{"what":"replace the spindle seal","owner":"tom","due":"2026-10-25","subject":{"kind":"event","event":"ev1"}}`)
	if code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	var a action.JSON
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		t.Fatal(err)
	}
	if a.ID != "A000001" || a.Status != action.Open || a.Subject.Equipment != "M1" || a.CreatedBy != "lea" || a.Effect != nil {
		t.Fatalf("created %s", body)
	}
	for _, bad := range []string{`{"what":"","owner":"tom","due":"2026-10-25","subject":{"kind":"machine","line":"L1","equipment":"M1"}}`,
		`{"what":"x","owner":"tom","due":"25.10.2026","subject":{"kind":"machine","line":"L1","equipment":"M1"}}`,
		`{"what":"x","owner":"tom","due":"2026-10-25","subject":{"kind":"event","event":"nope"}}`,
		`{"what":"x","owner":"tom","due":"2026-10-25","subject":{"kind":"machine","line":"L1","equipment":"M1"},"extra":1}`,
		`{"what":"x","owner":"tom","due":"2026-10-25","subject":{"kind":"machine","line":"L1","equipment":"M9"}}`,
		`{"what":"x","owner":"tom","due":"2026-10-25","subject":{"kind":"line","line":"L7"}}`} {
		if code, body := send(t, srv, "POST", "/api/v1/actions", bad); code != http.StatusBadRequest {
			t.Errorf("%s: %d %s", bad, code, body)
		}
	}
	now = time.Date(2026, 10, 21, 9, 0, 0, 0, loc)
	if code, body := send(t, srv, "PATCH", "/api/v1/actions/A000001", `{"status":"in_progress","note":"seal ordered"}`); code != 200 {
		t.Fatalf("start: %d %s", code, body)
	}
	now = time.Date(2026, 10, 22, 15, 0, 0, 0, loc)
	if code, body := send(t, srv, "PATCH", "/api/v1/actions/A000001", `{"status":"done"}`); code != 200 {
		t.Fatalf("done: %d %s", code, body)
	}
	now = time.Date(2026, 11, 6, 8, 0, 0, 0, loc)
	code, body = send(t, srv, "GET", "/api/v1/actions/A000001", "")
	if code != 200 {
		t.Fatalf("get: %d %s", code, body)
	}
	a = action.JSON{}
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		t.Fatal(err)
	}
	if a.Status != action.Done || a.DoneAt == nil || len(a.History) != 4 || a.History[2].Field != "note" || a.History[3].To != action.Done {
		t.Fatalf("history %s", body)
	}
	e := a.Effect
	if e == nil || !e.Complete || e.Before.Days != 14 || e.After.Days != 14 {
		t.Fatalf("effect %s", body)
	}
	if e.Before.DownHoursPerDay != 4 || e.After.DownHoursPerDay != 2 || e.Delta.DownHoursPerDay != -2 ||
		e.Before.RunHoursPerDay != 16 || e.Before.Failures != 14 || e.After.Failures != 14 || e.Before.Events != 1 || e.After.Events != 0 {
		t.Errorf("effect %+v", *e)
	}
	afterRun := 253.0
	afterRun /= 14 // 2026-10-25 has 25 h and runs 19 of them
	if e.After.RunHoursPerDay != afterRun {
		t.Errorf("after run h/day %v, want %v", e.After.RunHoursPerDay, afterRun)
	}
	// Done is final until reopened; the list filters by status and month.
	if code, _ := send(t, srv, "PATCH", "/api/v1/actions/A000001", `{"status":"in_progress"}`); code != http.StatusBadRequest {
		t.Errorf("done -> in_progress: %d", code)
	}
	send(t, srv, "POST", "/api/v1/actions", `{"what":"retrain the late shift","owner":"kim","due":"2026-11-30","subject":{"kind":"line","line":"L1"}}`)
	for q, want := range map[string]int{"": 2, "?status=done": 1, "?status=open": 1, "?month=2026-10": 1, "?month=2026-11": 1, "?equipment=M1": 1} {
		code, body := send(t, srv, "GET", "/api/v1/actions"+q, "")
		var l struct{ Actions []action.JSON }
		if err := json.Unmarshal([]byte(body), &l); err != nil || code != 200 || len(l.Actions) != want {
			t.Errorf("list %q: %d, %d actions, want %d", q, code, len(l.Actions), want)
		}
	}
	if code, _ := send(t, srv, "GET", "/api/v1/actions/A000009", ""); code != 404 {
		t.Errorf("unknown id: %d", code)
	}
}
