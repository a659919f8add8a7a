package report

import (
	"html/template"
	"strings"

	"github.com/floorpulse/floorpulse/hub/internal/api"
)

// oeeRow is one line, the site or a machine in the report's OEE and energy
// tables, formatted.
type oeeRow struct {
	Name, OEE, Availability, Performance, Quality, Good, Scrap, Throughput string
	LossAvailability, LossPerformance, LossQuality, Productive             string
	KWh, Waste, WasteShare, PerPart                                        string
	Site, HasOEE, HasEnergy                                                bool
}

// oeeSection is what the OEE and energy section shows.
type oeeSection struct {
	c                 messages
	Lines, Machines   []oeeRow
	Waterfall, Energy template.HTML
	Any               bool
}

// T is the message of key in the report's language.
func (s oeeSection) T(key string) string { return s.c.T(key) }

var oeeTemplate = template.Must(template.New("oee").Parse(`<section><h2>{{.T "oee.title"}}</h2>
{{if .Any}}<table><tr><th class="l">{{.T "line"}}</th><th>{{.T "oee.oee"}}</th><th>{{.T "oee.availability"}}</th><th>{{.T "oee.performance"}}</th><th>{{.T "oee.quality"}}</th><th>{{.T "oee.good"}}</th><th>{{.T "oee.scrap"}}</th><th>{{.T "oee.throughput"}}</th><th>{{.T "energy.kwh"}}</th><th>{{.T "energy.waste"}}</th><th>{{.T "energy.per_part"}}</th></tr>
{{range .Lines}}<tr{{if .Site}} class="site"{{end}}><td class="l">{{.Name}}</td>{{if .HasOEE}}<td>{{.OEE}}</td><td>{{.Availability}}</td><td>{{.Performance}}</td><td>{{.Quality}}</td><td>{{.Good}}</td><td>{{.Scrap}}</td><td>{{.Throughput}}</td>{{else}}<td>–</td><td>–</td><td>–</td><td>–</td><td>–</td><td>–</td><td>–</td>{{end}}{{if .HasEnergy}}<td>{{.KWh}}</td><td class="waste">{{.Waste}} ({{.WasteShare}})</td><td>{{.PerPart}}</td>{{else}}<td>–</td><td>–</td><td>–</td>{{end}}</tr>
{{end}}</table>
{{.Waterfall}}
<table><tr><th class="l">{{.T "line"}}</th><th>{{.T "oee.loss_availability"}}</th><th>{{.T "oee.loss_performance"}}</th><th>{{.T "oee.loss_quality"}}</th><th>{{.T "oee.productive"}}</th></tr>
{{range .Lines}}{{if .LossAvailability}}<tr{{if .Site}} class="site"{{end}}><td class="l">{{.Name}}</td><td>{{.LossAvailability}}</td><td>{{.LossPerformance}}</td><td>{{.LossQuality}}</td><td>{{.Productive}}</td></tr>
{{end}}{{end}}</table>
<p class="note">{{.T "oee.note"}}</p>
{{.Energy}}
<table><tr><th class="l">{{.T "equipment"}}</th><th>{{.T "oee.oee"}}</th><th>{{.T "oee.performance"}}</th><th>{{.T "oee.quality"}}</th><th>{{.T "oee.good"}}</th><th>{{.T "oee.scrap"}}</th><th>{{.T "energy.kwh"}}</th><th>{{.T "energy.waste"}}</th><th>{{.T "energy.per_part"}}</th></tr>
{{range .Machines}}<tr><td class="l">{{.Name}}</td>{{if .HasOEE}}<td>{{.OEE}}</td><td>{{.Performance}}</td><td>{{.Quality}}</td><td>{{.Good}}</td><td>{{.Scrap}}</td>{{else}}<td>–</td><td>–</td><td>–</td><td>–</td><td>–</td>{{end}}{{if .HasEnergy}}<td>{{.KWh}}</td><td class="waste">{{.Waste}} ({{.WasteShare}})</td><td>{{.PerPart}}</td>{{else}}<td>–</td><td>–</td><td>–</td>{{end}}</tr>
{{end}}</table>
<p class="note">{{.T "energy.note"}}</p>
{{else}}<p>{{.T "oee.none"}}</p>{{end}}</section>
`))

// oeeRowOf formats one row from its OEE and energy figures.
func oeeRowOf(c messages, name string, o *api.OEEJSON, e *api.EnergyJSON, site bool) oeeRow {
	r := oeeRow{Name: name, Site: site, HasOEE: o != nil, HasEnergy: e != nil}
	if o != nil {
		r.OEE, r.Availability, r.Performance, r.Quality = c.Pct(o.OEE), c.Pct(o.Availability), c.Pct(o.Performance), c.Pct(o.Quality)
		r.Good, r.Scrap, r.Throughput = count(c, o.Good), count(c, o.Scrap), "–"
		if o.Throughput != nil {
			r.Throughput = c.Num(*o.Throughput)
		}
		if l := o.LossHours; l != nil {
			r.LossAvailability, r.LossPerformance, r.LossQuality, r.Productive = c.Num(l.Availability), c.Num(l.Performance), c.Num(l.Quality), c.Num(l.Productive)
		}
	}
	if e != nil {
		r.KWh, r.Waste, r.PerPart = c.Num(e.KWh), c.Num(e.WasteKWh), "–"
		share := 0.0
		if e.KWh > 0 {
			share = e.WasteKWh / e.KWh
		}
		r.WasteShare = c.Pct(&share)
		if e.PerPartKWh != nil {
			r.PerPart = c.Num3(*e.PerPartKWh)
		}
	}
	return r
}

// count formats a part count: whole, with thousands separators.
func count(c messages, v float64) string { return strings.TrimSuffix(c.Num(v), ".0") }

// productionHTML is the report's OEE and energy section: per line and the
// site, OEE with its factors and losses (and the site's as a waterfall of
// hours), energy with its waste; per machine, OEE and energy.
func productionHTML(d Data, c messages) template.HTML {
	s := oeeSection{c: c}
	for _, l := range d.Lines {
		s.Lines = append(s.Lines, oeeRowOf(c, l.Line, l.OEE, l.Energy, false))
	}
	s.Lines = append(s.Lines, oeeRowOf(c, c.T("site_row"), d.Site.OEE, d.Site.Energy, true))
	for _, e := range d.Equipment {
		if e.OEE != nil || e.Energy != nil {
			s.Machines = append(s.Machines, oeeRowOf(c, e.Line+"/"+e.Equipment, e.OEE, e.Energy, false))
		}
	}
	s.Any = len(s.Machines) > 0
	if o := d.Site.OEE; o != nil && o.LossHours != nil {
		l := o.LossHours
		pbt := l.Availability + l.Performance + l.Quality + l.Productive
		bar := func(key string, v float64) Bar {
			return Bar{Label: c.T(key), Value: max(v, 0), Text: c.Num(v) + " " + c.T("hours_unit")}
		}
		s.Waterfall = barChart(c.T("oee.waterfall"), []Bar{bar("oee.pbt", pbt), bar("oee.loss_availability", l.Availability),
			bar("oee.loss_performance", l.Performance), bar("oee.loss_quality", l.Quality), bar("oee.productive", l.Productive)}, palette[0])
	}
	var waste []Bar
	for _, e := range d.Equipment {
		if e.Energy != nil && e.Energy.WasteKWh > 0 {
			waste = append(waste, Bar{Label: e.Line + "/" + e.Equipment, Value: e.Energy.WasteKWh, Text: c.Num(e.Energy.WasteKWh) + " kWh"})
		}
	}
	sortBars(waste)
	if len(waste) > 0 {
		s.Energy = barChart(c.T("energy.waste_chart"), waste[:min(len(waste), paretoN)], "#c62828")
	}
	var b strings.Builder
	if err := oeeTemplate.Execute(&b, s); err != nil {
		return template.HTML(template.HTMLEscapeString(err.Error()))
	}
	return template.HTML(b.String()) // executed by html/template: escaped
}

func sortBars(bs []Bar) {
	for i := 1; i < len(bs); i++ {
		for j := i; j > 0 && (bs[j].Value > bs[j-1].Value || bs[j].Value == bs[j-1].Value && bs[j].Label < bs[j-1].Label); j-- {
			bs[j], bs[j-1] = bs[j-1], bs[j]
		}
	}
}

// productionCSV are the CSV cells of the OEE and energy columns.
func productionCSV(rec map[string]string, o *api.OEEJSON, e *api.EnergyJSON) map[string]string {
	if o != nil {
		rec["parts_good"], rec["parts_scrap"] = num(o.Good), num(o.Scrap)
		rec["oee_availability"], rec["performance"], rec["quality"], rec["oee"], rec["throughput"] =
			opt(o.Availability), opt(o.Performance), opt(o.Quality), opt(o.OEE), opt(o.Throughput)
		if l := o.LossHours; l != nil {
			rec["loss_availability_hours"], rec["loss_performance_hours"], rec["loss_quality_hours"], rec["productive_hours"] =
				num(l.Availability), num(l.Performance), num(l.Quality), num(l.Productive)
		}
	}
	if e != nil {
		rec["energy_kwh"], rec["energy_waste_kwh"], rec["energy_kwh_per_part"] = num(e.KWh), num(e.WasteKWh), opt(e.PerPartKWh)
	}
	return rec
}
