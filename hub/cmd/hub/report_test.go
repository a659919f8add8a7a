package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/csv"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/floorpulse/floorpulse/hub/internal/report"
	"github.com/floorpulse/floorpulse/pkg/testenv"
)

// The full report reads the same from the state store and from a running
// hub, in both languages; the hub's endpoint follows lang= and
// Accept-Language, serves the CSV export as a download, and sets a
// Content-Security-Policy that allows the report's own style only.
func TestFullReport(t *testing.T) {
	p := newPlant(t, "http://127.0.0.1:1")
	run := func(args ...string) (string, string, int) {
		t.Helper()
		var out, errb bytes.Buffer
		code := reportMain(args, &out, &errb)
		return out.String(), errb.String(), code
	}
	offline := map[string]string{}
	for _, lang := range report.Languages { // the store first: a running hub holds it
		page, errs, code := run("-config", p.cfgPath, "-month", "2026-10", "-format", "html", "-lang", lang)
		if code != 0 {
			t.Fatalf("%s html: exit %d: %s", lang, code, errs)
		}
		offline[lang] = page
	}
	srv, _ := runningHub(t, p, &testenv.Influx{URL: "http://127.0.0.1:1"})
	for _, lang := range report.Languages {
		online, errs, code := run("-url", srv.URL, "-month", "2026-10", "-format", "html", "-lang", lang)
		if code != 0 {
			t.Fatalf("%s html from the hub: exit %d: %s", lang, code, errs)
		}
		if online != offline[lang] {
			t.Errorf("%s: the hub's report differs from the store's", lang)
		}
		want := map[string]string{"en": "Monthly activity report: October 2026", "zh-CN": "月度设备运行报告：2026年10月"}[lang]
		if !strings.Contains(online, want) || !strings.Contains(online, "<svg") || !strings.Contains(online, "M01") {
			t.Errorf("%s report lacks %q, a chart or M01", lang, want)
		}
	}

	get := func(path, accept string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		if accept != "" {
			req.Header.Set("Accept-Language", accept)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	body := func(r *http.Response) string { b, _ := io.ReadAll(r.Body); return string(b) }

	zh := get("/api/v1/months/2026-10/report", "zh-CN,zh;q=0.9,en;q=0.5")
	page := body(zh)
	if zh.StatusCode != http.StatusOK || zh.Header.Get("Content-Language") != "zh-CN" || !strings.Contains(page, "月度设备运行报告") {
		t.Fatalf("Accept-Language zh-CN: %s %s", zh.Status, zh.Header.Get("Content-Language"))
	}
	style := page[strings.Index(page, "<style>")+len("<style>") : strings.Index(page, "</style>")]
	sum := sha256.Sum256([]byte(style))
	if csp := zh.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP %q does not allow the page's style by its hash", csp)
	}
	if en := get("/api/v1/months/2026-10/report?lang=en", "zh-CN"); !strings.Contains(body(en), "Monthly activity report") {
		t.Error("lang=en did not win over Accept-Language")
	}
	c := get("/api/v1/months/2026-10/report?format=csv", "")
	recs, err := csv.NewReader(c.Body).ReadAll()
	if err != nil || c.Header.Get("Content-Disposition") != `attachment; filename="floorpulse-report-2026-10.csv"` ||
		strings.Join(recs[0], ",") != strings.Join(report.CSVHeader, ",") {
		t.Fatalf("csv: %v %q %v", err, c.Header.Get("Content-Disposition"), recs)
	}
	machines := 0
	for _, r := range recs[1:] {
		if r[0] == "equipment" {
			machines++
		}
	}
	if machines != 3 {
		t.Errorf("csv has %d machine rows, want 3", machines)
	}
	if _, err := report.Chromium(); err == nil {
		pdf := get("/api/v1/months/2026-10/report?format=pdf&lang=zh-CN", "")
		b, _ := io.ReadAll(pdf.Body)
		if pdf.StatusCode != http.StatusOK || pdf.Header.Get("Content-Type") != "application/pdf" || !bytes.HasPrefix(b, []byte("%PDF-")) ||
			pdf.Header.Get("Content-Disposition") != `attachment; filename="floorpulse-report-2026-10.zh-CN.pdf"` {
			t.Errorf("pdf: %s %q %q", pdf.Status, pdf.Header.Get("Content-Type"), b[:min(len(b), 16)])
		}
	}
	for path, want := range map[string]int{
		"/api/v1/months/2026-10/report?format=doc": http.StatusBadRequest,
		"/api/v1/months/October/report":            http.StatusBadRequest,
	} {
		if r := get(path, ""); r.StatusCode != want {
			t.Errorf("%s: %s, want %d", path, r.Status, want)
		}
	}
}

// -format pdf prints with Chromium; without one it fails saying what to install.
func TestReportPDF(t *testing.T) {
	p := newPlant(t, "http://127.0.0.1:1")
	out := filepath.Join(t.TempDir(), "r.pdf")
	if _, err := report.Chromium(); errors.Is(err, report.ErrNoChromium) {
		t.Skip("no Chromium (make chromium installs it)")
	}
	var errb bytes.Buffer
	if code := reportMain([]string{"-config", p.cfgPath, "-month", "2026-10", "-format", "pdf", "-lang", "zh-CN", "-o", out}, io.Discard, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	b, err := os.ReadFile(out)
	if err != nil || !bytes.HasPrefix(b, []byte("%PDF-")) {
		t.Fatalf("not a PDF: %v %q", err, b[:min(len(b), 8)])
	}

	t.Setenv(report.ChromiumEnv, filepath.Join(t.TempDir(), "no-chromium"))
	errb.Reset()
	code := reportMain([]string{"-config", p.cfgPath, "-month", "2026-10", "-format", "pdf"}, io.Discard, &errb)
	if code != 1 || !strings.Contains(errb.String(), "apt-get install chromium fonts-noto-cjk") {
		t.Fatalf("without Chromium: exit %d: %s", code, errb.String())
	}
}
