package config

import (
	"fmt"
	"strings"

	"github.com/floorpulse/floorpulse/pkg/signal"
)

// Template maps the levels of an MQTT topic to signal fields, e.g.
// "floorpulse/{site}/{line}/{equipment}/{signal}". A level is a literal that
// must match, "+" (any value, ignored) or one of {site}, {line}, {equipment},
// {signal}. A final "#" matches any remaining levels.
type Template struct {
	levels []level
	multi  bool // ends with "#"
}

type level struct {
	literal string
	field   string // site | line | equipment | signal; "" for a literal or "+"
}

// Fields a template can fill.
const (
	FieldSite      = "site"
	FieldLine      = "line"
	FieldEquipment = "equipment"
	FieldSignal    = "signal"
)

// ParseTemplate compiles a topic template.
func ParseTemplate(s string) (Template, error) {
	if s == "" {
		return Template{}, fmt.Errorf("empty template")
	}
	var t Template
	seen := map[string]bool{}
	parts := strings.Split(s, "/")
	for i, p := range parts {
		switch {
		case p == "#":
			if i != len(parts)-1 {
				return Template{}, fmt.Errorf("%q: # must be the last level", s)
			}
			t.multi = true
		case strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}"):
			f := p[1 : len(p)-1]
			switch f {
			case FieldSite, FieldLine, FieldEquipment, FieldSignal:
			default:
				return Template{}, fmt.Errorf("%q: unknown field {%s} (want site, line, equipment or signal)", s, f)
			}
			if seen[f] {
				return Template{}, fmt.Errorf("%q: field {%s} appears twice", s, f)
			}
			seen[f] = true
			t.levels = append(t.levels, level{field: f})
		case strings.ContainsAny(p, "{}#"):
			return Template{}, fmt.Errorf("%q: level %q mixes a field with text", s, p)
		default:
			t.levels = append(t.levels, level{literal: p})
		}
	}
	return t, nil
}

// Has reports whether the template fills field.
func (t Template) Has(field string) bool {
	for _, l := range t.levels {
		if l.field == field {
			return true
		}
	}
	return false
}

// Len returns the number of levels before a final "#".
func (t Template) Len() int { return len(t.levels) }

// Level returns level i: a literal (or "+"), or the field it fills.
func (t Template) Level(i int) (literal, field string) {
	if i < 0 || i >= len(t.levels) {
		return "", ""
	}
	return t.levels[i].literal, t.levels[i].field
}

// Prefix returns the template of the first n levels (all when n >= Len), for
// topics that stop early (Sparkplug B node messages have no device level).
func (t Template) Prefix(n int) Template {
	if n >= len(t.levels) {
		return t
	}
	return Template{levels: t.levels[:n:n]}
}

// Fields are the values a topic gives a template's fields; a field the
// template does not have is "" (a matched value never is).
type Fields struct {
	Site, Line, Equipment, Signal string
}

// Get returns the value of field (FieldSite, ...), "" when it has none.
func (f Fields) Get(field string) string {
	switch field {
	case FieldSite:
		return f.Site
	case FieldLine:
		return f.Line
	case FieldEquipment:
		return f.Equipment
	case FieldSignal:
		return f.Signal
	}
	return ""
}

func (f *Fields) set(field, v string) {
	switch field {
	case FieldSite:
		f.Site = v
	case FieldLine:
		f.Line = v
	case FieldEquipment:
		f.Equipment = v
	case FieldSignal:
		f.Signal = v
	}
}

// Match extracts the fields from a topic, as a map of the fields the
// template has. It fails when the topic does not fit the template or a
// field is not a valid signal name token.
func (t Template) Match(topic string) (map[string]string, error) {
	f, err := t.MatchFields(topic)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, 4)
	for _, field := range []string{FieldSite, FieldLine, FieldEquipment, FieldSignal} {
		if v := f.Get(field); v != "" {
			out[field] = v
		}
	}
	return out, nil
}

// MatchFields is Match without a map: it runs for every message, so it
// walks the topic's levels without splitting it.
func (t Template) MatchFields(topic string) (Fields, error) {
	var f Fields
	rest, more := topic, true
	for i, l := range t.levels {
		if !more {
			return Fields{}, t.levelCountErr(topic)
		}
		var p string
		p, rest, more = strings.Cut(rest, "/")
		switch {
		case l.field != "":
			if !signal.ValidToken(p) {
				return Fields{}, fmt.Errorf("topic %q: level %d (%s) %q is not a valid name", topic, i, l.field, p)
			}
			f.set(l.field, p)
		case l.literal == "+":
		case l.literal != p:
			return Fields{}, fmt.Errorf("topic %q: level %d is %q, template wants %q", topic, i, p, l.literal)
		}
	}
	if more && !t.multi {
		return Fields{}, t.levelCountErr(topic)
	}
	return f, nil
}

func (t Template) levelCountErr(topic string) error {
	return fmt.Errorf("topic %q has %d levels, template wants %d", topic, strings.Count(topic, "/")+1, len(t.levels))
}
