package influx

import (
	"context"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/engine"
	"github.com/floorpulse/floorpulse/hub/internal/state"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// sortedFields puts a line's fields in key order (the client's encoder
// sorts them; ours writes them as they come), leaving the rest as it is.
func sortedFields(t *testing.T, line string) string {
	t.Helper()
	// Fields are between the first unescaped space and the last space.
	head, rest, ok := cutUnescaped(line, ' ', false)
	i := strings.LastIndexByte(rest, ' ')
	if !ok || i < 0 {
		t.Fatalf("not a line: %q", line)
	}
	fields := splitUnescaped(rest[:i], ',')
	sort.Strings(fields)
	return head + " " + strings.Join(fields, ",") + rest[i:]
}

// cutUnescaped cuts s at the first sep that is not escaped (nor, with
// quotes, inside a quoted string field).
func cutUnescaped(s string, sep byte, quotes bool) (string, string, bool) {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\':
			i++
		case s[i] == '"' && quotes:
			quoted = !quoted
		case s[i] == sep && !quoted:
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func splitUnescaped(s string, sep byte) []string {
	var out []string
	for {
		a, b, ok := cutUnescaped(s, sep, true)
		out = append(out, a)
		if !ok {
			return out
		}
		s = b
	}
}

// The line protocol Write sends is, point for point, what the client's
// encoder makes of Points (fields aside, whose order InfluxDB ignores):
// same measurements, tags, field values and types, and timestamps.
func TestEncodeMatchesClientPoints(t *testing.T) {
	loc, _ := time.LoadLocation("Europe/Berlin")
	day := activity.DayOf(time.Date(2026, 10, 25, 12, 0, 0, 0, loc), loc)
	month := activity.MonthOf(day.Start, loc)
	shift := activity.Period{Kind: activity.Shift, Shift: "late shift", Start: day.Start.Add(14 * time.Hour), End: day.Start.Add(23 * time.Hour)}
	k := signal.Key{Site: "plant 1", Line: "L,1", Equipment: "M=1"}
	var res engine.Result
	for i, p := range []activity.Period{day, month, shift} {
		f := activity.Figures{Equipment: activity.Equipment{Key: k, Class: "cnc", Registered: i != 2, IdealCycle: 45 * time.Second, RatedPower: 7.5}, Period: p,
			Threshold: 80 * time.Hour, Failures: i}
		f.Seconds[state.Running], f.Seconds[state.Down], f.Seconds[state.Unknown] = 1234.5678, 1.0/3, p.Seconds()-1234.5678-1.0/3
		f.Good, f.Scrap, f.HasParts, f.HasScrap, f.HasEnergy, f.HasCounter = 101, 3, true, true, i != 1, i == 0
		f.Energy[state.Running], f.Energy[state.Idle] = 12.345678901234567, 1e-7
		f.IdleRunSeconds = math.Pi
		res.Equipment = append(res.Equipment, f, activity.Figures{Equipment: activity.Equipment{Key: k}, Period: p})
	}
	res.Rollups = activity.RollUp(res.Equipment, activity.Tiers{High: 400 * time.Hour, Medium: 200 * time.Hour, Low: 80 * time.Hour})
	res.Operators = []activity.OperatorFigures{
		{Site: "plant 1", Line: "L,1", Operator: "op 7", Period: month, RunSeconds: 7200.5, GroupRunSeconds: 36000},
		{Site: "plant 1", Operator: `o"p\8`, Period: month, RunSeconds: 7200.5, GroupRunSeconds: 0, Tier: "low", Attrition: true,
			AttritionReason: "fell 3 months in a row,\n\"40 %\" below"},
	}
	res.States = []engine.StateStep{{Key: k, Start: day.Start.Add(time.Second), State: state.Down}}

	// What the client sends for Points(res), caught by a listener that
	// keeps the request body.
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ = io.ReadAll(r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	c := influxdb2.NewClient(srv.URL, "")
	defer c.Close()
	if err := c.WriteAPIBlocking("", "db/rp").WritePoint(context.Background(), Points(res)...); err != nil {
		t.Fatal(err)
	}
	want := strings.SplitAfter(string(body), "\n")
	want = want[:len(want)-1]
	e := &lineEncoder{}
	if err := encode(e, res, func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	got := strings.SplitAfter(string(e.buf), "\n")
	got = got[:len(got)-1]
	if len(got) != len(want) || e.points != len(want) {
		t.Fatalf("%d lines (%d points), want %d", len(got), e.points, len(want))
	}
	for i := range want {
		if g, w := sortedFields(t, got[i]), sortedFields(t, want[i]); g != w {
			t.Errorf("point %d:\n got %s\nwant %s", i, g, w)
		}
	}
}
