package ledger

import (
	"errors"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/anomaly"
)

// A change and the items it causes are stored in one transaction: when the
// Router or the Alerter fails, neither the record nor any item is kept.
func TestApplyStoresChangeWithItsItems(t *testing.T) {
	tests := []struct {
		name        string
		routeErr    error
		alertErr    error
		wantPending map[string]int
	}{
		{"both succeed", nil, nil, map[string]int{"stream": 1, "cmms": 1, "leaders": 1}},
		{"router fails", errRoute, nil, map[string]int{}},
		{"alerter fails", nil, errRoute, map[string]int{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &fakeRouter{dests: []string{"stream", "cmms"}, err: tc.routeErr}
			s := open(t, "", Options{Dests: []string{"stream", "cmms", "leaders"}, Router: r, Alerter: &fakeAlerter{err: tc.alertErr}})
			other := event(anomaly.IdleRunning, "L1", "M02")
			dt := downtime("M01")
			changed, err := s.Apply([]anomaly.Event{other, dt}, t0)
			failed := tc.routeErr != nil || tc.alertErr != nil
			if failed != (err != nil) {
				t.Fatalf("apply: %v, want failure %v", err, failed)
			}
			if failed && !errors.Is(err, errRoute) {
				t.Fatalf("apply: %v, want the cause wrapped", err)
			}
			if !failed && len(changed) != 2 {
				t.Fatalf("changed %d records, want 2", len(changed))
			}
			if got := pending(t, s); !failed && !maps.Equal(got, map[string]int{"stream": 2, "cmms": 2, "leaders": 1}) {
				t.Fatalf("pending %v", got)
			} else if failed && len(got) != 0 {
				t.Fatalf("a failed change left items: %v", got)
			}
			for _, e := range []anomaly.Event{other, dt} {
				_, err := s.Get(e.ID)
				if failed && !errors.Is(err, ErrNotFound) {
					t.Fatalf("a failed change left record %s: %v", e.Type, err)
				}
				if !failed && err != nil {
					t.Fatal(err)
				}
			}
			recs, _, _, err := s.List(Filter{}, "", 10)
			if err != nil || (failed && len(recs) != 0) {
				t.Fatalf("list after failure: %v %v", recs, err)
			}
		})
	}
}

// Applying the same detections again stores one record and one set of
// items with the same ids, and tells nobody; so does the same event read
// in another time zone, and one whose evidence JSON cannot carry.
func TestApplyTwiceChangesNothing(t *testing.T) {
	berlin := time.FixedZone("CEST", 2*3600)
	tests := []struct {
		name  string
		again func(anomaly.Event) anomaly.Event
	}{
		{"same event", func(e anomaly.Event) anomaly.Event { return e }},
		{"other time zone", func(e anomaly.Event) anomaly.Event {
			e.Start, e.Detected = e.Start.In(berlin), e.Detected.In(berlin)
			return e
		}},
		{"NaN evidence", func(e anomaly.Event) anomaly.Event {
			e.Evidence = map[string]float64{"threshold_s": 300, "ratio": math.NaN(), "rate": math.Inf(1)}
			return e
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &fakeRouter{dests: []string{"stream"}}
			a := &fakeAlerter{}
			s := open(t, "", Options{Dests: []string{"stream", "leaders"}, Router: r, Alerter: a})
			e := downtime("M01")
			first := apply(t, s, t0, tc.again(e))
			if len(first) != 1 || first[0].Revision != 1 || first[0].Status != anomaly.Opened {
				t.Fatalf("first apply: %+v", first)
			}
			before, alertsBefore := ids(t, s, "stream"), ids(t, s, "leaders")
			for i := range 2 {
				if changed := apply(t, s, t0.Add(time.Duration(i+1)*time.Minute), e, tc.again(e)); len(changed) != 0 {
					t.Fatalf("re-detection %d changed %+v", i+1, changed)
				}
			}
			if got := ids(t, s, "stream"); !slices.Equal(got, before) || !slices.Equal(got, []string{e.ID + "-1"}) {
				t.Fatalf("stream items %v, then %v", before, got)
			}
			if got := ids(t, s, "leaders"); !slices.Equal(got, alertsBefore) || len(got) != 1 {
				t.Fatalf("alert items %v, then %v", alertsBefore, got)
			}
			if n := len(r.routed()); n != 1 {
				t.Fatalf("routed %d times: %v", n, r.routed())
			}
			rec, err := s.Get(e.ID)
			if err != nil || rec.Revision != 1 || !rec.Updated.Equal(t0) {
				t.Fatalf("record after re-detections: %+v %v", rec, err)
			}
		})
	}
}

// Applying detections without an id fails the whole batch.
func TestApplyRejectsEventWithoutID(t *testing.T) {
	s := open(t, "", Options{})
	good, bad := downtime("M01"), downtime("M02")
	bad.ID = ""
	if _, err := s.Apply([]anomaly.Event{good, bad}, t0); err == nil {
		t.Fatal("an event without id was accepted")
	}
	if _, err := s.Get(good.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the batch was stored in part: %v", err)
	}
}

// A record goes opened -> acknowledged -> resolved (by hand or by the
// data), each step a new revision routed with its kind.
func TestLifecycle(t *testing.T) {
	type step struct {
		do         func(s *Store, id string, now time.Time) (anomaly.Record, error)
		wantStatus string
		wantChange string
	}
	ack := step{func(s *Store, id string, now time.Time) (anomaly.Record, error) {
		return s.Ack(id, "alice", "on it", now)
	}, anomaly.Acknowledged, "acknowledged"}
	resolve := step{func(s *Store, id string, now time.Time) (anomaly.Record, error) {
		return s.Resolve(id, "bob", "belt replaced", now)
	}, anomaly.Resolved, "resolved"}
	update := step{func(s *Store, id string, now time.Time) (anomaly.Record, error) {
		e := downtime("M01")
		e.Severity = anomaly.Critical
		return one(s.Apply([]anomaly.Event{e}, now))
	}, anomaly.Opened, "updated"}
	endByData := step{func(s *Store, id string, now time.Time) (anomaly.Record, error) {
		return one(s.Apply([]anomaly.Event{ended(downtime("M01"), now)}, now))
	}, anomaly.Resolved, "resolved"}
	tests := []struct {
		name  string
		steps []step
	}{
		{"acknowledged then resolved", []step{ack, resolve}},
		{"resolved without acknowledgement", []step{resolve}},
		{"updated, acknowledged, ended by the data", []step{update, ack, endByData}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &fakeRouter{dests: []string{"stream"}}
			s := open(t, "", Options{Dests: []string{"stream"}, Router: r})
			id := apply(t, s, t0, downtime("M01"))[0].ID
			wantRouted := []string{id + "-1 opened"}
			for i, st := range tc.steps {
				now := t0.Add(time.Duration(i+1) * time.Minute)
				rec, err := st.do(s, id, now)
				if err != nil {
					t.Fatalf("step %d: %v", i+1, err)
				}
				rev := uint64(i + 2)
				if rec.Status != st.wantStatus || rec.Revision != rev || !rec.Updated.Equal(now) {
					t.Fatalf("step %d: status %s revision %d updated %s, want %s %d %s", i+1, rec.Status, rec.Revision, rec.Updated, st.wantStatus, rev, now)
				}
				if got, _ := s.Get(id); got.Revision != rev || got.Status != st.wantStatus {
					t.Fatalf("step %d: stored %s revision %d", i+1, got.Status, got.Revision)
				}
				wantRouted = append(wantRouted, id+"-"+itoa(rev)+" "+st.wantChange)
			}
			if got := r.routed(); !slices.Equal(got, wantRouted) {
				t.Fatalf("routed %v, want %v", got, wantRouted)
			}
			rec, _ := s.Get(id)
			if rec.Status == anomaly.Resolved && rec.ResolvedAt == nil {
				t.Fatal("resolved without a time")
			}
			if rec.AcknowledgedBy == "alice" && (rec.AcknowledgedAt == nil || rec.Note == "") {
				t.Fatalf("acknowledgement without time or note: %+v", rec)
			}
		})
	}
}

func one(recs []anomaly.Record, err error) (anomaly.Record, error) {
	if err != nil || len(recs) != 1 {
		return anomaly.Record{}, errors.Join(err, errors.New("want one changed record"))
	}
	return recs[0], nil
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

// Transitions the lifecycle does not allow are rejected with the right
// error, and change nothing.
func TestLifecycleRejects(t *testing.T) {
	tests := []struct {
		name   string
		status string // the record's status before ("": no such record)
		by     string
		do     func(s *Store, id, by string) error
		want   error
	}{
		{"acknowledge twice", anomaly.Acknowledged, "bob", doAck, ErrConflict},
		{"acknowledge resolved", anomaly.Resolved, "bob", doAck, ErrConflict},
		{"resolve resolved", anomaly.Resolved, "bob", doResolve, ErrConflict},
		{"acknowledge unknown", "", "bob", doAck, ErrNotFound},
		{"resolve unknown", "", "bob", doResolve, ErrNotFound},
		{"acknowledge by nobody", anomaly.Opened, " ", doAck, ErrInvalid},
		{"resolve by nobody", anomaly.Opened, "", doResolve, ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &fakeRouter{dests: []string{"stream"}}
			s := open(t, "", Options{Dests: []string{"stream"}, Router: r})
			id := "no-such-event"
			if tc.status != "" {
				id = apply(t, s, t0, downtime("M01"))[0].ID
				switch tc.status {
				case anomaly.Acknowledged:
					_, err := s.Ack(id, "alice", "", t0)
					must(t, err)
				case anomaly.Resolved:
					_, err := s.Resolve(id, "alice", "", t0)
					must(t, err)
				}
			}
			before, _ := s.Get(id)
			routed := len(r.routed())
			if err := tc.do(s, id, tc.by); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if after, _ := s.Get(id); after.Revision != before.Revision || after.Status != before.Status {
				t.Fatalf("a rejected action changed the record: %+v", after)
			}
			if len(r.routed()) != routed || len(ids(t, s, "stream")) != routed {
				t.Fatal("a rejected action was routed")
			}
		})
	}
}

func doAck(s *Store, id, by string) error {
	_, err := s.Ack(id, by, "", t0.Add(time.Minute))
	return err
}

func doResolve(s *Store, id, by string) error {
	_, err := s.Resolve(id, by, "", t0.Add(time.Minute))
	return err
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestCheckAction(t *testing.T) {
	tests := []struct {
		name, by, note string
		ok             bool
	}{
		{"name and note", "alice", "belt replaced", true},
		{"name only", "Jürgen Weiß", "", true},
		{"longest name", strings.Repeat("a", MaxBy), strings.Repeat("n", MaxNote), true},
		{"note with new lines", "alice", "line 1\nline 2", true},
		{"empty name", "", "x", false},
		{"blank name", " \t", "", false},
		{"name too long", strings.Repeat("a", MaxBy+1), "", false},
		{"control character in name", "ali\x1bce", "", false},
		{"new line in name", "alice\nbob", "", false},
		{"DEL in name", "alice\x7f", "", false},
		{"name not UTF-8", "al\xffice", "", false},
		{"note too long", "alice", strings.Repeat("n", MaxNote+1), false},
		{"note not UTF-8", "alice", "\xfe", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckAction(tc.by, tc.note)
			if tc.ok != (err == nil) {
				t.Fatalf("CheckAction(%q, %d bytes) = %v, want ok %v", tc.by, len(tc.note), err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
		})
	}
}
