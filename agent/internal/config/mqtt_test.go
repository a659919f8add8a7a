package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/floorpulse/floorpulse/pkg/testenv"
)

// loadDoc writes doc to a file and loads it; errors name the file "a.yaml".
func loadDoc(t *testing.T, doc string) (*Config, error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "a.yaml")
	if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(p)
	if err != nil {
		return nil, &renamed{strings.ReplaceAll(err.Error(), p, "a.yaml")}
	}
	return c, nil
}

type renamed struct{ msg string }

func (r *renamed) Error() string { return r.msg }

func mqttDoc(broker, extra, sub string) string {
	return "agent_id: a\nsite: s1\nmqtt:\n  - broker: " + broker + "\n" + extra +
		"    subscriptions:\n" + sub
}

const jsonSub = "      - {topic: x/+/+/+, template: \"x/{line}/{equipment}/{signal}\"}\n"

func TestTLSConfigLoads(t *testing.T) {
	certs := testenv.GenerateCerts(t)
	c, err := loadDoc(t, mqttDoc("mqtts://broker.example:8883",
		"    tls:\n      ca: "+certs.CA+"\n      cert: "+certs.ClientCert+"\n      key: "+certs.ClientKey+"\n      server_name: broker.example\n", jsonSub))
	if err != nil {
		t.Fatal(err)
	}
	tc, err := c.MQTT[0].TLS.Config()
	if err != nil {
		t.Fatal(err)
	}
	if tc.RootCAs == nil || len(tc.Certificates) != 1 || tc.ServerName != "broker.example" || tc.InsecureSkipVerify {
		t.Fatalf("tls config not built from the files: %+v", tc)
	}
	// No tls section: the system's roots, TLS 1.2 at least.
	var none *TLS
	if tc, err := none.Config(); err != nil || tc.RootCAs != nil || tc.MinVersion == 0 {
		t.Fatalf("default tls config: %+v, %v", tc, err)
	}
}

func TestTLSConfigErrorsNameKeyAndLine(t *testing.T) {
	certs := testenv.GenerateCerts(t)
	other := testenv.GenerateCerts(t)
	notPEM := filepath.Join(t.TempDir(), "ca.txt")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		broker, tls string
		want        []string
	}{
		"missing ca": {"ssl://h:8883", "      ca: /nonexistent/ca.pem\n",
			[]string{"a.yaml:6: mqtt[0].tls.ca: open /nonexistent/ca.pem: no such file or directory"}},
		"ca not pem": {"ssl://h:8883", "      ca: " + notPEM + "\n",
			[]string{"a.yaml:6: mqtt[0].tls.ca: " + notPEM + " holds no PEM certificate"}},
		"key is not a certificate": {"ssl://h:8883", "      ca: " + certs.ClientKey + "\n",
			[]string{`a.yaml:6: mqtt[0].tls.ca: ` + certs.ClientKey + `: PEM block 1 is a "EC PRIVATE KEY", want CERTIFICATE`}},
		"cert without key": {"ssl://h:8883", "      cert: " + certs.ClientCert + "\n",
			[]string{"a.yaml:5: mqtt[0].tls.key: required with cert"}},
		"key of another cert": {"ssl://h:8883", "      cert: " + certs.ClientCert + "\n      key: " + other.ClientKey + "\n",
			[]string{"a.yaml:6: mqtt[0].tls.cert: " + certs.ClientCert + " with key " + other.ClientKey + ": tls: private key does not match public key"}},
		"missing key file": {"ssl://h:8883", "      cert: " + certs.ClientCert + "\n      key: /nonexistent/key.pem\n",
			[]string{"a.yaml:7: mqtt[0].tls.key: stat /nonexistent/key.pem: no such file or directory"}},
		"plain scheme": {"tcp://h:1883", "      insecure_skip_verify: true\n",
			[]string{`a.yaml:5: mqtt[0].tls: set, but the broker scheme "tcp" does not use TLS`}},
		"skip verify with ca": {"ssl://h:8883", "      ca: " + certs.CA + "\n      insecure_skip_verify: true\n",
			[]string{"a.yaml:7: mqtt[0].tls.insecure_skip_verify: turns off the check ca is for"}},
		"bad server name": {"ssl://h:8883", "      server_name: \"h:8883\"\n",
			[]string{`a.yaml:6: mqtt[0].tls.server_name: "h:8883" is not a host name`}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := loadDoc(t, mqttDoc(tc.broker, "    tls:\n"+tc.tls, jsonSub))
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

func TestSparkplugSubscription(t *testing.T) {
	c, err := loadDoc(t, mqttDoc("tcp://h:1883", "", `      - topic: spBv1.0/plant1/#
        format: sparkplug_b
        template: spBv1.0/{site}/+/{line}/{equipment}
        rename: {"Motor Speed": speed}
`))
	if err != nil {
		t.Fatal(err)
	}
	s := c.MQTT[0].Subscriptions[0]
	if s.Metric != "{signal}" || !s.CompiledMetric().Has(FieldSignal) || !s.Compiled().Has(FieldEquipment) || s.Rename["Motor Speed"] != "speed" {
		t.Fatalf("sparkplug subscription not compiled: %+v", s)
	}
	for name, tc := range map[string]struct {
		sub  string
		want []string
	}{
		"template outside the namespace": {"      - {topic: spBv1.0/g/#, format: sparkplug_b, template: \"plc/{line}/{equipment}\"}\n",
			[]string{"a.yaml:6: mqtt[0].subscriptions[0].template: \"plc/{line}/{equipment}\": a sparkplug_b template starts with spBv1.0/"}},
		"type level named": {"      - {topic: spBv1.0/g/#, format: sparkplug_b, template: \"spBv1.0/{site}/{line}/{equipment}\"}\n",
			[]string{"level 2 is the message type (NBIRTH, DDATA, ...) and must be +"}},
		"topic outside the namespace": {"      - {topic: plc/#, format: sparkplug_b, template: \"spBv1.0/+/+/{line}/{equipment}\"}\n",
			[]string{`a.yaml:6: mqtt[0].subscriptions[0].topic: "plc/#": a sparkplug_b subscription takes topics under spBv1.0/`}},
		"field twice": {"      - {topic: spBv1.0/g/#, format: sparkplug_b, template: \"spBv1.0/+/+/{line}/{equipment}\", metric: \"{equipment}/{signal}\"}\n",
			[]string{`mqtt[0].subscriptions[0].metric: "{equipment}/{signal}" gives {equipment}, which the template gives too`}},
		"no equipment": {"      - {topic: spBv1.0/g/#, format: sparkplug_b, template: \"spBv1.0/+/+/{line}\"}\n",
			[]string{`neither "spBv1.0/+/+/{line}" nor metric "{signal}" gives {equipment}`}},
		"value path": {"      - {topic: spBv1.0/g/#, format: sparkplug_b, template: \"spBv1.0/+/+/{line}/{equipment}\", value: v, time: t}\n",
			[]string{"subscriptions[0].value: sparkplug_b payloads carry typed metrics", "subscriptions[0].time: sparkplug_b payloads carry their own timestamps"}},
		"metric on json": {"      - {topic: x/+/+/+, template: \"x/{line}/{equipment}/{signal}\", metric: \"{signal}\", rename: {a: b}}\n",
			[]string{"subscriptions[0].metric: only for format sparkplug_b", "subscriptions[0].rename: only for format sparkplug_b"}},
		"bad metric template": {"      - {topic: spBv1.0/g/#, format: sparkplug_b, template: \"spBv1.0/+/+/{line}/{equipment}\", metric: \"{tag}\"}\n",
			[]string{"subscriptions[0].metric: \"{tag}\": unknown field {tag}"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := loadDoc(t, mqttDoc("tcp://h:1883", "", tc.sub))
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

// TestSampleSparkplugExampleLoads un-comments the Sparkplug example of the
// sample configuration and loads it, so the documented keys stay valid.
func TestSampleSparkplugExampleLoads(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "configs", "agent.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	in := false
	found := 0
	for _, line := range strings.Split(string(data), "\n") {
		switch {
		case strings.Contains(line, "# - topic: spBv1.0/"):
			in = true
		case in && !strings.HasPrefix(line, "      #   "):
			in = false
		}
		if in {
			line = strings.Replace(line, "      # ", "      ", 1)
			found++
		}
		if strings.HasPrefix(line, "    # sparkplug:") || strings.HasPrefix(line, "    #   primary_host_id:") {
			line = strings.Replace(line, "    # ", "    ", 1)
			found++
		}
		out = append(out, line)
	}
	if found < 4 {
		t.Fatalf("sparkplug example not found in the sample (%d lines)", found)
	}
	c, err := loadDoc(t, strings.Join(out, "\n"))
	if err != nil {
		t.Fatalf("sample with the sparkplug example: %v", err)
	}
	subs := c.MQTT[0].Subscriptions
	if len(subs) != 2 || subs[1].Format != FormatSparkplug || subs[1].Rename["Motor Speed"] != "speed" || subs[1].Equipment != "gateway" {
		t.Fatalf("sparkplug example: %+v", subs)
	}
	if sp := c.MQTT[0].Sparkplug; sp == nil || sp.PrimaryHostID != "floorpulse-plant1" {
		t.Fatalf("sparkplug host example: %+v", sp)
	}
}

func TestSparkplugPrimaryHost(t *testing.T) {
	spSub := "      - {topic: spBv1.0/g/#, format: sparkplug_b, template: \"spBv1.0/+/+/{line}/{equipment}\"}\n"
	c, err := loadDoc(t, mqttDoc("tcp://h:1883", "    sparkplug: {primary_host_id: scada-1}\n", spSub))
	if err != nil {
		t.Fatal(err)
	}
	if c.MQTT[0].Sparkplug.PrimaryHostID != "scada-1" {
		t.Fatalf("primary host id not read: %+v", c.MQTT[0].Sparkplug)
	}
	for name, tc := range map[string]struct{ extra, sub, want string }{
		"without a sparkplug subscription": {"    sparkplug: {primary_host_id: scada}\n", jsonSub, "mqtt[0].sparkplug: set, but no subscription has format sparkplug_b"},
		"wildcard in the id":               {"    sparkplug: {primary_host_id: \"a/+\"}\n", spSub, `mqtt[0].sparkplug.primary_host_id: "a/+" is not a valid host id`},
		"unknown key":                      {"    sparkplug: {host_id: a}\n", spSub, "host_id"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := loadDoc(t, mqttDoc("tcp://h:1883", tc.extra, tc.sub))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one with %q", err, tc.want)
			}
		})
	}
}
