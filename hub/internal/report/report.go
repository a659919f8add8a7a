// Package report makes the monthly report: a month's figures (equipment,
// line and site rollups, operators) as a text table, CSV or JSON, and the
// full report for the monthly review (site and line figures, a 12-month
// trend, best and worst machines, a downtime Pareto, OEE and energy, each
// line's OEE by day with the worst days and shifts, operator contribution,
// the month's events) as one self-contained HTML page with inline SVG
// charts, in English or Simplified Chinese (catalog/*.json), printed to PDF
// by headless Chromium. It works from the same JSON structures the hub's
// API serves (Source), so the report reads the same whether it comes from
// a running hub or from the state store.
package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/floorpulse/floorpulse/hub/internal/api"
)

// Formats are the output formats Write knows; FullFormats those of the
// full report (Build, HTML, PDF).
var (
	Formats     = []string{"table", "csv", "json"}
	FullFormats = []string{"html", "pdf"}
)

// Month is one month's report.
type Month struct {
	api.MonthJSON
	Operators []api.OperatorJSON `json:"operators"`
}

// Write prints m in format (table, csv or json).
func Write(w io.Writer, format string, m Month) error {
	switch format {
	case "table":
		return writeTable(w, m)
	case "csv":
		return writeCSV(w, m)
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(m)
	}
	return fmt.Errorf("unknown format %q (want %s)", format, strings.Join(Formats, ", "))
}

func hours(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

func pct(v *float64) string {
	if v == nil {
		return "-"
	}
	return strconv.FormatFloat(*v*100, 'f', 1, 64) + "%"
}

func pv(v float64) *float64 { return &v }

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

var tierNames = []string{"high", "medium", "low", "inactive"}

func writeTable(out io.Writer, m Month) error {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	section := func() {
		_ = w.Flush()
		fmt.Fprintln(out)
	}
	s := m.Site
	fmt.Fprintf(out, "Month %s (%s h, %s)\n", m.Month, hours(m.CalendarHours), m.Timezone)
	fmt.Fprintf(out, "Site %s: %d of %d registered machines active (active rate %s), %s run hours, utilization %s, availability %s, data coverage %s\n\n",
		s.Site, s.Active, s.Registered, pct(pv(s.ActiveRate)), hours(s.RunHours), pct(s.Utilization), pct(s.Availability), pct(s.Coverage))

	fmt.Fprintln(w, "line\tregistered\tactive\tactive rate\trun hours\tutilization\tavailability\tcoverage\tfailures\thigh\tmedium\tlow\tinactive")
	for _, l := range append(append([]api.LineJSON(nil), m.Lines...), m.Site) {
		name := l.Line
		if name == "" {
			name = "(site)"
		}
		fmt.Fprintf(w, "%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%d\t", name, l.Registered, l.Active, pct(pv(l.ActiveRate)),
			hours(l.RunHours), pct(l.Utilization), pct(l.Availability), pct(l.Coverage), l.Failures)
		for i, t := range tierNames {
			if i > 0 {
				fmt.Fprint(w, "\t")
			}
			fmt.Fprintf(w, "%d", l.Tiers[t])
		}
		fmt.Fprintln(w)
	}
	section()
	fmt.Fprintln(w, "line\tequipment\tclass\trun hours\tactive\tutilization\tavailability\tcoverage\tfailures\tdown hours")
	for _, e := range m.Equipment {
		id := e.Equipment
		if !e.Registered {
			id += " (not registered)"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", e.Line, id, e.Class, hours(e.RunHours), yesNo(e.Active),
			pct(pv(e.Utilization)), pct(e.Availability), pct(pv(e.Coverage)), e.Failures, hours(e.StateHours["down"]))
	}
	if len(m.Operators) > 0 {
		section()
		fmt.Fprintln(w, "operator\tline\trun hours\tshare\tactive\ttier\tattrition risk")
		for _, o := range sortedOperators(m.Operators) {
			line, active, risk := o.Line, "", ""
			if line == "" {
				line = "(site)"
			}
			if o.Active != nil {
				active = yesNo(*o.Active)
			}
			if o.AttritionRisk != nil {
				risk = yesNo(*o.AttritionRisk)
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", o.Operator, line, hours(o.RunHours), pct(o.Share), active, o.Tier, risk)
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	for _, o := range m.Operators {
		if o.AttritionRisk != nil && *o.AttritionRisk {
			fmt.Fprintf(out, "\nAttrition risk, %s: %s\n", o.Operator, o.AttritionReason)
		}
	}
	return nil
}

// sortedOperators orders operators by name, the site-wide row first.
func sortedOperators(ops []api.OperatorJSON) []api.OperatorJSON {
	out := append([]api.OperatorJSON(nil), ops...)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Operator != out[j].Operator {
			return out[i].Operator < out[j].Operator
		}
		return out[i].Line < out[j].Line
	})
	return out
}

// CSVHeader is the header of the CSV format: one row per record, equipment,
// line, site or operator. For equipment and operators registered and active
// are true or false; for lines and the site they are counts. Ratios are
// fractions (0..1); an empty cell is a figure that does not apply. The
// columns keep their order; new ones are added at the end (docs/report.md).
var CSVHeader = []string{"record", "month", "site", "line", "equipment", "operator", "class", "registered", "active",
	"active_rate", "run_hours", "utilization", "availability", "coverage", "failures", "down_hours", "tier", "share",
	"attrition_risk", "attrition_reason", "idle_running_hours",
	"parts_good", "parts_scrap", "oee_availability", "performance", "quality", "oee", "throughput",
	"loss_availability_hours", "loss_performance_hours", "loss_quality_hours", "productive_hours",
	"energy_kwh", "energy_waste_kwh", "energy_kwh_per_part"}

func num(v float64) string { return strconv.FormatFloat(v, 'f', 6, 64) }

func opt(v *float64) string {
	if v == nil {
		return ""
	}
	return num(*v)
}

func writeCSV(out io.Writer, m Month) error {
	w := csv.NewWriter(out)
	_ = w.Write(CSVHeader)
	row := func(rec map[string]string) {
		r := make([]string, len(CSVHeader))
		for i, h := range CSVHeader {
			r[i] = rec[h]
		}
		r[1] = m.Month
		_ = w.Write(r)
	}
	for _, e := range m.Equipment {
		row(productionCSV(map[string]string{"record": "equipment", "site": e.Site, "line": e.Line, "equipment": e.Equipment, "class": e.Class,
			"registered": strconv.FormatBool(e.Registered), "active": strconv.FormatBool(e.Active), "run_hours": num(e.RunHours),
			"utilization": num(e.Utilization), "availability": opt(e.Availability), "coverage": num(e.Coverage),
			"failures": strconv.Itoa(e.Failures), "down_hours": num(e.StateHours["down"]), "idle_running_hours": opt(e.IdleRunningHours)}, e.OEE, e.Energy))
	}
	for _, l := range append(append([]api.LineJSON(nil), m.Lines...), m.Site) {
		rec := "line"
		if l.Line == "" {
			rec = "site"
		}
		row(productionCSV(map[string]string{"record": rec, "site": l.Site, "line": l.Line, "registered": strconv.Itoa(l.Registered),
			"active": strconv.Itoa(l.Active), "active_rate": num(l.ActiveRate), "run_hours": num(l.RunHours),
			"utilization": opt(l.Utilization), "availability": opt(l.Availability), "coverage": opt(l.Coverage),
			"failures": strconv.Itoa(l.Failures), "idle_running_hours": num(l.IdleRunningHours)}, l.OEE, l.Energy))
	}
	for _, o := range m.Operators {
		rec := map[string]string{"record": "operator", "site": o.Site, "line": o.Line, "operator": o.Operator,
			"run_hours": num(o.RunHours), "share": opt(o.Share), "tier": o.Tier, "attrition_reason": o.AttritionReason}
		if o.Active != nil {
			rec["active"] = strconv.FormatBool(*o.Active)
		}
		if o.AttritionRisk != nil {
			rec["attrition_risk"] = strconv.FormatBool(*o.AttritionRisk)
		}
		row(rec)
	}
	w.Flush()
	return w.Error()
}
