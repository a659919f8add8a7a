package influx

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/engine"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

func TestDeleteStatementQuotes(t *testing.T) {
	from := time.Date(2026, 10, 5, 20, 0, 0, 0, time.UTC)
	r := engine.StateRange{Key: signal.Key{Site: `s'1`, Line: `L\1`, Equipment: "M01"}, From: from, To: from.Add(time.Hour)}
	want := `DELETE FROM "equipment_state" WHERE "site" = 's\'1' AND "line" = 'L\\1' AND "equipment" = 'M01' AND time >= 1791230400000000000 AND time <= 1791234000000000000`
	if got := DeleteStatement(r); got != want {
		t.Errorf("statement\n got %s\nwant %s", got, want)
	}
	if got, want := V2Predicate(r.Key), `_measurement="equipment_state" AND site="s'1" AND line="L\\1" AND equipment="M01"`; got != want {
		t.Errorf("predicate\n got %s\nwant %s", got, want)
	}
}

// The ranges of an equipment that touch are deleted as one; those of
// another equipment or apart are not merged.
func TestMergeRanges(t *testing.T) {
	t0 := time.Date(2026, 10, 5, 0, 0, 0, 0, time.UTC)
	a, b := signal.Key{Site: "s", Line: "L", Equipment: "A"}, signal.Key{Site: "s", Line: "L", Equipment: "B"}
	day := func(k signal.Key, d int) engine.StateRange {
		return engine.StateRange{Key: k, From: t0.AddDate(0, 0, d), To: t0.AddDate(0, 0, d+1).Add(-time.Nanosecond)}
	}
	got := mergeRanges([]engine.StateRange{day(b, 0), day(a, 1), day(a, 0), day(a, 3)})
	want := []engine.StateRange{{Key: a, From: t0, To: t0.AddDate(0, 0, 2).Add(-time.Nanosecond)}, day(a, 3), day(b, 0)}
	if len(got) != len(want) {
		t.Fatalf("merged %+v", got)
	}
	for i := range want {
		if got[i].Key != want[i].Key || !got[i].From.Equal(want[i].From) || !got[i].To.Equal(want[i].To) {
			t.Fatalf("merged %+v, want %+v", got, want)
		}
	}
}

// fakeInflux answers deletes as InfluxDB 2.x (v2) or 1.8 (no /api/v2/delete)
// and notes what it is asked, in order.
type fakeInflux struct {
	v2  bool
	mu  sync.Mutex
	log []string
}

func (f *fakeInflux) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case r.URL.Path == "/api/v2/delete" && f.v2:
		var d map[string]string
		if err := json.Unmarshal(body, &d); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.log = append(f.log, "v2 "+r.URL.Query().Get("bucket")+" "+d["start"]+" "+d["stop"]+" "+d["predicate"])
		w.WriteHeader(http.StatusNoContent)
	case r.URL.Path == "/query" && !f.v2:
		form, _ := url.ParseQuery(string(body))
		f.log = append(f.log, "v1 "+form.Get("db")+" "+form.Get("q"))
		_, _ = io.WriteString(w, `{"results":[{"statement_id":0}]}`)
	case r.URL.Path == "/api/v2/write":
		f.log = append(f.log, "write "+strings.Fields(string(body))[0])
		w.WriteHeader(http.StatusNoContent)
	default:
		f.log = append(f.log, "404 "+r.URL.Path)
		http.NotFound(w, r)
	}
}

// Write deletes a result's state ranges before writing its points: through
// /api/v2/delete on InfluxDB 2.x, and with InfluxQL on 1.8, where
// /api/v2/delete answers 404.
func TestWriteDeletesStateRangesFirst(t *testing.T) {
	t0 := time.Date(2026, 10, 5, 20, 0, 0, 0, time.UTC)
	k := signal.Key{Site: "s1", Line: "L1", Equipment: "M01"}
	res := engine.Result{
		States:      []engine.StateStep{{Key: k, Start: t0}},
		StateRanges: []engine.StateRange{{Key: k, From: t0, To: t0.Add(time.Hour)}},
	}
	for _, tc := range []struct {
		name string
		v2   bool
		want []string
	}{
		{"2.x", true, []string{
			`v2 floorpulse/autogen 2026-10-05T20:00:00Z 2026-10-05T21:00:00Z _measurement="equipment_state" AND site="s1" AND line="L1" AND equipment="M01"`,
			"write equipment_state,equipment=M01,line=L1,site=s1",
		}},
		{"1.8", false, []string{
			"404 /api/v2/delete",
			`v1 floorpulse DELETE FROM "equipment_state" WHERE "site" = 's1' AND "line" = 'L1' AND "equipment" = 'M01' AND time >= 1791230400000000000 AND time <= 1791234000000000000`,
			"write equipment_state,equipment=M01,line=L1,site=s1",
			`v1 floorpulse DELETE FROM "equipment_state" WHERE "site" = 's1' AND "line" = 'L1' AND "equipment" = 'M01' AND time >= 1791230400000000000 AND time <= 1791234000000000000`,
			"write equipment_state,equipment=M01,line=L1,site=s1",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeInflux{v2: tc.v2}
			srv := httptest.NewServer(f)
			defer srv.Close()
			w := New(Config{URL: srv.URL, Bucket: "floorpulse/autogen", Timeout: 5 * time.Second})
			defer w.Close()
			n := 1
			if !tc.v2 {
				n = 2 // the second write goes to /query straight away
			}
			for i := 0; i < n; i++ {
				if err := w.Write(context.Background(), res); err != nil {
					t.Fatal(err)
				}
			}
			if got := strings.Join(f.log, "\n"); got != strings.Join(tc.want, "\n") {
				t.Errorf("requests:\n%s\nwant\n%s", got, strings.Join(tc.want, "\n"))
			}
		})
	}
}
