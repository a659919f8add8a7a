package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"

	"github.com/floorpulse/floorpulse/hub/internal/api"
)

func sample() Month {
	share, active, risk := 0.25, true, true
	return Month{
		MonthJSON: api.MonthJSON{Month: "2026-10", Timezone: "Europe/Berlin", CalendarHours: 745,
			Equipment: []api.EquipmentJSON{{Site: "s", Line: "L1", Equipment: "M1", Class: "cnc", Registered: true, RunHours: 90, Active: true,
				StateHours: map[string]float64{"down": 2}}, {Site: "s", Line: "L1", Equipment: "X9"}},
			Lines: []api.LineJSON{{Site: "s", Line: "L1", Registered: 1, Active: 1, ActiveRate: 1, RunHours: 90, Tiers: map[string]int{"low": 1}}},
			Site:  api.LineJSON{Site: "s", Registered: 1, Active: 1, ActiveRate: 1, RunHours: 90, Tiers: map[string]int{"low": 1}}},
		Operators: []api.OperatorJSON{{Site: "s", Operator: "ann", RunHours: 22.5, Share: &share, Active: &active, Tier: "low",
			AttritionRisk: &risk, AttritionReason: "run hours fell"}, {Site: "s", Line: "L1", Operator: "ann", RunHours: 22.5, Share: &share}},
	}
}

func TestFormats(t *testing.T) {
	var b bytes.Buffer
	if err := Write(&b, "table", sample()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Month 2026-10 (745.0 h", "1 of 1 registered machines active (active rate 100.0%)",
		"X9 (not registered)", "25.0%", "Attrition risk, ann: run hours fell"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	if err := Write(&b, "csv", sample()); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	kinds := []string{}
	for _, r := range recs[1:] {
		if len(r) != len(CSVHeader) || r[1] != "2026-10" {
			t.Fatalf("row %v", r)
		}
		kinds = append(kinds, r[0])
	}
	if got := strings.Join(kinds, ","); got != "equipment,equipment,line,site,operator,operator" {
		t.Fatalf("records %s", got)
	}
	if recs[1][15] != "2.000000" || recs[5][17] != "0.250000" || recs[5][18] != "true" || recs[6][18] != "" {
		t.Fatalf("csv cells: %v", recs)
	}
	b.Reset()
	if err := Write(&b, "json", sample()); err != nil {
		t.Fatal(err)
	}
	var back Month
	if err := json.Unmarshal(b.Bytes(), &back); err != nil || back.Month != "2026-10" || len(back.Operators) != 2 || len(back.Equipment) != 2 {
		t.Fatalf("json: %v %s", err, b.String())
	}
	if err := Write(&b, "xml", sample()); err == nil {
		t.Fatal("xml accepted")
	}
}
