package influx

import (
	"strings"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/state"
	"github.com/floorpulse/floorpulse/pkg/signal"
	"github.com/influxdata/influxdb-client-go/v2/api/write"
)

// The OEE and energy fields are on equipment_activity and line_activity
// (and site_activity) when they exist, and absent when they do not.
func TestProductionFields(t *testing.T) {
	p := activity.Period{Kind: activity.Day, Start: time.Date(2026, 10, 5, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 10, 6, 0, 0, 0, 0, time.UTC)}
	k := signal.Key{Site: "s", Line: "L1", Equipment: "M1"}
	f := activity.Figures{Equipment: activity.Equipment{Key: k, Registered: true, IdealCycle: 30 * time.Second}, Period: p}
	f.Seconds[state.Running], f.Seconds[state.Idle], f.Seconds[state.Unknown] = 3600, 3600, 79200
	f.Good, f.Scrap, f.HasParts, f.HasEnergy = 100, 20, true, true
	f.Production.Energy[state.Running], f.Production.Energy[state.Idle] = 30, 6
	line := func(pt *write.Point) string { return write.PointToLineProtocol(pt, time.Nanosecond) }
	got := line(EquipmentPoint(f))
	for _, want := range []string{"parts_good=100", "parts_scrap=20", "performance=1,", "quality=0.8333333333333334", "oee=0.4166666666666667",
		"throughput=100,", "loss_availability_seconds=3600", "loss_performance_seconds=0", "loss_quality_seconds=600", "productive_seconds=3000",
		"energy_kwh=36", "energy_kwh_idle=6", "energy_kwh_running=30", "energy_waste_kwh=6", "energy_kwh_per_part=0.36", "ideal_cycle_seconds=30"} {
		if !strings.Contains(got, want) {
			t.Errorf("equipment point lacks %s:\n%s", want, got)
		}
	}
	r := activity.RollUp([]activity.Figures{f}, activity.Tiers{})
	if got := line(RollupPoint(r[1])); !strings.HasPrefix(got, "line_activity") || !strings.Contains(got, "oee=0.4166666666666667") || !strings.Contains(got, "energy_waste_kwh=6") {
		t.Errorf("line point: %s", got)
	}
	f.IdealCycle, f.HasEnergy = 0, false
	got = line(EquipmentPoint(f))
	for _, absent := range []string{"oee=", "performance=", "loss_", "energy_", "ideal_cycle"} {
		if strings.Contains(got, absent) {
			t.Errorf("without ideal cycle time and energy, %s is written:\n%s", absent, got)
		}
	}
	if !strings.Contains(got, "quality=") {
		t.Errorf("quality needs no ideal cycle time:\n%s", got)
	}
}
