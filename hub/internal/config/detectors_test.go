package config

import (
	"strings"
	"testing"
	"time"
)

// Detector settings: defaults, then plant-wide, then class, then line.
func TestDetectorSettingsPrecedence(t *testing.T) {
	cfg, err := Decode("hub.yaml", []byte(`site: s
events:
  detectors:
    downtime_min: 7m
    classes: {press: {downtime_min: 9m, flatline_min: 1h}}
    lines: {L2: {downtime_min: 2m}}
`))
	if err != nil {
		t.Fatal(err)
	}
	d := cfg.Events.Detectors
	if s := d.For("L1", "cnc"); s.DowntimeMin != 7*time.Minute || s.FlatlineMin != 30*time.Minute || s.IdleRunningMin != 10*time.Minute {
		t.Errorf("plant-wide: %+v", s)
	}
	if s := d.For("L1", "press"); s.DowntimeMin != 9*time.Minute || s.FlatlineMin != time.Hour {
		t.Errorf("class: %+v", s)
	}
	if s := d.For("L2", "press"); s.DowntimeMin != 2*time.Minute || s.FlatlineMin != time.Hour {
		t.Errorf("line over class: %+v", s)
	}
	_, err = Decode("hub.yaml", []byte("site: s\nevents:\n  detectors:\n    lines: {L1: {activity_drop: 1.5}}\n"))
	if err == nil || !strings.Contains(err.Error(), "events.detectors.lines.L1.activity_drop") {
		t.Fatalf("bad value not named: %v", err)
	}
}
