package config

import (
	"strings"
	"testing"
	"time"

	loader "github.com/floorpulse/floorpulse/pkg/config"
)

func TestOPCUAProblemsNameTheKey(t *testing.T) {
	for name, tc := range map[string]struct {
		section string
		want    []string
	}{
		"unknown deadband type is an error, not off": {
			section: "    deadband: {type: percentage, value: 2}\n    nodes:\n      - {node_id: \"ns=1;s=a\", line: L1, equipment: M1, signal: run, deadband: {type: abs, value: 1}}\n",
			want:    []string{`opcua[0].deadband.type: unknown deadband type "percentage"`, `opcua[0].nodes[0].deadband.type: unknown deadband type "abs"`},
		},
		"deadband values": {
			section: "    nodes:\n      - {node_id: \"ns=1;s=a\", line: L1, equipment: M1, signal: run, deadband: {type: percent, value: 150}}\n      - {node_id: \"ns=1;s=b\", line: L1, equipment: M1, signal: run, deadband: {type: absolute, value: -1}}\n",
			want:    []string{"opcua[0].nodes[0].deadband.value: a percent deadband must be at most 100", "opcua[0].nodes[1].deadband.value: must not be negative"},
		},
		"percent deadband needs a subscription": {
			section: "    mode: poll\n    deadband: {type: percent, value: 1}\n    nodes:\n      - {node_id: \"ns=1;s=a\", line: L1, equipment: M1, signal: run}\n",
			want:    []string{"opcua[0].deadband.type: a percent deadband needs a subscription"},
		},
		"node id and browse path": {
			section: "    nodes:\n      - {node_id: \"ns=1;s=a\", browse_path: Objects/1:a, line: L1, equipment: M1, signal: run}\n      - {line: L1, equipment: M1, signal: run}\n      - {browse_path: \"Objects//x\", line: L1, equipment: M1, signal: run}\n      - {browse_path: \"Objects/1:a\", line: L1, equipment: M1, signal: b}\n      - {browse_path: \"Objects/1:a\", line: L1, equipment: M1, signal: c}\n",
			want: []string{"opcua[0].nodes[0].node_id: set node_id or browse_path, not both", "opcua[0].nodes[1].node_id: node_id or browse_path is required",
				`opcua[0].nodes[2].browse_path: browse path "Objects//x" has an empty element`, `opcua[0].nodes[4].browse_path: "Objects/1:a" already mapped by nodes[3]`},
		},
		"security": {
			section: "    security_policy: Basic256\n    server_thumbprint: abc\n    certificate: c.pem\n    nodes:\n      - {node_id: \"ns=1;s=a\", line: L1, equipment: M1, signal: run}\n",
			want: []string{`opcua[0].security_policy: unknown policy "Basic256"`, `opcua[0].server_thumbprint: "abc" is not a SHA-1 thumbprint`,
				"opcua[0].certificate: certificate and private_key go together"},
		},
		"secured without trust": {
			section: "    security_policy: Basic256Sha256\n    nodes:\n      - {node_id: \"ns=1;s=a\", line: L1, equipment: M1, signal: run}\n",
			want:    []string{"opcua[0].trust_dir: trust_dir or server_thumbprint is required with policy Basic256Sha256"},
		},
		"password without trust": {
			section: "    username: op\n    password: x\n    nodes:\n      - {node_id: \"ns=1;s=a\", line: L1, equipment: M1, signal: run}\n",
			want:    []string{"opcua[0].trust_dir: trust_dir or server_thumbprint is required"},
		},
		"backfill": {
			section: "    backfill: 200h\n    nodes:\n      - {node_id: \"ns=1;s=a\", line: L1, equipment: M1, signal: run}\n",
			want:    []string{"opcua[0].backfill: must be between 0 (off) and 168h0m0s, got 200h0m0s"},
		},
		"session timeout": {
			section: "    session_timeout: 2h\n    nodes:\n      - {node_id: \"ns=1;s=a\", line: L1, equipment: M1, signal: run}\n",
			want:    []string{"opcua[0].session_timeout: must be between 10s and 1h0m0s, got 2h0m0s"},
		},
		"mode": {
			section: "    mode: push\n    nodes:\n      - {node_id: \"ns=1;s=a\", line: L1, equipment: M1, signal: run}\n",
			want:    []string{`opcua[0].mode: unknown mode "push" (want subscribe or poll)`},
		},
	} {
		t.Run(name, func(t *testing.T) {
			var c Config
			doc := "agent_id: a\nsite: s\nopcua:\n  - endpoint: opc.tcp://h:4840\n" + tc.section
			err := loader.Decode("a.yaml", []byte(doc), &c)
			if err == nil {
				t.Fatal("want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%s", w, err)
				}
			}
		})
	}
}

func TestOPCUADefaultsAndSettings(t *testing.T) {
	var c Config
	doc := `agent_id: gw7
site: s
data_dir: /d
opcua:
  - endpoint: opc.tcp://h:4840
    security_policy: Aes256_Sha256_RsaPss
    server_thumbprint: "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01"
    sampling_interval: 250ms
    deadband: {type: absolute, value: 0.5}
    nodes:
      - {node_id: "ns=1;s=a", line: L1, equipment: M1, signal: run}
      - {browse_path: Objects/2:Line\/1/2:M1, line: L1, equipment: M1, signal: power, sampling_interval: 1s, queue_size: 5, deadband: {type: percent, value: 2}}
`
	if err := loader.Decode("a.yaml", []byte(doc), &c); err != nil {
		t.Fatal(err)
	}
	o := c.OPCUA[0]
	if o.SecurityMode != "SignAndEncrypt" || o.Mode != ModeSubscribe || o.QueueSize != 100 || o.PollInterval != time.Second ||
		o.DataDir != "/d" || o.ApplicationURI != "urn:floorpulse:agent:gw7" {
		t.Errorf("defaults: %+v", o)
	}
	if s, q, d := o.Settings(0); s != 250*time.Millisecond || q != 100 || *d != (Deadband{DeadbandAbsolute, 0.5}) {
		t.Errorf("node 0 settings: %s %d %+v", s, q, d)
	}
	if s, q, d := o.Settings(1); s != time.Second || q != 5 || *d != (Deadband{DeadbandPercent, 2}) {
		t.Errorf("node 1 settings: %s %d %+v", s, q, d)
	}
	if NormalThumbprint(o.ServerThumbprint) != "abcdef0123456789abcdef0123456789abcdef01" {
		t.Errorf("thumbprint %q", NormalThumbprint(o.ServerThumbprint))
	}
}

func TestBrowsePath(t *testing.T) {
	bp, err := ParseBrowsePath(`Objects/2:Line\/1/2:M01/Run/0:1:x`)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		ns   uint16
		name string
	}{{0, "Objects"}, {2, "Line/1"}, {2, "M01"}, {0, "Run"}, {0, "1:x"}}
	if len(bp) != len(want) {
		t.Fatalf("parsed %v", bp)
	}
	for i, w := range want {
		if bp[i].NamespaceIndex != w.ns || bp[i].Name != w.name {
			t.Errorf("element %d: %d:%s, want %d:%s", i, bp[i].NamespaceIndex, bp[i].Name, w.ns, w.name)
		}
	}
	if s := bp.String(); s != `Objects/2:Line\/1/2:M01/Run/0:1:x` {
		t.Errorf("String() = %q", s)
	}
	for _, bad := range []string{"", "a/", "/a", `a\`, "2:"} {
		if _, err := ParseBrowsePath(bad); err == nil {
			t.Errorf("ParseBrowsePath(%q): want an error", bad)
		}
	}
}
