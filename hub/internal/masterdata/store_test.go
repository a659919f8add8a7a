package masterdata

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/pkg/signal"
	"github.com/floorpulse/floorpulse/pkg/testenv"
)

func openStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "masterdata.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func parse(t *testing.T, in string) []Record {
	t.Helper()
	recs, err := ParseCSV(Equipment, strings.NewReader(in), known, berlin(t))
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// An import is an upsert: new keys are added, changed ones get a new
// version, equal ones are left alone; the same file twice changes nothing
// and audits nothing; a dry run writes nothing; every change is audited
// with who and when, before and after. Both backends: the hub's file and
// the JetStream stream of a partitioned deployment.
func TestStoreUpsertAndAudit(t *testing.T) {
	t.Run("bbolt", func(t *testing.T) { testUpsertAndAudit(t, openStore(t)) })
	t.Run("jetstream", func(t *testing.T) { testUpsertAndAudit(t, openShared(t, testenv.StartNATS(t).URL)) })
}

func testUpsertAndAudit(t *testing.T, s Backend) {
	t1 := time.Date(2026, 10, 14, 9, 0, 0, 0, time.UTC)
	file := "id,line,class,in_service_from\nM01,L1,cnc,\nM09,L1,cnc,2026-10-14\n"
	d, err := s.Apply(Equipment, parse(t, file), "erp", t1, true, nil)
	if err != nil || d.Added != 2 || len(d.Changes) != 2 {
		t.Fatalf("dry run: %+v, %v", d, err)
	}
	if recs, _ := s.Records(Equipment); len(recs) != 0 {
		t.Fatalf("a dry run wrote %v", recs)
	}
	if d, err = s.Apply(Equipment, parse(t, file), "erp", t1, false, nil); err != nil || d.Added != 2 {
		t.Fatalf("apply: %+v, %v", d, err)
	}
	d, err = s.Apply(Equipment, parse(t, file), "erp", t1.Add(time.Hour), false, nil)
	if err != nil || d.Added+d.Changed != 0 || d.Unchanged != 2 {
		t.Fatalf("same file again: %+v, %v", d, err)
	}
	t2 := t1.Add(24 * time.Hour)
	d, err = s.Apply(Equipment, parse(t, "id,line,class,in_service_until\nM01,L1,cnc,2026-10-20\n"), "alice", t2, false, nil)
	if err != nil || d.Changed != 1 || d.Unchanged != 0 {
		t.Fatalf("retire: %+v, %v", d, err)
	}
	recs, _ := s.Records(Equipment)
	if len(recs) != 2 || recs[0]["in_service_until"] != "2026-10-20" || recs[1]["in_service_from"] != "2026-10-14" {
		t.Fatalf("records %v", recs)
	}
	audit, err := s.Audit(0, 100)
	if err != nil || len(audit) != 3 {
		t.Fatalf("audit %+v, %v", audit, err)
	}
	last := audit[2]
	if last.Seq != 3 || last.By != "alice" || !last.At.Equal(t2) || last.Key != "s1/M01" || last.Version != 2 ||
		last.Before["in_service_until"] != "" || last.After["in_service_until"] != "2026-10-20" {
		t.Fatalf("last audit entry %+v", last)
	}
	if audit[0].Before != nil || audit[0].By != "erp" || audit[0].Version != 1 {
		t.Fatalf("first audit entry %+v", audit[0])
	}
	if tail, _ := s.Audit(2, 100); len(tail) != 1 || tail[0].Seq != 3 {
		t.Fatalf("audit after 2: %+v", tail)
	}
	if last, _ := s.AuditLast(2); len(last) != 2 || last[0].Seq != 2 || last[1].Seq != 3 {
		t.Fatalf("the last 2: %+v", last)
	}
}

// Imported equipment replaces the YAML entry of its site and id and adds
// the rest; the restated ranges start where the change starts.
func TestRegistryAndRestate(t *testing.T) {
	loc := berlin(t)
	key := func(line, id string) signal.Key { return signal.Key{Site: "s1", Line: line, Equipment: id} }
	base := []activity.Equipment{{Key: key("L1", "M01"), Class: "cnc", Registered: true}, {Key: key("L1", "M02"), Class: "cnc", Registered: true}}
	recs := parse(t, "id,line,class,ideal_cycle_s,rated_power_kw,criticality,in_service_from,in_service_until\n"+
		"M02,L2,press,30,11.5,A,2026-10-14,\nM09,L1,cnc,,,,2026-10-14T12:00,2026-12-01\n")
	reg := Registry(base, recs, loc)
	want := []activity.Equipment{
		{Key: key("L1", "M01"), Class: "cnc", Registered: true},
		{Key: key("L1", "M09"), Class: "cnc", Registered: true, InService: activity.Interval{
			From: time.Date(2026, 10, 14, 12, 0, 0, 0, loc), Until: time.Date(2026, 12, 1, 0, 0, 0, 0, loc)}},
		{Key: key("L2", "M02"), Class: "press", Registered: true, IdealCycle: 30 * time.Second, RatedPower: 11.5, Criticality: "A",
			InService: activity.Interval{From: time.Date(2026, 10, 14, 0, 0, 0, 0, loc)}},
	}
	if !reflect.DeepEqual(reg, want) {
		t.Fatalf("registry\n%+v\nwant\n%+v", reg, want)
	}
	d14 := time.Date(2026, 10, 14, 0, 0, 0, 0, loc)
	d20 := time.Date(2026, 10, 20, 0, 0, 0, 0, loc)
	r := func(s string) Record { return parse(t, "id,line,class,in_service_from,in_service_until\n"+s)[0] }
	got := Restate([]Change{
		{Entity: Equipment, After: r("A1,L1,cnc,2026-10-14,")},                                       // added on the 14th
		{Entity: Equipment, Before: r("A2,L1,cnc,,"), After: r("A2,L1,cnc,,2026-10-20")},             // retired on the 20th
		{Entity: Equipment, Before: r("A3,L1,cnc,,2026-10-20"), After: r("A3,L1,cnc,,")},             // retirement undone
		{Entity: Equipment, Before: r("A4,L1,cnc,2026-10-20,"), After: r("A4,L1,press,2026-10-20,")}, // class: its whole service
		{Entity: Equipment, Before: r("A5,L1,cnc,2026-10-20,"), After: r("A5,L2,cnc,2026-10-14,")},   // moved: both keys
		{Entity: Lines, After: Record{"id": "L1"}},
	}, loc)
	wantR := map[signal.Key]time.Time{key("L1", "A1"): d14, key("L1", "A2"): d20, key("L1", "A3"): d20, key("L1", "A4"): d20,
		key("L1", "A5"): d14, key("L2", "A5"): d14}
	if !reflect.DeepEqual(got, wantR) {
		t.Fatalf("restate %v\nwant %v", got, wantR)
	}
}
