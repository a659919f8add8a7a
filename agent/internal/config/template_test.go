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

func TestTemplatePrefixAndLevels(t *testing.T) {
	tm, err := ParseTemplate("spBv1.0/{site}/+/{line}/{equipment}")
	if err != nil {
		t.Fatal(err)
	}
	if tm.Len() != 5 {
		t.Fatalf("Len = %d", tm.Len())
	}
	if lit, f := tm.Level(0); lit != "spBv1.0" || f != "" {
		t.Errorf("level 0 = %q %q", lit, f)
	}
	if lit, f := tm.Level(4); lit != "" || f != FieldEquipment {
		t.Errorf("level 4 = %q %q", lit, f)
	}
	if lit, f := tm.Level(5); lit != "" || f != "" {
		t.Errorf("level 5 = %q %q", lit, f)
	}
	// A node message has no device level: the first four levels still match.
	got, err := tm.Prefix(4).Match("spBv1.0/plant1/NDATA/L4")
	if err != nil || got[FieldSite] != "plant1" || got[FieldLine] != "L4" || got[FieldEquipment] != "" {
		t.Fatalf("prefix match: %v %v", got, err)
	}
	if _, err := tm.Prefix(4).Match("spBv1.0/plant1/NDATA/L4/M01"); err == nil {
		t.Error("a prefix template matched a longer topic")
	}
	if tm.Prefix(9).Len() != 5 {
		t.Error("Prefix beyond Len changed the template")
	}
}

// splitMatch is Match written plainly: the topic split into its levels.
func splitMatch(t Template, topic string) (map[string]string, bool) {
	parts := strings.Split(topic, "/")
	if len(parts) < len(t.levels) || (!t.multi && len(parts) != len(t.levels)) {
		return nil, false
	}
	out := map[string]string{}
	for i, l := range t.levels {
		p := parts[i]
		switch {
		case l.field != "":
			if !signal.ValidToken(p) {
				return nil, false
			}
			out[l.field] = p
		case l.literal == "+":
		case l.literal != p:
			return nil, false
		}
	}
	return out, true
}

// FuzzTemplateMatchesPlainSplit checks Match, which walks the topic,
// against splitMatch.
func FuzzTemplateMatchesPlainSplit(f *testing.F) {
	f.Add("floorpulse/{site}/{line}/{equipment}/{signal}", "floorpulse/p1/L4/M01/run")
	f.Add("plc/{equipment}/#", "plc/M2")
	f.Add("plc/{equipment}/#", "plc")
	f.Add("a/+/{line}", "a//L1")
	f.Fuzz(func(t *testing.T, tmpl, topic string) {
		tm, err := ParseTemplate(tmpl)
		if err != nil {
			return
		}
		got, err := tm.Match(topic)
		want, ok := splitMatch(tm, topic)
		if (err == nil) != ok {
			t.Fatalf("%q ~ %q: error %v, plain match %v", tmpl, topic, err, ok)
		}
		if len(got) != len(want) {
			t.Fatalf("%q ~ %q: %v, plain %v", tmpl, topic, got, want)
		}
		for k, v := range want {
			if got[k] != v {
				t.Fatalf("%q ~ %q: %v, plain %v", tmpl, topic, got, want)
			}
		}
	})
}
