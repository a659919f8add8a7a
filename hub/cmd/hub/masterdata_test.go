package main

import (
	"bytes"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/masterdata"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// hub masterdata imports a file (dry run, then for real, then again with
// no change), names a bad file's every problem with its line and exits 1,
// exports what ParseCSV reads back, and lists the audit log.
func TestMasterDataCommand(t *testing.T) {
	dir := t.TempDir()
	st, err := masterdata.Open(filepath.Join(dir, "masterdata.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	loc, _ := time.LoadLocation("Europe/Berlin")
	svc := masterdata.NewService(masterdata.Base{Site: "s1", Location: loc,
		Registry: []activity.Equipment{{Key: signal.Key{Site: "s1", Line: "L1", Equipment: "M01"}, Registered: true}}}, st, masterdata.Hooks{})
	srv := httptest.NewServer(masterdata.Handler(svc, slog.New(slog.NewTextHandler(io.Discard, nil))))
	defer srv.Close()
	run := func(args ...string) (string, string, int) {
		t.Helper()
		var out, errb bytes.Buffer
		code := masterdataMain(append(args, "-url", srv.URL), strings.NewReader(""), &out, &errb)
		return out.String(), errb.String(), code
	}
	good := filepath.Join(dir, "equipment.csv")
	os.WriteFile(good, []byte("id,line,class,in_service_from\nM09,L1,cnc,2026-10-14\nM01,L1,press,\n"), 0o600)
	if out, errs, code := run("import", "-entity", "equipment", "-f", good, "-dry-run"); code != 0 || out != "would import equipment: 2 added, 0 changed, 0 unchanged\n  + s1/M01\n  + s1/M09\n" {
		t.Fatalf("dry run: %d %q %s", code, out, errs)
	}
	if out, errs, code := run("import", "-entity", "equipment", "-f", good); code != 0 || !strings.HasPrefix(out, "imported equipment: 2 added") {
		t.Fatalf("import: %d %q %s", code, out, errs)
	}
	if out, _, code := run("import", "-entity", "equipment", "-f", good); code != 0 || out != "imported equipment: 0 added, 0 changed, 2 unchanged\n" {
		t.Fatalf("again: %d %q", code, out)
	}
	retire := filepath.Join(dir, "retire.json")
	os.WriteFile(retire, []byte(`[{"id":"M09","line":"L1","class":"cnc","in_service_from":"2026-10-14","in_service_until":"2026-11-20"}]`), 0o600)
	if out, errs, code := run("import", "-entity", "equipment", "-f", retire); code != 0 || !strings.Contains(out, `~ s1/M09: in_service_until "" -> "2026-11-20"`) {
		t.Fatalf("json: %d %q %s", code, out, errs)
	}
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("id,line,in_service_from\nM10,L2,\nM11,L1,14.10.2026\nM10,L1,\n"), 0o600)
	out, errs, code := run("import", "-entity", "equipment", "-f", bad)
	wantOut := bad + `:2, column line: unknown line "L2" of site s1` + "\n" +
		bad + `:3, column in_service_from: bad date "14.10.2026" (want YYYY-MM-DD or YYYY-MM-DDTHH:MM, plant time)` + "\n" +
		bad + `:4, column id: duplicate id s1/M10 (also on line 2)` + "\n"
	if code != 1 || out != wantOut || !strings.Contains(errs, "3 problems") {
		t.Fatalf("bad file: %d\n%s\nwant\n%s\n%s", code, out, wantOut, errs)
	}
	out, _, code = run("export", "-entity", "equipment")
	want := "id,site,line,class,ideal_cycle_s,rated_power_kw,criticality,in_service_from,in_service_until\n" +
		"M01,s1,L1,press,,,,,\nM09,s1,L1,cnc,,,,2026-10-14,2026-11-20\n"
	if code != 0 || out != want {
		t.Fatalf("export: %d\n%s", code, out)
	}
	out, _, code = run("audit")
	if code != 0 || strings.Count(out, "\n") != 3 || !strings.Contains(out, "\tequipment\ts1/M09\tv2\n") {
		t.Fatalf("audit: %d\n%s", code, out)
	}
}
