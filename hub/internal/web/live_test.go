package web

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/floorpulse/floorpulse/hub/internal/anomaly"
	"github.com/floorpulse/floorpulse/hub/internal/events/ledger"
	"github.com/floorpulse/floorpulse/pkg/signal"
	"github.com/floorpulse/floorpulse/pkg/testenv"
)

// The live board shows a stop within 3 s of the hub taking it, pushed
// without a reload, and its duration ticks in the browser.
func TestBrowserLiveBoardShowsAStop(t *testing.T) {
	f := data(t)
	tb := browse(t, f, leaderUser, 390, 844, true)
	tb.open("/lines/L4/live?lang=en", false)
	tb.Do(chromedp.WaitReady(`body[data-updates]`))
	card := `.machine[data-equipment="M01"]`
	if st := eval[string](tb, `document.querySelector('`+card+`').dataset.state`); st != "running" {
		t.Fatalf("M01 is %s before the stop", st)
	}
	eval[chromedp.Void](tb, `window.sameDocument = true`)
	start := time.Now()
	f.apply(t, []signal.Signal{{Site: f.cfg.Site, Line: "L4", Equipment: "M01", Name: signal.State,
		Value: signal.String("down"), Time: start, Quality: signal.Good}})
	if err := tb.Within(3*time.Second, `document.querySelector('`+card+`[data-state="down"]') !== null`); err != nil {
		t.Fatalf("the stop was not shown within 3 s: %v", err)
	}
	took := time.Since(start)
	t.Logf("stop shown %v after the hub took it", took.Round(time.Millisecond))
	if !eval[bool](tb, `window.sameDocument === true`) {
		t.Fatal("the page was reloaded")
	}
	if eval[string](tb, `document.querySelector('.machine').dataset.equipment`) != "M01" {
		t.Error("the stopped machine is not first on the board")
	}
	tick := eval[string](tb, `document.querySelector('`+card+` .tick').innerText`)
	if err := tb.Within(3*time.Second, fmt.Sprintf(`document.querySelector('%s .tick').innerText !== %q`, card, tick)); err != nil {
		t.Fatalf("the stop's duration does not tick (%q): %v", tick, err)
	}
	if errs := tb.Errors(); len(errs) > 0 {
		t.Errorf("console: %s", strings.Join(errs, "\n"))
	}
	// Running again: back to running, pushed too.
	f.apply(t, []signal.Signal{{Site: f.cfg.Site, Line: "L4", Equipment: "M01", Name: signal.State,
		Value: signal.String("running"), Time: time.Now(), Quality: signal.Good}})
	if err := tb.Within(3*time.Second, `document.querySelector('`+card+`[data-state="running"]') !== null`); err != nil {
		t.Fatalf("running again was not shown within 3 s: %v", err)
	}
}

// A shift leader acknowledges an open downtime in one tap on the live
// board; a viewer gets no button, and the hub refuses the viewer's request.
func TestBrowserAcknowledge(t *testing.T) {
	f := data(t)
	recs, _, _, err := f.ev.List(ledger.Filter{Site: f.cfg.Site, Line: "L4", Equipment: "M03", Type: anomaly.UnplannedDowntime, Status: anomaly.Opened}, "", 10)
	if err != nil || len(recs) == 0 {
		t.Fatalf("no open downtime of L4/M03 to acknowledge (%v)", err)
	}
	id := recs[0].ID
	stop := `.stop[data-event="` + id + `"]`

	viewer := browse(t, f, viewerUser, 390, 844, true)
	viewer.open("/lines/L4/live?lang=en", false)
	viewer.Do(chromedp.WaitReady(stop))
	if n := eval[int](viewer, `document.querySelectorAll('`+stop+` button').length`); n != 0 {
		t.Fatal("a viewer sees an acknowledge button")
	}
	status := testenv.Eval[int](viewer.Tab, `fetch('/api/v1/events/`+id+`/ack', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: '{}'}).then(r => r.status)`, chromedp.EvalAwaitPromise)
	if status != 403 {
		t.Fatalf("a viewer's acknowledgement: %d, want 403", status)
	}
	viewer.open("/events?lang=en&status=opened", false)
	if n := eval[int](viewer, `document.querySelectorAll('button.act').length`); n != 0 {
		t.Fatal("a viewer sees acknowledge or resolve buttons on the events page")
	}

	leader := browse(t, f, leaderUser, 390, 844, true)
	leader.open("/lines/L4/live?lang=en", false)
	leader.Do(chromedp.WaitReady(stop + ` button.ack`))
	start := time.Now()
	leader.Do(chromedp.Click(stop + ` button.ack`))
	if err := leader.Within(3*time.Second, `document.querySelector('`+stop+`[data-status="acknowledged"]') !== null`); err != nil {
		rec, _ := f.ev.Get(id)
		t.Fatalf("the acknowledgement was not shown within 3 s: %v; the row says %q; the record is %s; console %v", err,
			eval[string](leader, `(document.querySelector('`+stop+`')||{innerText:'(none)'}).innerText`), rec.Status, leader.Errors())
	}
	t.Logf("acknowledged and shown in %v", time.Since(start).Round(time.Millisecond))
	rec, err := f.ev.Get(id)
	if err != nil || rec.Status != anomaly.Acknowledged || rec.AcknowledgedBy != leaderUser {
		t.Fatalf("record after the tap: %+v %v", rec, err)
	}
	if n := eval[int](leader, `document.querySelectorAll('`+stop+` button').length`); n != 0 {
		t.Error("an acknowledged event still offers acknowledge")
	}
	for _, tb := range []*tab{viewer, leader} {
		for _, e := range tb.Errors() {
			if tb != viewer || !strings.Contains(e, "403") { // the viewer's refusal may be logged late
				t.Errorf("console: %s", e)
			}
		}
	}
}

// The live board fits a 390-pixel-wide phone, in both languages.
func TestBrowserBoardFitsAPhone(t *testing.T) {
	f := data(t)
	tb := browse(t, f, leaderUser, 390, 844, true)
	for _, lang := range Languages {
		tb.open("/lines/L4/live?lang="+lang, false)
		tb.Do(chromedp.WaitReady(`body[data-updates]`))
		width := eval[int](tb, `window.innerWidth`)
		scroll := eval[int](tb, `Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)`)
		if width != 390 || scroll > width {
			t.Errorf("%s: viewport %d px, page %d px wide", lang, width, scroll)
		}
		wide := eval[[]string](tb, `Array.from(document.querySelectorAll('body *')).filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5).map(e => e.tagName + '.' + e.className)`)
		if len(wide) > 0 {
			t.Errorf("%s: elements past the right edge: %v", lang, wide)
		}
	}
}

// A shift leader resolves an event from the events page; the page then
// shows it resolved, without the buttons.
func TestBrowserResolveOnEventsPage(t *testing.T) {
	f := data(t)
	recs, _, _, err := f.ev.List(ledger.Filter{Site: f.cfg.Site, Line: "L1", Status: anomaly.Opened}, "", 10)
	if err != nil || len(recs) == 0 {
		t.Fatalf("no open event on L1 to resolve (%v)", err)
	}
	id := recs[0].ID
	row := `#events tr[data-event="` + id + `"]`
	tb := browse(t, f, leaderUser, 1280, 900, false)
	tb.open("/events?lang=en&line=L1&status=opened", false)
	eval[chromedp.Void](tb, `window.before = true`)
	tb.Do(chromedp.Click(row + ` button[data-act="resolve"]`))
	// The page reloads with the same filter: the event is no longer open.
	reloaded := false
	for deadline := time.Now().Add(5 * time.Second); !reloaded && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(tb.Ctx, time.Second)
		reloaded, _ = chromedp.Run(ctx, chromedp.Evaluate[bool](`window.before === undefined && document.body.dataset.ready === 'yes'`))
		cancel()
	}
	if !reloaded {
		t.Fatal("the events page did not reload after resolving")
	}
	if n := eval[int](tb, `document.querySelectorAll('`+row+`').length`); n != 0 {
		t.Fatal("the resolved event is still listed as open")
	}
	rec, err := f.ev.Get(id)
	if err != nil || rec.Status != anomaly.Resolved || rec.ResolvedBy != leaderUser {
		t.Fatalf("record after resolve: %+v %v", rec, err)
	}
	tb.open("/events?lang=en&line=L1&status=resolved", false)
	if got := eval[string](tb, `document.querySelector('`+row+`').dataset.status`); got != anomaly.Resolved {
		t.Fatalf("listed as %s", got)
	}
	if n := eval[int](tb, `document.querySelectorAll('`+row+` button').length`); n != 0 {
		t.Error("a resolved event offers buttons")
	}
	if errs := tb.Errors(); len(errs) > 0 {
		t.Errorf("console: %s", strings.Join(errs, "\n"))
	}
}

// The wall display rotates through the lines by itself, live on each.
func TestBrowserWallRotates(t *testing.T) {
	f := data(t)
	tb := browse(t, f, viewerUser, 1920, 1080, false)
	tb.open("/wall?lang=en&every=5", false)
	first := eval[string](tb, `document.body.dataset.line`)
	if first == "" {
		t.Fatal("the wall shows no line")
	}
	if err := tb.Within(8*time.Second, `document.body.dataset.line !== '`+first+`'`); err != nil {
		t.Fatalf("the wall stayed on %s: %v", first, err)
	}
	next := eval[string](tb, `document.body.dataset.line`)
	if err := tb.Within(3*time.Second, `Array.from(document.querySelectorAll('.machine')).length > 0 && document.querySelector('#title').innerText.startsWith('`+next+`')`); err != nil {
		t.Fatalf("the wall does not show %s: %v", next, err)
	}
	if n := eval[int](tb, `document.querySelectorAll('main a, main button').length`); n != 0 {
		t.Errorf("the wall has %d things to click", n)
	}
	if errs := tb.Errors(); len(errs) > 0 {
		t.Errorf("console: %s", strings.Join(errs, "\n"))
	}
}
