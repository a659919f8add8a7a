package config

import (
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// The shipped sample configuration loads.
func TestSampleConfigLoads(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	cfg, err := Load(filepath.Join(filepath.Dir(file), "..", "..", "..", "configs", "hub.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Location.String() != "Europe/Berlin" || cfg.Threshold("cnc") != 80*time.Hour || len(cfg.Registry) == 0 {
		t.Fatalf("unexpected sample config: %+v", cfg)
	}
}

func TestBadConfigNamesEveryKey(t *testing.T) {
	_, err := Decode("hub.yaml", []byte(`site: plant1
timezone: Mars/Olympus
nats:
  batch: 0
influx:
  url: ftp://x
activity:
  class_thresholds: {press: -1h}
equipment:
  - {line: L1, ids: [M1, M1]}
  - {line: "", ids: []}
  - {line: L2, ids: [M3], ideal_cycle: -5s, rated_power: -2}
`))
	if err == nil {
		t.Fatal("want errors")
	}
	for _, want := range []string{
		"hub.yaml:2: timezone: unknown IANA time zone",
		"hub.yaml:4: nats.batch: must be between 1 and 10000",
		"hub.yaml:6: influx.url: not an http(s) URL",
		"hub.yaml:8: activity.class_thresholds.press: must be positive",
		"hub.yaml:10: equipment[0].ids[1]: plant1/L1/M1 registered twice",
		"hub.yaml:11: equipment[1].line: required",
		"hub.yaml:11: equipment[1].ids: list at least one",
		"hub.yaml:12: equipment[2].ideal_cycle: must not be negative",
		"hub.yaml:12: equipment[2].rated_power: must be a number of kW",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestUnknownKey(t *testing.T) {
	_, err := Decode("hub.yaml", []byte("site: p\nnats:\n  strem: x\n"))
	if err == nil || !strings.Contains(err.Error(), `hub.yaml:3: nats.strem: unknown key; did you mean "stream"?`) {
		t.Fatalf("got %v", err)
	}
}

func TestLogLevel(t *testing.T) {
	cfg, err := Decode("hub.yaml", []byte("site: p\n"))
	if err != nil || cfg.LogLevel != "info" {
		t.Fatalf("default: %q, %v", cfg.LogLevel, err)
	}
	_, err = Decode("hub.yaml", []byte("site: p\nlog_level: verbose\n"))
	if err == nil || !strings.Contains(err.Error(), `hub.yaml:2: log_level: unknown level "verbose" (want debug, info, warn or error)`) {
		t.Fatalf("got %v", err)
	}
}

// The NATS authentication and TLS keys: the embedded server's or the
// external server's client's, never mixed up, each problem named.
func TestNATSAuthKeys(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "none.pem")
	for name, c := range map[string]struct{ nats, want string }{
		"default is nkey":           {`{}`, ""},
		"auth none":                 {`{auth: none}`, ""},
		"unknown auth":              {`{auth: open}`, `nats.auth: want nkey or none (got "open")`},
		"none with url":             {`{url: "nats://h:4222", auth: none}`, "nats.auth: applies to the embedded server only"},
		"token without url":         {`{token: t}`, "nats.token: only with nats.url"},
		"two credentials":           {`{url: "nats://h:4222", token: t, user: u}`, "nats.token: use only one of"},
		"missing nkey":              {`{url: "nats://h:4222", nkey: ` + missing + `}`, "nats.nkey: "},
		"server tls without a cert": {`{tls: {ca_file: ` + missing + `}}`, "nats.tls: the embedded server needs cert_file and key_file"},
		"missing ca":                {`{url: "nats://h:4222", tls: {ca_file: ` + missing + `}}`, "nats.tls.ca_file: open "},
		"verify without ca":         {`{tls: {cert_file: ` + missing + `, key_file: ` + missing + `, verify_clients: true}}`, "nats.tls.verify_clients: needs ca_file"},
		"verify with url":           {`{url: "nats://h:4222", tls: {verify_clients: true}}`, "nats.tls.verify_clients: only for the embedded server"},
		"agents file with url":      {`{url: "nats://h:4222", agents_file: a.yaml}`, "nats.agents_file: only for the embedded server"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Decode("hub.yaml", []byte("site: p\nnats: "+c.nats+"\n"))
			switch {
			case c.want == "" && err != nil:
				t.Fatal(err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("got %v, want %q", err, c.want)
			}
		})
	}
}
