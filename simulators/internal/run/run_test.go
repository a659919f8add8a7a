package run

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/floorpulse/floorpulse/pkg/testenv"
	"github.com/floorpulse/floorpulse/simulators/internal/plant"
)

// fakeClock jumps to whatever time is waited for.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *fakeClock) SleepUntil(ctx context.Context, t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.now) {
		c.now = t
	}
	return ctx.Err()
}

func TestSampleConfigLoads(t *testing.T) {
	c, err := Load(filepath.Join(testenv.Root(t), "configs", "simulator.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if c.History != 1500*time.Hour || c.Site != "plant1" || len(c.Lines) != 4 || c.Lines[3].Source != plant.SourceOPCUA ||
		c.Degradation == nil || c.Degradation.LeadMax != 168*time.Hour {
		t.Errorf("unexpected sample config %+v", c)
	}
}

func TestBadConfigNamesKeys(t *testing.T) {
	p := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(p, []byte("site: plant1\nmqtt: {qos: 3}\nopcua: {port: 0}\nshifts: [{name: a, start: '06:00', end: '14:00'}]\nlines: [{name: L1, source: mqtt, machines: 2, class: c, shifts: [a], mean_run: -1s}]\n"), 0o644)
	_, err := Load(p)
	for _, key := range []string{"mqtt.qos", "opcua.port", "lines[0].mean_run"} {
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("error %v does not name %s", err, key)
		}
	}
	os.WriteFile(p, []byte("site: plant1\ncolour: red\n"), 0o644)
	if _, err := Load(p); err == nil || !strings.Contains(err.Error(), "colour") {
		t.Errorf("unknown key not reported: %v", err)
	}
	os.WriteFile(p, []byte("site: plant1\nshifts: [{name: a, start: '06:00', end: '14:00'}]\nlines: [{name: L1, source: mqtt, machines: 2, class: c, shifts: [a]}]\n"+
		"faults: [{line: L1, machine: 3, at: 1s, duration: 1s, state: down}, {line: L2, machine: 1, at: 1s, duration: 0s, state: off}]\n"+
		"planned_stops: [{line: L1, at: -1s, duration: 1s}]\n"), 0o644)
	_, err = Load(p)
	for _, key := range []string{"faults[0].machine", "faults[1].line", "faults[1].duration", "faults[1].state", "planned_stops[0].at"} {
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("error %v does not name %s", err, key)
		}
	}
	os.WriteFile(p, []byte("site: plant1\nshifts: [{name: a, start: '06:00', end: '14:00'}]\nlines: [{name: L1, source: mqtt, machines: 2, class: c, shifts: [a]}]\n"+
		"degradation: {mean_interval: -1h, lead_min: 48h, lead_max: 24h}\n"), 0o644)
	_, err = Load(p)
	for _, key := range []string{"degradation.mean_interval", "degradation.lead_max"} {
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("error %v does not name %s", err, key)
		}
	}
	os.WriteFile(p, []byte("site: plant1\nfaults: [{line: L1, machine: 1, at: 1s, duration: 1s, state: down, kind: x}]\n"), 0o644)
	if _, err := Load(p); err == nil || !strings.Contains(err.Error(), "kind") {
		t.Errorf("unknown key in a fault not reported: %v", err)
	}
}

// The commented example of faults and planned stops in the sample config is valid.
func TestSampleConfigInjectedExample(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(testenv.Root(t), "configs", "simulator.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.NewReplacer("faults: []\n", "faults:\n", "planned_stops: []\n", "planned_stops:\n", "#  - {line:", "  - {line:").Replace(string(b))
	p := filepath.Join(t.TempDir(), "simulator.yaml")
	os.WriteFile(p, []byte(s), 0o644)
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Faults) != 2 || len(c.PlannedStops) != 1 || c.Faults[0] != (plant.Fault{Line: "L3", Machine: 1, At: 10 * time.Second, Duration: 8 * time.Second, State: plant.Down}) {
		t.Errorf("example faults %+v, planned stops %+v", c.Faults, c.PlannedStops)
	}
}

// The whole simulator with the built-in broker and an OPC UA line, live time
// faked: a subscriber gets every message, and the truth file equals the run
// time computed from what it received.
func TestSimulatorTruthMatchesMQTTStream(t *testing.T) {
	dir := t.TempDir()
	var c Config
	c.SetToDefault()
	c.Timezone = "Europe/Berlin"
	c.Seed = 7
	c.SampleInterval = time.Minute
	c.History = 30 * time.Hour
	c.Live = 20 * time.Minute
	c.MQTT.Listen = "127.0.0.1:0"
	c.OPCUA.WaitForClient = false // nobody reads OPC UA here, and time is faked
	c.OPCUA.MinChangeGap = 0
	c.Shifts = []plant.Shift{{Name: "early", Start: "06:00", End: "14:00"}, {Name: "late", Start: "14:00", End: "22:00"}, {Name: "night", Start: "22:00", End: "06:00"}}
	c.Lines = []plant.Line{
		{Name: "L1", Source: plant.SourceMQTT, Machines: 3, Class: "cnc", Shifts: []string{"early", "late", "night"}, Weekend: true, Operators: 4, MeanRun: 20 * time.Minute, MeanIdle: 5 * time.Minute},
		{Name: "L9", Source: plant.SourceOPCUA, Machines: 1, Class: "mill", Shifts: []string{"early", "late", "night"}, Weekend: true, Operators: 1, MeanRun: 4 * time.Second, MeanIdle: 2 * time.Second, MeanSetup: 3 * time.Second},
	}
	c.Faults = []plant.Fault{
		{Line: "L1", Machine: 2, At: 5 * time.Minute, Duration: 3 * time.Minute, State: plant.Down},
		{Line: "L9", Machine: 1, At: time.Minute, Duration: 30 * time.Second, State: plant.Idle},
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	truthPath := filepath.Join(dir, "var", "truth.json")
	start := time.Date(2026, 11, 1, 2, 0, 0, 0, time.UTC) // the history crosses the local month end
	// The OPC UA server needs a fixed port; another process may take the
	// free one first, so start again on another.
	var sim *Simulator
	for attempt := 1; ; attempt++ {
		c.OPCUA.Port = testenv.FreePort(t)
		sim = New(c, truthPath, &fakeClock{now: start}, slog.Default())
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- sim.Run(ctx) }()
		var err error
		select {
		case <-sim.Ready():
		case err = <-done:
		case <-time.After(20 * time.Second):
			cancel()
			<-done
			t.Fatal("simulator not ready")
		}
		if err == nil {
			t.Cleanup(func() {
				cancel()
				if err := <-done; err != nil {
					t.Error(err)
				}
			})
			break
		}
		cancel()
		if attempt == 3 || !strings.Contains(err.Error(), "address already in use") {
			t.Fatal(err)
		}
	}

	var mu sync.Mutex
	var got []plant.Event
	opts := paho.NewClientOptions().AddBroker(sim.MQTTURL()).SetClientID("consumer").SetCleanSession(false).SetOrderMatters(true)
	cl := paho.NewClient(opts)
	if tok := cl.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer cl.Disconnect(100)
	tok := cl.Subscribe("floorpulse/#", 1, func(_ paho.Client, m paho.Message) {
		parts := strings.Split(m.Topic(), "/")
		var p struct {
			TS    time.Time `json:"ts"`
			Value any       `json:"value"`
		}
		if err := json.Unmarshal(m.Payload(), &p); err != nil || len(parts) != 5 {
			t.Errorf("bad message %s %s", m.Topic(), m.Payload())
			return
		}
		e := plant.Event{Time: p.TS, Line: parts[2], Equipment: parts[3], Name: parts[4]}
		switch v := p.Value.(type) {
		case bool:
			e.Value.Bool = v
		case string:
			e.Value.Str = v
		}
		mu.Lock()
		got = append(got, e)
		mu.Unlock()
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}

	deadline := time.Now().Add(60 * time.Second)
	for {
		_, err := os.Stat(truthPath)
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if err == nil && int64(n) == sim.Published() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("received %d of %d messages, truth file: %v", n, sim.Published(), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	b, err := os.ReadFile(truthPath)
	if err != nil {
		t.Fatal(err)
	}
	var tr plant.Truth
	if err := json.Unmarshal(b, &tr); err != nil {
		t.Fatal(err)
	}
	loc, _ := time.LoadLocation(c.Timezone)
	months := map[string]map[string]int64{}
	runs := map[string]bool{}
	last := map[string]time.Time{}
	mu.Lock()
	for _, e := range got {
		k := e.Line + "/" + e.Equipment
		if e.Name != "run" {
			continue
		}
		if months[k] == nil {
			months[k] = map[string]int64{}
		}
		if runs[k] {
			for a := last[k]; a.Before(e.Time); {
				l := a.In(loc)
				next := time.Date(l.Year(), l.Month(), l.Day()+1, 0, 0, 0, 0, loc)
				bnd := minTime(next, e.Time)
				months[k][l.Format("2006-01")] += bnd.Sub(a).Milliseconds()
				a = bnd
			}
		}
		runs[k], last[k] = e.Value.Bool, e.Time
	}
	mu.Unlock()
	now := start.Truncate(time.Millisecond)
	var sawOPC bool
	for _, e := range tr.Equipment {
		k := e.Line + "/" + e.Equipment
		if e.Source == plant.SourceOPCUA {
			sawOPC = true
			if !e.Start.Equal(now) || !e.End.Equal(now.Add(c.Live)) {
				t.Errorf("%s: [%v, %v), want [%v, %v)", k, e.Start, e.End, now, now.Add(c.Live))
			}
			continue
		}
		if !e.Start.Equal(now.Add(-c.History)) {
			t.Errorf("%s starts %v", k, e.Start)
		}
		if len(e.Months) != 2 {
			t.Errorf("%s months %v, want October and November", k, e.Months)
		}
		for mo, v := range e.Months {
			if v.RunMs != months[k][mo] {
				t.Errorf("%s %s: truth %d ms, stream %d ms", k, mo, v.RunMs, months[k][mo])
			}
		}
	}
	if !sawOPC || len(tr.Operators) != 5 {
		t.Errorf("OPC UA machine in truth %v, %d operators", sawOPC, len(tr.Operators))
	}
	// The fault on the MQTT line is in the stream: L1/M02 reports down from
	// the fault's start and nothing else until its end.
	from, to := now.Add(5*time.Minute), now.Add(8*time.Minute)
	var st string
	mu.Lock()
	for _, e := range got {
		if e.Line == "L1" && e.Equipment == "M02" && e.Name == "state" && e.Time.Before(to) {
			if e.Time.After(from) {
				t.Errorf("L1/M02 reports %q at %v during its fault", e.Value.Str, e.Time)
			}
			st = e.Value.Str
		}
	}
	mu.Unlock()
	if st != plant.Down {
		t.Errorf("L1/M02 reports %q during its fault, want down", st)
	}
	if len(tr.Faults) != 2 || tr.Faults[0].Line != "L9" || !tr.Faults[1].Start.Equal(from) || !tr.Faults[1].End.Equal(to) {
		t.Errorf("truth faults %+v", tr.Faults)
	}
}
