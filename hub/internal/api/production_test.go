package api

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/engine"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// The month JSON carries each equipment's, line's and the site's parts, OEE
// with its losses and energy; an equipment without a counter or energy
// signal has neither block.
func TestMonthOEEAndEnergy(t *testing.T) {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	m1, m2 := signal.Key{Site: "s", Line: "L1", Equipment: "M1"}, signal.Key{Site: "s", Line: "L1", Equipment: "M2"}
	e := engine.New(engine.Options{Location: loc, Threshold: func(string) time.Duration { return time.Hour },
		Registry: []activity.Equipment{{Key: m1, Registered: true, IdealCycle: time.Minute, RatedPower: 30}, {Key: m2, Registered: true}}}, nil)
	at := func(h int) time.Time { return time.Date(2026, 10, 5, h, 0, 0, 0, loc) }
	sig := func(k signal.Key, name string, v signal.Value, h int) signal.Signal {
		return signal.Signal{Site: k.Site, Line: k.Line, Equipment: k.Equipment, Name: name, Value: v, Time: at(h)}
	}
	e.Apply([]signal.Signal{
		sig(m1, signal.Run, signal.Bool(true), 6), sig(m1, signal.Count, signal.Number(0), 6), sig(m1, signal.Scrap, signal.Number(0), 6),
		sig(m1, signal.Power, signal.Number(20), 6),
		sig(m1, signal.Run, signal.Bool(false), 10), sig(m1, signal.Count, signal.Number(200), 10), sig(m1, signal.Scrap, signal.Number(10), 10),
		sig(m1, signal.Power, signal.Number(2), 10), sig(m1, signal.Power, signal.Number(2), 12),
		sig(m2, signal.Run, signal.Bool(true), 6), sig(m2, signal.Run, signal.Bool(false), 8),
	})
	m, _ := activity.ParseMonth("2026-10", loc)
	got := Month(e, loc, "s", m)
	b, _ := json.Marshal(got)
	var eq1, eq2 EquipmentJSON
	for _, x := range got.Equipment {
		if x.Equipment == "M1" {
			eq1 = x
		} else {
			eq2 = x
		}
	}
	near := func(name string, got *float64, want float64) {
		t.Helper()
		if got == nil || math.Abs(*got-want) > 1e-9 {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	o := eq1.OEE
	if o == nil || o.Good != 200 || o.Scrap != 10 || o.LossHours == nil {
		t.Fatalf("M1 oee %+v in %s", o, b)
	}
	near("performance", o.Performance, 210*60/14400.0)
	near("quality", o.Quality, 200/210.0)
	near("oee", o.OEE, 12000/21600.0)
	near("availability", o.Availability, 4/6.0)
	near("throughput", o.Throughput, 50)
	if l := *o.LossHours; l.Availability != 2 || l.Performance != 0.5 || math.Abs(l.Quality-1/6.0) > 1e-12 || math.Abs(l.Productive-10/3.0) > 1e-12 {
		t.Errorf("losses %+v", l)
	}
	en := eq1.Energy
	if en == nil || en.KWh != 84 || en.WasteKWh != 4 || en.KWhByState["running"] != 80 || en.KWhByState["idle"] != 4 {
		t.Fatalf("M1 energy %+v", en)
	}
	near("kwh per part", en.PerPartKWh, 0.42)
	near("rated power", en.RatedPowerKW, 30)
	if eq2.OEE != nil || eq2.Energy != nil {
		t.Errorf("M2 has no counter or energy, yet %+v %+v", eq2.OEE, eq2.Energy)
	}
	if len(got.Lines) != 1 || got.Lines[0].OEE == nil || got.Site.OEE == nil || got.Site.Energy == nil {
		t.Fatalf("line and site: %s", b)
	}
	near("line oee", got.Lines[0].OEE.OEE, 12000/21600.0)
	near("site kwh per part", got.Site.Energy.PerPartKWh, 0.42)
	for _, key := range []string{`"oee":{`, `"loss_hours":{`, `"kwh_by_state":{`, `"waste_kwh":4`, `"parts_good":200`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("month JSON lacks %s", key)
		}
	}
}
