package web

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/auth"
	"github.com/floorpulse/floorpulse/hub/internal/engine"
	"github.com/floorpulse/floorpulse/hub/internal/masterdata"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

const adminUser = "ada"

// An admin checks a bad equipment file on the master data page and sees
// every bad row with its line and column, with nothing applied; checks a
// good one, sees what would change, applies it and sees it in the audit
// log under their name; in both languages (the problems too), with no console error (the
// page's policy forbids inline script). A viewer has neither the page nor
// its link.
func TestBrowserMasterData(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	dir := t.TempDir()
	loc, _ := time.LoadLocation("Europe/Berlin")
	reg := []activity.Equipment{{Key: signal.Key{Site: "s1", Line: "L1", Equipment: "M01"}, Class: "cnc", Registered: true}}
	eng := engine.New(engine.Options{Location: loc, Registry: reg, Threshold: func(string) time.Duration { return 80 * time.Hour }}, nil)
	st, err := masterdata.Open(filepath.Join(dir, "masterdata.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var swapped []activity.Equipment
	svc := masterdata.NewService(masterdata.Base{Site: "s1", Location: loc, Registry: reg}, st,
		masterdata.Hooks{Applied: func(r []activity.Equipment) { swapped = r }})
	log := slog.New(slog.DiscardHandler)
	pages, err := New(Options{Engine: eng, Location: loc, Site: "s1", API: masterdata.Handler(svc, log), MasterData: true, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	users := filepath.Join(dir, "users.yaml")
	for name, role := range map[string]auth.Role{adminUser: auth.Admin, viewerUser: auth.Viewer} {
		if err := auth.AddUser(users, name, role, []byte(password), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	accounts, err := auth.OpenAccounts(users, filepath.Join(dir, "tokens.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(auth.New(auth.Options{Accounts: accounts}).Wrap(pages))
	t.Cleanup(srv.Close)
	f := &fixture{srv: srv}

	bad := filepath.Join(dir, "bad.csv")
	good := filepath.Join(dir, "good.csv")
	os.WriteFile(bad, []byte("id,line,in_service_from\nM09,L1,2026-10-14\nM10,L7,\nM11,L1,2026-02-30\nM09,L1,\n"), 0o600)
	os.WriteFile(good, []byte("id,line,class,in_service_from\nM09,L1,cnc,2026-10-14\n"), 0o600)

	tb := browse(t, f, adminUser, 1280, 900, false)
	shots := screenshotDir(t)
	for _, lang := range Languages {
		tb.open("/masterdata?lang="+lang, false)
		if n := eval[int](tb, `document.querySelectorAll('a[href="/masterdata"]').length`); n != 1 {
			t.Fatalf("%s: no link to the page", lang)
		}
		tb.Do(chromedp.SetValue(`#md-entity`, "equipment"), chromedp.SetUploadFiles(`#md-file`, []string{bad}), chromedp.Click(`#md-check`), chromedp.WaitVisible(`#md-problems`))
		rows := eval[[]string](tb, `[...document.querySelectorAll('#md-problems tbody tr')].map(r => [...r.cells].slice(0, 2).map(c => c.innerText).join(' '))`)
		if strings.Join(rows, ",") != "3 line,4 in_service_from,5 id" {
			t.Fatalf("%s: problems %v", lang, rows)
		}
		// The problems are said in the page's language, the hub's values in them.
		msgs := eval[[]string](tb, `[...document.querySelectorAll('#md-problems tbody tr')].map(r => r.cells[2].innerText)`)
		for i, m := range msgs {
			if han.MatchString(m) != (lang == "zh-CN") || !strings.Contains(m, []string{`L7`, `2026-02-30`, `s1/M09`}[i]) {
				t.Fatalf("%s: problem %d says %q", lang, i+1, m)
			}
		}
		if lang == "en" && msgs[0] != `unknown line "L7" of site s1` {
			t.Fatalf("en: problem 1 says %q", msgs[0])
		}
		if opts := eval[[]string](tb, `[...document.querySelectorAll('#md-entity option')].map(o => o.value)`); strings.Join(opts, " ") != "sites lines equipment operators shifts planned_stops closures rosters" {
			t.Fatalf("%s: records offered %v", lang, opts)
		}
		if eval[bool](tb, `document.getElementById('md-apply').disabled`) != true {
			t.Fatalf("%s: a bad file may be applied", lang)
		}
		tb.Screenshot(filepath.Join(shots, "masterdata-problems-"+lang+".png"))
		if errs := tb.Errors(); len(errs) > 0 {
			t.Fatalf("%s: console: %s", lang, strings.Join(errs, "\n"))
		}
		if text := eval[string](tb, `document.querySelector('main').innerText`); keyPattern.MatchString(text) || han.MatchString(text) != (lang == "zh-CN") {
			t.Fatalf("%s: untranslated or wrong language: %s", lang, text)
		}
	}
	if recs, _ := st.Records(masterdata.Equipment); len(recs) != 0 || swapped != nil {
		t.Fatalf("a bad file was applied: %v", recs)
	}
	tb.open("/masterdata?lang=en", false)
	tb.Do(chromedp.SetValue(`#md-entity`, "equipment"), chromedp.SetUploadFiles(`#md-file`, []string{good}), chromedp.Click(`#md-check`), chromedp.WaitVisible(`#md-diff`))
	if recs, _ := st.Records(masterdata.Equipment); len(recs) != 0 {
		t.Fatal("a check applied the file")
	}
	tb.Do(chromedp.Click(`#md-apply`), chromedp.WaitReady(`body[data-audit="1"]`))
	audit := eval[string](tb, `document.querySelector('#md-audit tbody').innerText`)
	if !strings.Contains(audit, adminUser) || !strings.Contains(audit, "s1/M09") {
		t.Fatalf("audit: %s", audit)
	}
	tb.Screenshot(filepath.Join(shots, "masterdata-applied-en.png"))
	if recs, _ := st.Records(masterdata.Equipment); len(recs) != 1 || len(swapped) != 2 {
		t.Fatalf("applied: %v, registry %v", recs, swapped)
	}
	if errs := tb.Errors(); len(errs) > 0 {
		t.Fatalf("console: %s", strings.Join(errs, "\n"))
	}
	// An admin's session may not import from another site's page.
	ac := login(t, srv.URL, adminUser)
	req, _ := http.NewRequest("PUT", srv.URL+"/api/v1/masterdata/equipment", strings.NewReader("id,line\nM10,L1\n"))
	req.Header.Set("Content-Type", "text/csv")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := ac.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if recs, _ := st.Records(masterdata.Equipment); resp.StatusCode != http.StatusForbidden || len(recs) != 1 {
		t.Fatalf("cross-site import: %s, %d records", resp.Status, len(recs))
	}
	// A viewer: no link, no page, no API.
	c := login(t, srv.URL, viewerUser)
	for _, path := range []string{"/masterdata", "/api/v1/masterdata/equipment"} {
		resp, err := c.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("viewer %s: %s", path, resp.Status)
		}
	}
	vt := browse(t, f, viewerUser, 800, 600, false)
	vt.open("/", false)
	if n := eval[int](vt, `document.querySelectorAll('a[href="/masterdata"]').length`); n != 0 {
		t.Error("a viewer sees the master data link")
	}
}

// The operators page shows an operator's imported name beside the id.
func TestOperatorNames(t *testing.T) {
	loc, _ := time.LoadLocation("Europe/Berlin")
	k := signal.Key{Site: "s1", Line: "L1", Equipment: "M01"}
	eng := engine.New(engine.Options{Location: loc, Registry: []activity.Equipment{{Key: k, Registered: true}},
		Threshold: func(string) time.Duration { return 80 * time.Hour }}, nil)
	at := time.Date(2026, 10, 5, 6, 0, 0, 0, loc)
	sig := func(name string, v signal.Value, t time.Time) signal.Signal {
		return signal.Signal{Site: "s1", Line: "L1", Equipment: "M01", Name: name, Value: v, Time: t}
	}
	eng.Apply([]signal.Signal{sig(signal.Run, signal.Bool(true), at), sig(signal.Operator, signal.String("op7,op8"), at),
		sig(signal.Run, signal.Bool(false), at.Add(8*time.Hour))})
	pages, err := New(Options{Engine: eng, Location: loc, Site: "s1", Clock: func() time.Time { return at.Add(24 * time.Hour) },
		OperatorNames: func() map[string]string { return map[string]string{"op7": "Li Wei"} }})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	pages.ServeHTTP(rec, httptest.NewRequest("GET", "/operators?month=2026-10&lang=en", nil))
	body := rec.Body.String()
	if rec.Code != http.StatusOK || strings.Count(body, `op7 <small class="name">Li Wei</small>`) != 2 || strings.Contains(body, `op8 <small`) {
		t.Fatalf("%d\n%s", rec.Code, body)
	}
}
