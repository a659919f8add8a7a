package api

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// Alarm codes from the signals reach the month's equipment and line
// figures; a redelivered batch, and a second code at one instant in either
// order, change nothing.
func TestMonthDowntimeByAlarm(t *testing.T) {
	e, loc := testEngine(t)
	at := func(h int) time.Time { return time.Date(2026, 10, 5, h, 0, 0, 0, loc) }
	alarm := func(v signal.Value, h int) signal.Signal {
		return signal.Signal{Site: "s", Line: "L1", Equipment: "M2", Name: signal.Alarm, Value: v, Time: at(h)}
	}
	// M2 is idle from 8: an alarm makes it down.
	batch := []signal.Signal{alarm(signal.Number(42.0), 9), alarm(signal.String(" E7 "), 10), alarm(signal.String("E1"), 10), alarm(signal.Number(0), 11)}
	e.Apply(batch)
	e.Apply([]signal.Signal{batch[2], batch[1], batch[0]})
	m, err := activity.ParseMonth("2026-10", loc)
	if err != nil {
		t.Fatal(err)
	}
	got := Month(e, loc, "s", m)
	want := []AlarmDownJSON{{Code: "42", Seconds: 3600, Stops: 1}, {Code: "E7", Seconds: 3600}}
	var m2 EquipmentJSON
	for _, ej := range got.Equipment {
		if ej.Equipment == "M2" {
			m2 = ej
		}
	}
	if !reflect.DeepEqual(m2.DownByAlarm, want) || m2.Failures != 1 {
		t.Fatalf("M2: %+v, %d failures", m2.DownByAlarm, m2.Failures)
	}
	if len(got.Lines) != 1 || !reflect.DeepEqual(got.Lines[0].DownByAlarm, want) || !reflect.DeepEqual(got.Site.DownByAlarm, want) {
		t.Fatalf("line %+v site %+v", got.Lines, got.Site.DownByAlarm)
	}
	b, _ := json.Marshal(m2)
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	if _, ok := raw["downtime_by_alarm"]; !ok {
		t.Fatalf("no downtime_by_alarm in %s", b)
	}
}
