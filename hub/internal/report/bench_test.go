package report

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/engine"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// BenchmarkReport1000 builds and renders the full report (12 months of
// figures, HTML) of 1,000 machines on 20 lines, each running 8 h of every
// 12 h for a year: what GET /api/v1/months/{month}/report?format=html costs.
func BenchmarkReport1000(b *testing.B) {
	src := bigSource()
	b.ResetTimer()
	for b.Loop() {
		d, err := Build(src, "2026-10", src.Location)
		if err != nil {
			b.Fatal(err)
		}
		var page bytes.Buffer
		if err := HTML(&page, d, "zh-CN"); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(page.Len())/1024, "KiB/page")
		_, _ = io.Discard.Write(page.Bytes())
	}
}

// BenchmarkReportPDF1000 prints that report to PDF (Chromium started each time).
func BenchmarkReportPDF1000(b *testing.B) {
	if _, err := Chromium(); err != nil {
		b.Skip(err)
	}
	src := bigSource()
	d, err := Build(src, "2026-10", src.Location)
	if err != nil {
		b.Fatal(err)
	}
	var page bytes.Buffer
	if err := HTML(&page, d, "zh-CN"); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		pdf, err := PDF(context.Background(), page.Bytes())
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(len(pdf))/1024, "KiB/pdf")
	}
}

// bigSource is an engine of 1,000 machines on 20 lines, each running 8 h
// of every 12 h from November 2025 to October 2026.
func bigSource() EngineSource {
	loc := time.UTC
	var reg []activity.Equipment
	for i := range 1000 {
		reg = append(reg, activity.Equipment{Key: signal.Key{Site: "s", Line: fmt.Sprintf("L%02d", i%20), Equipment: fmt.Sprintf("M%04d", i)}, Class: "cnc"})
	}
	eng := engine.New(engine.Options{Location: loc, Registry: reg, Threshold: func(string) time.Duration { return 80 * time.Hour },
		Tiers: activity.Tiers{High: 300 * time.Hour, Medium: 150 * time.Hour, Low: 80 * time.Hour}}, nil)
	start := time.Date(2025, 11, 1, 0, 0, 0, 0, loc)
	for i, eq := range reg {
		var sigs []signal.Signal
		for at := start.Add(time.Duration(i%12) * time.Hour); at.Before(start.AddDate(1, 0, 0)); at = at.Add(12 * time.Hour) {
			for _, s := range []struct {
				d  time.Duration
				on bool
			}{{0, true}, {8 * time.Hour, false}} {
				sigs = append(sigs, signal.Signal{Site: "s", Line: eq.Key.Line, Equipment: eq.Key.Equipment, Name: signal.Run,
					Value: signal.Bool(s.on), Time: at.Add(s.d), Quality: signal.Good})
			}
		}
		eng.Apply(sigs)
	}
	return EngineSource{Engine: eng, Location: loc, Site: "s"}
}
