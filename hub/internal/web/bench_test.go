package web

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/floorpulse/floorpulse/hub/internal/activity"

	"github.com/floorpulse/floorpulse/pkg/testenv"
)

// BenchmarkChartsDrawn measures, at 1,000 machines (20 lines of 50) and 13
// months of history, the time from navigation to the charts drawn in
// headless Chromium: on the plant overview (figures of the month before,
// its 12-month trend: every machine's figures of 12 months) and on a
// machine's page (its month day by day, its 12-month trend). The target is
// under 1 s each. The plant is built once (about a minute).
func BenchmarkChartsDrawn(b *testing.B) {
	testenv.Chromium(b)
	start := time.Now()
	f := newScaledFixture(b, testenv.Root(b), scale{lines: 20, machines: 50, sparse: true, cacheSegments: true})
	b.Logf("plant of %d machines built in %v", len(f.eng.Keys()), time.Since(start).Round(time.Second))
	tab := testenv.NewTab(b, 1280, 900, false)
	tab.Do(chromedp.Navigate(f.srv.URL+"/login"),
		chromedp.SendKeys(`input[name="name"]`, viewerUser),
		chromedp.SendKeys(`input[name="password"]`, password),
		chromedp.Submit(`input[name="password"]`),
		chromedp.WaitReady(`body[data-ready="yes"]`))
	month := f.now.In(f.cfg.Location).AddDate(0, -1, 0).Format("2006-01")
	// The hub's segment refresher has the month's report ready, as it
	// computes this month's and last month's every segments.refresh.
	m, err := activity.ParseMonth(month, f.cfg.Location)
	if err != nil {
		b.Fatal(err)
	}
	f.segs.Report(m, time.Now())
	for _, p := range []struct{ name, path string }{
		{"overview", "/?lang=en&month=" + month},
		{"machine", "/machines/B07/M025?lang=en&month=" + month},
	} {
		b.Run(p.name, func(b *testing.B) {
			for b.Loop() {
				tab.Do(chromedp.Navigate(f.srv.URL+p.path), chromedp.WaitReady(`body[data-charts="drawn"]`))
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/page")
		})
	}
	if errs := tab.Errors(); len(errs) > 0 {
		b.Errorf("console: %v", errs)
	}
}
