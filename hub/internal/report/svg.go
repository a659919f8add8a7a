package report

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strings"
)

// Charts are drawn here as inline SVG, server-side: the report is one HTML
// file that needs no script and no network, prints as it shows, and reads
// the same in the PDF. Only presentation attributes are used (no style
// attributes), so the page's Content-Security-Policy needs nothing for them.

// palette is the series colours (colour-blind safe, Okabe-Ito).
var palette = []string{"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"}

const chartFont = `font-family="Noto Sans CJK SC, Noto Sans, sans-serif"`

// Series is one line of a line chart; a nil value is a gap.
type Series struct {
	Name   string
	Values []*float64
}

// Bar is one bar: a label, its value, and the value as shown.
type Bar struct {
	Label string
	Value float64
	Text  string
}

func esc(s string) string { return html.EscapeString(s) }

// lineChart draws series of fractions (0..1) over xLabels as a percentage
// chart with a legend.
func lineChart(title string, xLabels []string, series []Series) template.HTML {
	const w, h, left, right, top, bottom = 680, 280, 48, 130, 16, 40
	pw, ph := float64(w-left-right), float64(h-top-bottom)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="%s" %s font-size="11">`, w, h, w, h, esc(title), chartFont)
	for i := 0; i <= 4; i++ { // grid and y axis: 0..100 %
		y := float64(top) + ph - ph*float64(i)/4
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`, left, y, float64(left)+pw, y)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%d%%</text>`, left-6, y+4, i*25)
	}
	n := len(xLabels)
	x := func(i int) float64 {
		if n <= 1 {
			return float64(left) + pw/2
		}
		return float64(left) + pw*float64(i)/float64(n-1)
	}
	for i, l := range xLabels {
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`, x(i), h-bottom+16, esc(l))
	}
	for si, s := range series {
		c := palette[si%len(palette)]
		var pts []string
		flush := func() {
			if len(pts) > 1 {
				fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`, c, strings.Join(pts, " "))
			}
			pts = pts[:0]
		}
		for i, v := range s.Values {
			if v == nil || i >= n {
				flush()
				continue
			}
			y := float64(top) + ph - ph*math.Max(0, math.Min(1, *v))
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(i), y))
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="2.5" fill="%s"><title>%s %s: %.1f%%</title></circle>`, x(i), y, c, esc(s.Name), esc(xLabels[i]), *v*100)
		}
		flush()
		ly := top + 6 + si*16
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="12" height="4" fill="%s"/><text x="%d" y="%d">%s</text>`, w-right+12, ly, c, w-right+30, ly+5, esc(s.Name))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// barChart draws horizontal bars scaled to the largest value.
func barChart(title string, bars []Bar, color string) template.HTML {
	const w, left, right, rowH, top = 680, 170, 90, 20, 6
	h := top*2 + rowH*max(1, len(bars))
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="%s" %s font-size="11">`, w, h, w, h, esc(title), chartFont)
	top1 := 0.0
	for _, bar := range bars {
		top1 = math.Max(top1, bar.Value)
	}
	pw := float64(w - left - right)
	for i, bar := range bars {
		y := top + i*rowH
		bw := 0.0
		if top1 > 0 {
			bw = pw * math.Max(0, bar.Value) / top1
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`, left-6, y+14, esc(bar.Label))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`, left, y+3, bw, rowH-6, color)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d">%s</text>`, float64(left)+bw+6, y+14, esc(bar.Text))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// paretoChart draws bars in the order given (largest first) with the
// cumulative share as a line on a 0..100 % axis at the right.
func paretoChart(title, cumulative string, bars []Bar) template.HTML {
	const w, h, left, right, top, bottom = 680, 280, 48, 48, 16, 70
	pw, ph := float64(w-left-right), float64(h-top-bottom)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="%s" %s font-size="11">`, w, h, w, h, esc(title), chartFont)
	var total, top1 float64
	for _, bar := range bars {
		total += bar.Value
		top1 = math.Max(top1, bar.Value)
	}
	for i := 0; i <= 4; i++ {
		y := float64(top) + ph - ph*float64(i)/4
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`, left, y, float64(left)+pw, y)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`, left-6, y+4, trimNum(top1*float64(i)/4))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f">%d%%</text>`, float64(left)+pw+6, y+4, i*25)
	}
	n := max(1, len(bars))
	slot := pw / float64(n)
	var cum float64
	var pts []string
	for i, bar := range bars {
		x := float64(left) + slot*float64(i)
		bh := 0.0
		if top1 > 0 {
			bh = ph * bar.Value / top1
		}
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s: %s</title></rect>`,
			x+slot*0.15, float64(top)+ph-bh, slot*0.7, bh, palette[5], esc(bar.Label), esc(bar.Text))
		cx := x + slot/2
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="end" transform="rotate(-40 %.1f %d)">%s</text>`, cx, h-bottom+14, cx, h-bottom+14, esc(bar.Label))
		cum += bar.Value
		if total > 0 {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", cx, float64(top)+ph-ph*cum/total))
		}
	}
	if len(pts) > 0 {
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`, palette[0], strings.Join(pts, " "))
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" fill="%s" text-anchor="end">%s</text>`, float64(left)+pw, top-4, palette[0], esc(cumulative))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// trimNum formats an axis value: whole numbers without decimals.
func trimNum(v float64) string {
	if v == math.Trunc(v) || v >= 10 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}
