package ledger

import (
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/anomaly"
)

// Alerts are stepped for downtime records only; timers fire the Alerter at
// their due time and not before; a finished alert is never stepped again.
func TestAlertTimers(t *testing.T) {
	a := &fakeAlerter{interval: 10 * time.Minute}
	s := open(t, "", Options{Dests: []string{"leaders"}, Alerter: a})
	dt := downtime("M01")
	apply(t, s, t0, dt, event(anomaly.SignalLoss, "L1", "M02"))
	steps := []struct {
		name       string
		do         func() error
		wantSteps  []string
		wantAlerts []string
	}{
		{"first seen", func() error { return nil },
			[]string{dt.ID + " "}, []string{"opened"}},
		{"not yet due", func() error { return s.Due(t0.Add(9 * time.Minute)) },
			nil, nil},
		{"repeat due", func() error { return s.Due(t0.Add(10 * time.Minute)) },
			[]string{dt.ID + " active"}, []string{"repeat"}},
		{"same time again", func() error { return s.Due(t0.Add(10 * time.Minute)) },
			nil, nil},
		{"next repeat, late", func() error { return s.Due(t0.Add(25 * time.Minute)) },
			[]string{dt.ID + " active"}, []string{"repeat"}},
		{"acknowledged: the timer goes", func() error { _, err := s.Ack(dt.ID, "bob", "", t0.Add(26*time.Minute)); return err },
			[]string{dt.ID + " active"}, []string{"acknowledged"}},
		{"no timer after the acknowledgement", func() error { return s.Due(t0.Add(40 * time.Minute)) },
			nil, nil},
		{"resolved", func() error { _, err := s.Resolve(dt.ID, "bob", "", t0.Add(41*time.Minute)); return err },
			[]string{dt.ID + " active"}, []string{"resolved"}},
		{"done: no timer", func() error { return s.Due(t0.Add(24 * time.Hour)) },
			nil, nil},
		{"done: a later change is not stepped", func() error {
			_, err := s.Apply([]anomaly.Event{ended(dt, t0.Add(27*time.Minute))}, t0.Add(27*time.Minute))
			return err
		}, nil, nil},
	}
	seenSteps, seenAlerts := 0, 0
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			must(t, st.do())
			gotSteps := a.stepped()[seenSteps:]
			seenSteps += len(gotSteps)
			if !slices.Equal(gotSteps, st.wantSteps) {
				t.Fatalf("stepped %q, want %q", gotSteps, st.wantSteps)
			}
			all := ids(t, s, "leaders")
			var gotAlerts []string
			for _, id := range all[seenAlerts:] {
				gotAlerts = append(gotAlerts, id[len(dt.ID+"-alert-"):])
			}
			seenAlerts = len(all)
			if !slices.Equal(gotAlerts, st.wantAlerts) {
				t.Fatalf("alerts %v, want %v", gotAlerts, st.wantAlerts)
			}
		})
	}
}

// A store reopened from its file keeps the records, the change order, the
// outbox with its attempts, the dead letters, the alert state and its
// timers.
func TestReopenKeepsEverything(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.db")
	opts := func(a *fakeAlerter) Options {
		return Options{Dests: []string{"stream", "leaders"}, Router: &fakeRouter{dests: []string{"stream"}}, Alerter: a}
	}
	a := &fakeAlerter{interval: 10 * time.Minute}
	s := open(t, path, opts(a))
	m01, m02 := downtime("M01"), event(anomaly.GaugeAnomaly, "L1", "M02")
	apply(t, s, t0, m01, m02)
	_, err := s.Ack(m02.ID, "alice", "checked", t0.Add(time.Minute))
	must(t, err)
	items, _, err := s.Ready("stream", t0, 10)
	must(t, err)
	retry, dead := items[0], items[1]
	retry.Attempts, retry.LastError, retry.NextAt = 2, "timeout", t0.Add(5*time.Minute)
	dead.Attempts, dead.LastError, dead.FailedAt = 20, "no more", t0.Add(2*time.Minute)
	must(t, s.Failed(retry, false))
	must(t, s.Failed(dead, true))
	wantList, cursor, _, err := s.List(Filter{}, "", 10)
	must(t, err)
	must(t, s.Close())
	must(t, s.Close()) // Close is idempotent

	a = &fakeAlerter{interval: 10 * time.Minute}
	s = open(t, path, opts(a))
	checks := []struct {
		name string
		ok   func() bool
	}{
		{"records", func() bool {
			r, err := s.Get(m02.ID)
			return err == nil && r.Revision == 2 && r.AcknowledgedBy == "alice" && r.Note == "checked"
		}},
		{"change order and cursor", func() bool {
			got, next, _, err := s.List(Filter{}, "", 10)
			if err != nil || next != cursor || len(got) != len(wantList) {
				return false
			}
			for i := range got {
				if got[i].ID != wantList[i].ID || got[i].Revision != wantList[i].Revision {
					return false
				}
			}
			more, _, _, _ := s.List(Filter{}, cursor, 10)
			return len(more) == 0
		}},
		{"outbox with attempts", func() bool {
			got, next, err := s.Ready("stream", t0.Add(time.Minute), 10)
			return err == nil && len(got) == 1 && got[0].ID == m02.ID+"-2" && next.Equal(retry.NextAt) &&
				slices.Equal(ids(t, s, "stream"), []string{retry.ID, m02.ID + "-2"}) && attempts(t, s, retry.ID) == 2
		}},
		{"dead letters", func() bool {
			d, err := s.DeadLetters(0, 10)
			return err == nil && len(d) == 1 && d[0].ID == dead.ID && d[0].Attempts == 20 && d[0].LastError == "no more"
		}},
		{"alert timers", func() bool {
			must(t, s.Due(t0.Add(9*time.Minute)))
			before := len(a.stepped())
			must(t, s.Due(t0.Add(10*time.Minute)))
			return before == 0 && slices.Equal(a.stepped(), []string{m01.ID + " active"}) &&
				slices.Contains(ids(t, s, "leaders"), m01.ID+"-alert-repeat")
		}},
		{"alert state: not alerted twice", func() bool {
			apply(t, s, t0.Add(11*time.Minute), m01)
			_, err := s.Ack(m01.ID, "bob", "", t0.Add(12*time.Minute))
			return err == nil && slices.Equal(a.stepped(), []string{m01.ID + " active", m01.ID + " active"}) &&
				slices.Equal(ids(t, s, "leaders"), []string{m01.ID + "-alert-opened", m01.ID + "-alert-repeat", m01.ID + "-alert-acknowledged"})
		}},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if !c.ok() {
				t.Fatal("not kept")
			}
		})
	}
}

func attempts(t *testing.T, s *Store, id string) int {
	t.Helper()
	items, _, err := s.Ready("stream", t0.Add(1000*time.Hour), 1000)
	must(t, err)
	for _, it := range items {
		if it.ID == id {
			return it.Attempts
		}
	}
	return -1
}

// Due fires the timers due at its time, each once, and leaves the later ones.
func TestDueFiresOnlyDueTimers(t *testing.T) {
	a := &fakeAlerter{interval: 10 * time.Minute}
	s := open(t, "", Options{Dests: []string{"leaders"}, Alerter: a})
	m01, m02 := downtime("M01"), downtime("M02")
	apply(t, s, t0, m01)
	apply(t, s, t0.Add(5*time.Minute), m02)
	tests := []struct {
		at   time.Duration
		want []string
	}{
		{9 * time.Minute, nil},
		{10 * time.Minute, []string{m01.ID + " active"}},
		{14 * time.Minute, nil},
		{15 * time.Minute, []string{m02.ID + " active"}},
		{20 * time.Minute, []string{m01.ID + " active"}},
	}
	seen := 2 // the first steps of both
	for _, tc := range tests {
		t.Run(tc.at.String(), func(t *testing.T) {
			must(t, s.Due(t0.Add(tc.at)))
			got := a.stepped()[seen:]
			seen += len(got)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("stepped %q, want %q", got, tc.want)
			}
		})
	}
}
