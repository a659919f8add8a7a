package config

import (
	"strings"
	"testing"

	"github.com/floorpulse/floorpulse/pkg/signal"
)

func TestTemplateMatch(t *testing.T) {
	for _, tc := range []struct {
		tmpl, topic string
		want        map[string]string // nil: no match
	}{
		{"floorpulse/{site}/{line}/{equipment}/{signal}", "floorpulse/p1/L4/M01/run", map[string]string{"site": "p1", "line": "L4", "equipment": "M01", "signal": "run"}},
		{"floorpulse/{site}/{line}/{equipment}/{signal}", "floorpulse/p1/L4/M01", nil},
		{"floorpulse/{site}/{line}/{equipment}/{signal}", "other/p1/L4/M01/run", nil},
		{"floorpulse/{site}/{line}/{equipment}/{signal}", "floorpulse/p1/L4/M.01/run", nil},
		{"floorpulse/{site}/{line}/{equipment}/{signal}", "floorpulse/p1/L4//run", nil},
		{"plc/+/{equipment}/{signal}", "plc/anything/M2/temp", map[string]string{"equipment": "M2", "signal": "temp"}},
		{"plc/{equipment}/#", "plc/M2/a/b/c", map[string]string{"equipment": "M2"}},
		{"plc/{equipment}/#", "plc", nil},
	} {
		tm, err := ParseTemplate(tc.tmpl)
		if err != nil {
			t.Fatalf("ParseTemplate(%q): %v", tc.tmpl, err)
		}
		got, err := tm.Match(tc.topic)
		if tc.want == nil {
			if err == nil {
				t.Errorf("%q ~ %q: want no match, got %v", tc.tmpl, tc.topic, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q ~ %q: %v", tc.tmpl, tc.topic, err)
			continue
		}
		for k, v := range tc.want {
			if got[k] != v {
				t.Errorf("%q ~ %q: %s = %q, want %q", tc.tmpl, tc.topic, k, got[k], v)
			}
		}
	}
}

func TestParseTemplateRejects(t *testing.T) {
	for _, s := range []string{"", "a/{x}", "a/{line}/{line}", "a/#/b", "a/pre{line}"} {
		if _, err := ParseTemplate(s); err == nil {
			t.Errorf("ParseTemplate(%q): want error", s)
		}
	}
}

func FuzzTemplate(f *testing.F) {
	f.Add("floorpulse/{site}/{line}/{equipment}/{signal}", "floorpulse/p1/L4/M01/run")
	f.Add("plc/+/{equipment}/#", "plc/x/M1/a/b")
	f.Add("a/{line}", "a/")
	f.Fuzz(func(t *testing.T, tmpl, topic string) {
		tm, err := ParseTemplate(tmpl)
		if err != nil {
			return
		}
		fields, err := tm.Match(topic)
		if err != nil {
			return
		}
		for k, v := range fields {
			if !tm.Has(k) {
				t.Fatalf("field %q not in template %q", k, tmpl)
			}
			if !signal.ValidToken(v) || strings.Contains(v, "/") {
				t.Fatalf("field %s = %q is not a valid token", k, v)
			}
		}
	})
}
