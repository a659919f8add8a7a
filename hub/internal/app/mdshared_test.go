package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/floorpulse/floorpulse/hub/internal/alert"
	"github.com/floorpulse/floorpulse/hub/internal/auth"
	"github.com/floorpulse/floorpulse/hub/internal/config"
	"github.com/floorpulse/floorpulse/hub/internal/masterdata"
	"github.com/floorpulse/floorpulse/hub/internal/partition"
	"github.com/floorpulse/floorpulse/pkg/signal"
	"github.com/floorpulse/floorpulse/pkg/testenv"
)

// lineOctober reads the October 2026 point of a line's line_activity.
func (r *partitionedRig) lineOctober(site, line string) map[string]any {
	q := influxdb2.NewClient(r.in.URL, "").QueryAPI("")
	res, err := q.Query(context.Background(), fmt.Sprintf(`from(bucket:"floorpulse/autogen") |> range(start: 2026-09-01T00:00:00Z, stop: 2026-10-31T00:00:00Z)
		|> filter(fn: (r) => r._measurement == "line_activity" and r.period == "month" and r.site == %q and r.line == %q)`, site, line))
	got := map[string]any{}
	if err != nil {
		return got
	}
	for res.Next() {
		got[res.Record().Field()] = res.Record().Value()
	}
	return got
}

// waitRate waits until a line's October point has active of registered
// equipment, and that rate.
func (r *partitionedRig) waitRate(step, site, line string, active, registered int64) {
	r.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := r.lineOctober(site, line)
		if got["active"] == active && got["registered"] == registered && got["active_rate"] == float64(active)/float64(registered) {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%s: %s/%s October = active %v, registered %v, rate %v; want %d of %d", step, site, line,
				got["active"], got["registered"], got["active_rate"], active, registered)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sendServed posts JSON once the site's partition is served (503 until
// then).
func (r *partitionedRig) sendServed(url, token, contentType, body string) (int, string) {
	r.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, got := send(r.t, "POST", url, token, contentType, body)
		if code != http.StatusServiceUnavailable || time.Now().After(deadline) {
			return code, got
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Master data and actions are the stream's, not a hub's. Two hub processes
// share two partitions. An action is created on hub a while it holds every
// partition; b joins. A CSV imported through a adds a machine in the middle
// of October on a site of b's partition and one on a site of a's: b writes
// the new active rate of its line, a of its own. The action is read and
// changed through b. a is killed (SIGKILL) and a change of its site's
// machine is imported through b before b takes a's partition over: b
// restates it at the takeover and computes with it from the start; the
// action is still there, with b's change, and changes again.
func TestPartitionedHubsShareMasterDataAndActions(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	r := &partitionedRig{t: t, nats: testenv.StartNATS(t), in: testenv.StartInflux(t, "floorpulse"), dir: t.TempDir(),
		sites: []string{"s1", "s2", "s3", "s4"}, count: 2, ttl: 2 * time.Second, http: map[string]int{}}
	r.js, _ = jetstream.New(connect(t, r.nats.URL))
	admin, err := auth.AddToken(filepath.Join(r.dir, "tokens.yaml"), "erp", auth.Admin, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	url := func(id, path string) string { return fmt.Sprintf("http://127.0.0.1:%d%s", r.http[id], path) }

	a := r.start("a")
	r.waitOwners("a holds both partitions", 20*time.Second, map[string]int{"a": 2})
	// October 2026, UTC (744 h): on every site L1/M01 runs 100 h (active),
	// L1/M02 is silent, and M09, in no registry yet, runs 50 h from the 20th.
	var sigs []signal.Signal
	for _, site := range r.sites {
		mk := func(eq string, day, hour int, on bool) signal.Signal {
			return signal.Signal{Site: site, Line: "L1", Equipment: eq, Name: signal.Run, Value: signal.Bool(on),
				Time: time.Date(2026, 10, day, hour, 0, 0, 0, time.UTC), Agent: "test"}
		}
		sigs = append(sigs, mk("M01", 2, 0, true), mk("M01", 6, 4, false), mk("M09", 20, 0, true), mk("M09", 22, 2, false))
	}
	publish(t, r.js, sigs)

	code, body := r.sendServed(url("a", "/api/v1/actions"), admin, "application/json",
		fmt.Sprintf(`{"what":"check the spindle","owner":"alice","due":"2026-11-01","subject":{"kind":"machine","site":%q,"line":"L1","equipment":"M01"}}`, r.sites[0]))
	var act struct{ ID, Status string }
	if err := json.Unmarshal([]byte(body), &act); code != http.StatusCreated || err != nil || act.ID == "" {
		t.Fatalf("creating an action on a: %d %s", code, body)
	}

	b := r.start("b")
	owners, _ := r.waitOwners("b takes a partition", 30*time.Second, map[string]int{"a": 1, "b": 1})
	site := map[string]string{} // a site of each hub's partition
	for _, s := range r.sites {
		site[owners[partition.Of(s, r.count)]] = s
	}
	if site["a"] == "" || site["b"] == "" {
		t.Fatalf("the sites do not cover both partitions: %v", owners)
	}
	for _, h := range []string{"a", "b"} {
		r.waitRate("YAML registry", site[h], "L1", 1, 2)
	}

	// The import through a: M09 in service from the 15th (408 h of 744),
	// threshold 80 h x 408/744 = 43.9 h, 50 h run: active. 2 of 3, on the
	// site b holds (b writes it) and on the one a holds.
	csv := fmt.Sprintf("id,site,line,class,in_service_from\nM09,%s,L1,cnc,2026-10-15\nM09,%s,L1,cnc,2026-10-15\n", site["a"], site["b"])
	if code, body := send(t, "PUT", url("a", "/api/v1/masterdata/equipment"), admin, "text/csv", csv); code != http.StatusOK || !strings.Contains(body, `"added":2`) {
		t.Fatalf("import through a: %d %s", code, body)
	}
	r.waitRate("M09 imported through a, on b's site", site["b"], "L1", 2, 3)
	r.waitRate("M09 imported through a, on a's site", site["a"], "L1", 2, 3)
	// b serves the master data a imported, and its audit.
	if code, body := send(t, "GET", url("b", "/api/v1/masterdata/equipment"), admin, "", ""); code != http.StatusOK || strings.Count(body, "M09") != 2 {
		t.Fatalf("export on b: %d %s", code, body)
	}
	if code, body := send(t, "GET", url("b", "/api/v1/masterdata/audit"), admin, "", ""); code != http.StatusOK || strings.Count(body, `"by": "erp"`)+strings.Count(body, `"by":"erp"`) != 2 {
		t.Fatalf("audit on b: %d %s", code, body)
	}

	// The action, read and changed through b.
	if code, body := send(t, "GET", url("b", "/api/v1/actions/"+act.ID), r.token, "", ""); code != http.StatusOK || !strings.Contains(body, "check the spindle") {
		t.Fatalf("action on b: %d %s", code, body)
	}
	if code, body := send(t, "PATCH", url("b", "/api/v1/actions/"+act.ID), admin, "application/json", `{"status":"in_progress","note":"spindle ordered"}`); code != http.StatusOK {
		t.Fatalf("patching the action on b: %d %s", code, body)
	}

	// a is killed; before b takes its partition over, M09 of a's site
	// moves into service on the 21st, through b: 264 h in service,
	// threshold 28.4 h, 26 h run from then: not active. b restates it when
	// it takes the partition over: no signal comes in between.
	aPart := partition.Of(site["a"], r.count)
	r.waitFor("a snapshot of a's partition", 15*time.Second, func() bool {
		obs, err := r.js.ObjectStore(context.Background(), partition.StateBucket("FLOORPULSE_SIGNALS"))
		if err != nil {
			return false
		}
		info, err := obs.GetInfo(context.Background(), partition.Object(aPart))
		ci := r.consumerInfo(aPart)
		return err == nil && ci != nil && ci.AckFloor.Stream > 0 && info.Metadata["seq"] == strconv.FormatUint(ci.AckFloor.Stream, 10)
	})
	a.Kill()
	csv = fmt.Sprintf("id,site,line,class,in_service_from\nM09,%s,L1,cnc,2026-10-21\n", site["a"])
	if code, body := send(t, "PUT", url("b", "/api/v1/masterdata/equipment"), admin, "text/csv", csv); code != http.StatusOK || !strings.Contains(body, `"changed":1`) {
		t.Fatalf("import through b: %d %s", code, body)
	}
	r.waitOwners("b takes a's partition", 30*time.Second, map[string]int{"b": 2})
	r.waitRate("a's partition taken over after the import", site["a"], "L1", 1, 3)
	if !strings.Contains(b.Output(), `msg="master data restated"`) {
		t.Errorf("b did not restate the change made while nobody held a's partition:\n%s", b.Output())
	}
	code, body = send(t, "GET", url("b", "/api/v1/actions/"+act.ID), r.token, "", "")
	if err := json.Unmarshal([]byte(body), &act); code != http.StatusOK || err != nil || act.Status != "in_progress" || !strings.Contains(body, "spindle ordered") {
		t.Fatalf("the action after a was killed: %d %s", code, body)
	}
	if code, body := send(t, "PATCH", url("b", "/api/v1/actions/"+act.ID), admin, "application/json", `{"status":"done"}`); code != http.StatusOK || !strings.Contains(body, `"done"`) || !strings.Contains(body, `"effect"`) {
		t.Fatalf("closing the action on b, measured there: %d %s", code, body)
	}
	if code, body := send(t, "GET", url("b", "/api/v1/actions?status=done"), r.token, "", ""); code != http.StatusOK || !strings.Contains(body, act.ID) {
		t.Fatalf("listing on b: %d %s", code, body)
	}
	// b computes a's former partition with the imported machine: a new
	// signal there rewrites the line's October, still 1 of 3 (M02's 1 h
	// is not active; M09's 26 h in service are counted).
	publish(t, r.js, []signal.Signal{
		{Site: site["a"], Line: "L1", Equipment: "M02", Name: signal.Run, Value: signal.Bool(true), Time: time.Date(2026, 10, 25, 0, 0, 0, 0, time.UTC), Agent: "test"},
		{Site: site["a"], Line: "L1", Equipment: "M02", Name: signal.Run, Value: signal.Bool(false), Time: time.Date(2026, 10, 25, 1, 0, 0, 0, time.UTC), Agent: "test"},
	})
	r.waitFor("b writes M02's hour", 30*time.Second, func() bool {
		got := r.lineOctober(site["a"], "L1")
		rs, _ := got["run_hours"].(float64)
		return rs == 100+26+1
	})
	r.waitRate("a's former partition on b", site["a"], "L1", 1, 3)
}

// A roster and a shift calendar imported through one hub of a partitioned
// deployment reach the alerts and the calendars of another hub, without a
// restart, and a hub started afterwards reads them at its start.
func TestSharedRosterAndCalendarReachEveryHub(t *testing.T) {
	n := testenv.StartNATS(t)
	cfg, err := config.Decode("hub.yaml", []byte(fmt.Sprintf(`site: s1
timezone: Europe/Berlin
data_dir: %s
nats: {url: %q}
partitions: {count: 2}
calendar: {shifts: [{name: early, start: "06:00", end: "14:00"}, {name: late, start: "14:00", end: "22:00"}]}
equipment: [{line: L1, ids: [M01]}]
events:
  webhooks: [{name: leaders, url: "http://127.0.0.1:1/hook", secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}]
  alerts:
    people: {alice: {channel: leaders}, bob: {channel: leaders}}
    roster: {L1: {early: [alice], late: [alice]}}
`, t.TempDir(), n.URL)))
	if err != nil {
		t.Fatal(err)
	}
	open := func() *hub {
		js, _ := jetstream.New(connect(t, n.URL))
		h := &hub{cfg: cfg, js: js, log: slog.New(slog.NewTextHandler(io.Discard, nil)), dated: &alert.Dated{}, cals: newCalendars(cfg)}
		md, err := h.openSharedMasterData(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- md.Run(ctx) }()
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Error(err)
			}
		})
		return h
	}
	a, b := open(), open()
	leaders := func(h *hub) string {
		r := alert.Roster{Lines: cfg.Events.Alerts.Roster, Dated: h.dated}
		return fmt.Sprint(r.LeadersOn("L1", "early", time.Date(2026, 10, 14, 6, 0, 0, 0, cfg.Location)))
	}
	shifts := func(h *hub) string {
		day := time.Date(2026, 10, 21, 0, 0, 0, 0, cfg.Location)
		var out []string
		for _, in := range h.cals.of("s1", "L1").ShiftInstances(day.UnixNano(), day.Add(24*time.Hour).UnixNano()) {
			out = append(out, fmt.Sprintf("%s %s", in.Name, time.Unix(0, in.Start).In(cfg.Location).Format("15:04")))
		}
		return strings.Join(out, ", ")
	}
	if leaders(b) != "[alice]" || shifts(b) != "early 06:00, late 14:00" {
		t.Fatalf("before: %s; %s", leaders(b), shifts(b))
	}
	imp := func(e masterdata.Entity, csv string) {
		t.Helper()
		recs, err := a.md.Parse(e, "text/csv", strings.NewReader(csv))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.md.Import(e, recs, "hr", false); err != nil {
			t.Fatal(err)
		}
	}
	imp(masterdata.Shifts, "line,name,start,end,valid_from\nL1,day,08:00,16:00,2026-10-20\n")
	imp(masterdata.Rosters, "date,line,shift,leaders\n2026-10-14,L1,early,bob\n")
	deadline := time.Now().Add(10 * time.Second)
	for _, h := range []*hub{a, b} {
		for leaders(h) != "[bob]" || shifts(h) != "day 08:00" {
			if time.Now().After(deadline) {
				t.Fatalf("after the imports: %s; %s", leaders(h), shifts(h))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if c := open(); leaders(c) != "[bob]" || shifts(c) != "day 08:00" {
		t.Fatalf("a hub started after the imports: %s; %s", leaders(c), shifts(c))
	}
}

// The offline commands of a partitioned hub compute with the master data
// on its NATS server, and say so when the server does not answer.
func TestEngineOptionsReadSharedMasterData(t *testing.T) {
	n := testenv.StartNATS(t)
	conf := func(url string) *config.Config {
		cfg, err := config.Decode("hub.yaml", []byte(fmt.Sprintf(`site: s1
timezone: UTC
data_dir: %s
nats: {url: %q}
partitions: {count: 2}
equipment: [{line: L1, ids: [M01]}]
`, t.TempDir(), url)))
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	cfg := conf(n.URL)
	if opts, err := EngineOptions(cfg); err != nil || len(opts.Registry) != 1 {
		t.Fatalf("nothing imported: %v, %v", opts.Registry, err)
	}
	js, _ := jetstream.New(connect(t, n.URL))
	st, err := masterdata.OpenShared(context.Background(), js, partition.MasterDataStream(cfg.NATS.Stream), partition.MasterDataSubjects(cfg.NATS.Stream))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Apply(masterdata.Equipment, []masterdata.Record{{"id": "M09", "site": "s1", "line": "L1", "in_service_from": "2026-10-15"}},
		"erp", time.Now(), false, nil); err != nil {
		t.Fatal(err)
	}
	opts, err := EngineOptions(cfg)
	if err != nil || len(opts.Registry) != 2 || opts.Registry[1].Key.Equipment != "M09" ||
		!opts.Registry[1].InService.From.Equal(time.Date(2026, 10, 15, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("imported: %+v, %v", opts.Registry, err)
	}
	if _, err := EngineOptions(conf(fmt.Sprintf("nats://127.0.0.1:%d", testenv.FreePort(t)))); err == nil ||
		!strings.Contains(err.Error(), "reading the shared master data") {
		t.Fatalf("no server: %v", err)
	}
}
