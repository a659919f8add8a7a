package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	loader "github.com/floorpulse/floorpulse/pkg/config"
)

func TestSampleConfigLoads(t *testing.T) {
	c, err := Load(filepath.Join("..", "..", "..", "configs", "agent.yaml"))
	if err != nil {
		t.Fatalf("sample config: %v", err)
	}
	if c.AgentID != "gw1" || c.NATS.Batch != 1000 || c.Buffer.MaxBytes != 1<<30 {
		t.Errorf("unexpected values: %+v", c)
	}
	if len(c.MQTT) != 1 || *c.MQTT[0].QoS != 1 || c.MQTT[0].CleanSession {
		t.Errorf("mqtt: %+v", c.MQTT)
	}
	if got := len(c.OPCUA[0].Nodes); got != 22 { // 3 machines, 7 signals each, and the meter of M01
		t.Errorf("opcua nodes: %d, want 22", got)
	}
	if c.OPCUA[0].PublishingInterval != 100*time.Millisecond {
		t.Errorf("publishing interval %s", c.OPCUA[0].PublishingInterval)
	}
	f, err := c.MQTT[0].Subscriptions[0].Compiled().Match("floorpulse/plant1/L4/M01/run")
	if err != nil || f[FieldEquipment] != "M01" || f[FieldSignal] != "run" {
		t.Errorf("template match: %v %v", f, err)
	}
}

func TestDefaults(t *testing.T) {
	var c Config
	err := loader.Decode("a.yaml", []byte("agent_id: a1\nsite: s1\nmqtt:\n  - broker: tcp://h:1883\n    subscriptions:\n      - {topic: x/+/+, template: \"x/{line}/{equipment}\", signal: run}\n"), &c)
	if err != nil {
		t.Fatal(err)
	}
	m := c.MQTT[0]
	if m.ClientID != "floorpulse-agent-a1" || *m.QoS != 1 || m.Subscriptions[0].Format != "json" || m.Subscriptions[0].Value != "value" {
		t.Errorf("defaults not applied: %+v %+v", m, m.Subscriptions[0])
	}
	if c.HTTP != "127.0.0.1:9102" || c.NATS.URL != "nats://127.0.0.1:4222" {
		t.Errorf("root defaults: %+v", c)
	}
}

func TestBadConfigsNameKeyAndLine(t *testing.T) {
	for name, tc := range map[string]struct {
		doc  string
		want []string
	}{
		"unknown key": {
			doc:  "agent_id: a\nnats:\n  urll: x\n",
			want: []string{`a.yaml:3: nats.urll: unknown key; did you mean "url"?`},
		},
		"bad size": {
			doc:  "agent_id: a\nbuffer:\n  max_bytes: lots\n",
			want: []string{`a.yaml:3: buffer.max_bytes: invalid size "lots"`},
		},
		"type error": {
			doc:  "agent_id: a\nnats:\n  url: nats://h:4222\n  ack_timeout: 1 second\n",
			want: []string{`a.yaml:4: nats.ack_timeout: want a duration such as 90s, 15m or 1h30m, got "1 second"`},
		},
		"many problems": {
			doc: `agent_id: gw 1
http: nope
nats:
  batch: 0
mqtt:
  - broker: tcp://127.0.0.1:1883
    qos: 3
    subscriptions:
      - topic: a/+
        template: a/{machine}
        format: xml
opcua:
  - endpoint: http://x
    security_mode: Sign
    nodes:
      - {node_id: "ns=2;x=1", line: L1, equipment: M1, signal: run}
      - {node_id: "ns=2;s=a", line: "L 1", equipment: M1}
`,
			want: []string{
				`a.yaml:1: agent_id: "gw 1" is not a valid name`,
				`a.yaml:2: http: invalid listen address "nope"`,
				`a.yaml:4: nats.batch: must be between 1 and 10000, got 0`,
				`a.yaml:7: mqtt[0].qos: must be 0, 1 or 2, got 3`,
				`a.yaml:10: mqtt[0].subscriptions[0].template: "a/{machine}": unknown field {machine}`,
				`a.yaml:11: mqtt[0].subscriptions[0].format: unknown format "xml"`,
				`a.yaml:13: opcua[0].endpoint: invalid endpoint "http://x"`,
				`a.yaml:14: opcua[0].security_mode: mode "Sign" does not go with policy "None"`,
				`a.yaml:16: opcua[0].nodes[0].node_id: invalid NodeId "ns=2;x=1"`,
				`a.yaml:16: opcua[0].nodes[0].site: required`,
				`a.yaml:17: opcua[0].nodes[1].line: "L 1" is not a valid name`,
				`a.yaml:17: opcua[0].nodes[1].signal: required`,
			},
		},
		"no source": {
			doc:  "agent_id: a\n",
			want: []string{"mqtt: no source configured"},
		},
		"template lacks field": {
			doc:  "agent_id: a\nmqtt:\n  - broker: tcp://h:1\n    subscriptions:\n      - {topic: t/+, template: \"t/{equipment}\"}\n",
			want: []string{`a.yaml:5: mqtt[0].subscriptions[0].template: "t/{equipment}" does not give {site}`, `does not give {line}`, `does not give {signal}`},
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "a.yaml")
			if err := os.WriteFile(p, []byte(tc.doc), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(p)
			if err == nil {
				t.Fatal("want an error")
			}
			msg := strings.ReplaceAll(err.Error(), p, "a.yaml")
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error lacks %q:\n%s", w, msg)
				}
			}
		})
	}
}
