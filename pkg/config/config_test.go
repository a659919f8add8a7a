package config

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

type node struct {
	ID string `yaml:"node_id"`
}

type server struct {
	Endpoint string `yaml:"endpoint"`
	Nodes    []node `yaml:"nodes"`
}

type sample struct {
	Name    string   `yaml:"name"`
	Servers []server `yaml:"opcua"`
}

func (s *sample) SetToDefault() { s.Name = "default" }

func (s *sample) Validate() error {
	var errs []error
	for i, srv := range s.Servers {
		if srv.Endpoint == "" {
			errs = append(errs, Errorf(fmt.Sprintf("opcua[%d].endpoint", i), "required"))
		}
		for j, n := range srv.Nodes {
			if !strings.HasPrefix(n.ID, "ns=") {
				errs = append(errs, Errorf(fmt.Sprintf("opcua[%d].nodes[%d].node_id", i, j), "invalid NodeId %q", n.ID))
			}
		}
	}
	return errors.Join(errs...)
}

func TestDecodeNamesKeyAndLine(t *testing.T) {
	doc := `opcua:
  - endpoint: opc.tcp://x:4840
    nodes:
      - node_id: ns=2;s=a
      - node_id: bogus
  - nodes: []
`
	var s sample
	err := Decode("agent.yaml", []byte(doc), &s)
	if err == nil {
		t.Fatal("want errors")
	}
	msg := err.Error()
	for _, want := range []string{
		`agent.yaml:5: opcua[0].nodes[1].node_id: invalid NodeId "bogus"`,
		`agent.yaml:6: opcua[1].endpoint: required`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	if s.Name != "default" {
		t.Errorf("default not applied: %q", s.Name)
	}
}

func TestDecodeUnknownKey(t *testing.T) {
	var s sample
	err := Decode("agent.yaml", []byte("name: x\nopcua:\n  - nodez: []\n"), &s)
	if err == nil || !strings.Contains(err.Error(), `agent.yaml:3: opcua[0].nodez: unknown key; did you mean "nodes"?`) {
		t.Fatalf("got %v", err)
	}
	// The other problems are reported in the same go.
	if !strings.Contains(err.Error(), "agent.yaml:3: opcua[0].endpoint: required") {
		t.Fatalf("validation problems missing: %v", err)
	}
}

type kinds struct {
	Every   time.Duration            `yaml:"every"`
	On      bool                     `yaml:"on"`
	Count   int                      `yaml:"count"`
	Small   uint8                    `yaml:"small"`
	Ratio   float64                  `yaml:"ratio"`
	Names   []string                 `yaml:"names"`
	Limits  map[string]time.Duration `yaml:"limits"`
	Servers []server                 `yaml:"servers"`
	Inner   struct {
		Name string `yaml:"name"`
	} `yaml:"inner"`
	Embedded `yaml:",inline"`
	Picky    picky `yaml:"picky"`
	Typed    typed `yaml:"typed"`
}

// typed is a type with its own UnmarshalYAML that fails with a
// *yaml.TypeError, after which yaml.v3 goes on.
type typed string

func (p *typed) UnmarshalYAML(n *yaml.Node) error {
	if n.Value != "ok" {
		return &yaml.TypeError{Errors: []string{"want ok"}}
	}
	*p = typed(n.Value)
	return nil
}

// picky is a type with its own UnmarshalYAML that fails with a plain error,
// which stops yaml.v3 short.
type picky string

func (p *picky) UnmarshalYAML(n *yaml.Node) error {
	if n.Value != "ok" {
		return errors.New("line 99: want ok")
	}
	*p = picky(n.Value)
	return nil
}

type Embedded struct {
	Extra string `yaml:"extra"`
}

func TestDecodeProblems(t *testing.T) {
	for name, tc := range map[string]struct {
		doc  string
		want []string
	}{
		"duration":         {"count: 1\nevery: 1 second\n", []string{`c.yaml:2: every: want a duration such as 90s, 15m or 1h30m, got "1 second"`}},
		"bool":             {"on: maybe\n", []string{`c.yaml:1: on: want true or false, got "maybe"`}},
		"int":              {"count: many\n", []string{`c.yaml:1: count: want a whole number, got "many"`}},
		"uint8":            {"small: 300\n", []string{`c.yaml:1: small: want a whole number from 0 to 255, got "300"`}},
		"number":           {"ratio: half\n", []string{`c.yaml:1: ratio: want a number, got "half"`}},
		"list wanted":      {"names: a\n", []string{`c.yaml:1: names: want a list, got "a"`}},
		"mapping wanted":   {"inner: [a]\n", []string{`c.yaml:1: inner: want a mapping (key: value), got a list`}},
		"text wanted":      {"inner:\n  name: {a: 1}\n", []string{`c.yaml:2: inner.name: want a single value (text), got a mapping`}},
		"map value":        {"limits:\n  a: 1s\n  b: soon\n", []string{`c.yaml:3: limits.b: want a duration`}},
		"deep in a list":   {"servers:\n  - endpoint: x\n    nodes:\n      - {node_id: [1]}\n", []string{`c.yaml:4: servers[0].nodes[0].node_id: want a single value (text), got a list`}},
		"flow mapping":     {"servers: [{endpoint: x}, {endpoint: y, nodes: 3}]\n", []string{`c.yaml:1: servers[1].nodes: want a list, got "3"`}},
		"unknown, hint":    {"inner:\n  nmae: x\n", []string{`c.yaml:2: inner.nmae: unknown key; did you mean "name"?`}},
		"unknown, inline":  {"extar: x\n", []string{`c.yaml:1: extar: unknown key; did you mean "extra"?`}},
		"unknown, no hint": {"colour: red\n", []string{`c.yaml:1: colour: unknown key`}},
		"own unmarshaler":  {"count: 1\npicky: no\n", []string{`c.yaml:2: picky: want ok`}},
		"own type error":   {"count: 1\ntyped: no\n", []string{`c.yaml:2: typed: want ok`}},
		"twice":            {"count: 1\ncount: 2\n", []string{`c.yaml:2: count: set twice (first at line 1)`}},
		"not a mapping":    {"- a\n", []string{`c.yaml:1: want a mapping (key: value), got a list`}},
		"syntax":           {"a: b\n c: d\n  e\n", []string{`c.yaml:2: mapping values are not allowed in this context`}},
		"all at once": {"every: x\non: maybe\nzzz: 1\n", []string{
			"c.yaml:1: every: want a duration", "c.yaml:2: on: want true or false", "c.yaml:3: zzz: unknown key",
		}},
	} {
		t.Run(name, func(t *testing.T) {
			var k kinds
			err := Decode("c.yaml", []byte(tc.doc), &k)
			if err == nil {
				t.Fatal("want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if name == "own type error" && err.Error() != "c.yaml:2: typed: want ok" {
				t.Errorf("reported other than once: %v", err)
			}
			if name == "unknown, no hint" && strings.Contains(err.Error(), "did you mean") {
				t.Errorf("hint for a key far from every known one: %v", err)
			}
		})
	}
}

// A value that cannot be read is reported once: Validate's complaint about
// the zero it left is dropped. Problems come sorted by line.
func TestDecodeReadErrorHidesValidation(t *testing.T) {
	var s sample
	err := Decode("agent.yaml", []byte("opcua:\n  - endpoint: x\n    nodes: {a: 1}\n  - endpoint: [y]\n    nodes:\n      - node_id: bad\n"), &s)
	want := `agent.yaml:3: opcua[0].nodes: want a list, got a mapping
agent.yaml:4: opcua[1].endpoint: want a single value (text), got a list
agent.yaml:6: opcua[1].nodes[0].node_id: invalid NodeId "bad"`
	if err == nil || err.Error() != want {
		t.Fatalf("got\n%v\nwant\n%s", err, want)
	}
}

func TestSuggest(t *testing.T) {
	known := []string{"url", "batch", "ack_timeout", "subject_prefix", "qos"}
	for key, want := range map[string]string{
		"urll": "url", "URL": "url", "ack_timeuot": "ack_timeout", "btach": "batch", "subject_prefx": "subject_prefix",
		"qs": "qos", "q": "", "timeout": "", "colour": "",
	} {
		if got := Suggest(key, known); got != want {
			t.Errorf("Suggest(%q) = %q, want %q", key, got, want)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]Size{"1GiB": 1 << 30, "512MiB": 512 << 20, "10MB": 10e6, "123": 123, "4 KiB": 4096} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "GiB", "-1", "1.5GiB", "1PiB"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q): want error", in)
		}
	}
}
