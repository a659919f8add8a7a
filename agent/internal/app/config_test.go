package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/floorpulse/floorpulse/agent/internal/buffer"
	"github.com/floorpulse/floorpulse/agent/internal/config"
)

// TestBufferAndNATSConfig checks that every buffer policy the configuration
// accepts is one the queue implements, and that bad buffer and NATS settings
// are refused with their key.
func TestBufferAndNATSConfig(t *testing.T) {
	const src = "mqtt:\n  - broker: tcp://127.0.0.1:1883\n    subscriptions:\n      - {topic: a/+/+/+, template: \"a/{line}/{equipment}/{signal}\", site: s1}\n"
	for _, p := range []string{config.PolicyDropOldest, config.PolicyDropNewest, config.PolicyBlock} {
		var cfg config.Config
		if err := loadString("agent_id: a1\nbuffer:\n  policy: "+p+"\n  max_age: 24h\n"+src, &cfg); err != nil {
			t.Fatalf("policy %s: %v", p, err)
		}
		if _, err := buffer.ParsePolicy(cfg.Buffer.Policy); err != nil {
			t.Fatalf("config accepts %s, the queue does not: %v", p, err)
		}
	}

	dir := t.TempDir()
	notSeed := filepath.Join(dir, "bad.nk")
	if err := os.WriteFile(notSeed, []byte("hello\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct{ doc, want string }{
		"policy":         {"buffer:\n  policy: drop_all\n", `buffer.policy: unknown policy "drop_all" (want drop_oldest, drop_newest or block)`},
		"negative age":   {"buffer:\n  max_age: -1h\n", "buffer.max_age: must be 0 (off) or at least 1s, got -1h0m0s"},
		"tiny age":       {"buffer:\n  max_age: 10ms\n", "buffer.max_age: must be 0 (off) or at least 1s"},
		"two auths":      {"nats:\n  token: t\n  nkey: x.nk\n", "nats.nkey: use only one of user/password, token, creds or nkey (nats.token is set too)"},
		"nkey missing":   {"nats:\n  nkey: " + filepath.Join(dir, "none.nk") + "\n", "nats.nkey: open "},
		"nkey not seed":  {"nats:\n  nkey: " + notSeed + "\n", "nats.nkey: no nkey seed in"},
		"creds missing":  {"nats:\n  creds: " + filepath.Join(dir, "none.creds") + "\n", "nats.creds: open "},
		"tls cert alone": {"nats:\n  tls:\n    cert: c.pem\n", "nats.tls.key: required with cert"},
		"tls ca missing": {"nats:\n  tls:\n    ca: " + filepath.Join(dir, "none.pem") + "\n", "nats.tls.ca: "},
	} {
		t.Run(name, func(t *testing.T) {
			var cfg config.Config
			err := loadString("agent_id: a1\n"+tc.doc+src, &cfg)
			if err == nil {
				t.Fatal("want an error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error lacks %q:\n%v", tc.want, err)
			}
		})
	}
}
