package report

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
)

// The CSV carries the OEE and energy columns after the older ones, filled
// where the figure exists and empty where it does not; the HTML has the
// section in both languages, with the waste marked.
func TestOEEAndEnergyInCSVAndHTML(t *testing.T) {
	d := fixtureData(t)
	var b bytes.Buffer
	if err := Write(&b, "csv", d.Month); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	if col["parts_good"] <= col["idle_running_hours"] || col["energy_kwh_per_part"] != len(rows[0])-1 {
		t.Fatalf("new columns not at the end: %v", rows[0])
	}
	got := map[string][]string{}
	for _, r := range rows[1:] {
		got[r[col["record"]]+" "+r[col["line"]]+" "+r[col["equipment"]]] = r
	}
	m1, m2, site := got["equipment L1 M1"], got["equipment L1 M2"], got["site  "]
	for _, c := range []struct {
		row        []string
		name, want string
	}{
		{m1, "parts_good", "15600.000000"}, {m1, "parts_scrap", "312.000000"}, {m1, "oee", "0.781367"},
		{m1, "loss_availability_hours", "22.250000"}, {m1, "energy_kwh", "7420.500000"}, {m1, "energy_waste_kwh", "610.250000"},
		{m2, "oee", ""}, {m2, "parts_good", ""}, {m2, "energy_kwh", "1200.000000"}, {m2, "energy_kwh_per_part", ""},
		{site, "oee", "0.781367"}, {site, "energy_waste_kwh", "1510.250000"},
	} {
		if c.row == nil || c.row[col[c.name]] != c.want {
			t.Errorf("%s: %q, want %q (row %v)", c.name, c.row, c.want, c.row)
		}
	}
	for lang, want := range map[string][]string{"en": {"OEE and energy", `<td class="waste">610.2 (8.2%)</td>`, "Wasted energy by machine"},
		"zh-CN": {"OEE 与能耗", "浪费能耗"}} {
		var h bytes.Buffer
		if err := HTML(&h, d, lang); err != nil {
			t.Fatal(err)
		}
		for _, w := range want {
			if !strings.Contains(h.String(), w) {
				t.Errorf("%s report lacks %q", lang, w)
			}
		}
	}
}
