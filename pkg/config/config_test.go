package config

import (
	"errors"
	"fmt"
	"strings"
	"testing"
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
	if err == nil || !strings.Contains(err.Error(), `line 3: unknown key "nodez"`) {
		t.Fatalf("got %v", err)
	}
	// The other problems are reported in the same go.
	if !strings.Contains(err.Error(), "agent.yaml:3: opcua[0].endpoint: required") {
		t.Fatalf("validation problems missing: %v", err)
	}
}
