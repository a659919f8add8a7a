package config

import (
	"strings"
	"testing"
	"time"
)

// http is a listen address or a section; the section is read as strictly
// as any other.
func TestHTTPForms(t *testing.T) {
	cfg, err := Decode("hub.yaml", []byte("site: p\nhttp: 0.0.0.0:9090\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTP.Listen != "0.0.0.0:9090" || cfg.HTTP.SessionTTL != 12*time.Hour || cfg.HTTP.TLSOn() || cfg.Tokens() != "var/hub/tokens.yaml" {
		t.Fatalf("short form: %+v", cfg.HTTP)
	}
	if cfg, err = Decode("hub.yaml", []byte("site: p\nhttp: \"\"\n")); err != nil || cfg.HTTP.Listen != "" {
		t.Fatalf("disabled: %+v %v", cfg, err)
	}
	cfg, err = Decode("hub.yaml", []byte(`site: p
http:
  listen: 127.0.0.1:8443
  tls: {cert_file: c.pem, key_file: k.pem}
  users_file: /etc/floorpulse/users.yaml
  session_ttl: 8h
`))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTP.Listen != "127.0.0.1:8443" || cfg.HTTP.Scheme() != "https" || cfg.Users() != "/etc/floorpulse/users.yaml" ||
		cfg.HTTP.SessionTTL != 8*time.Hour || cfg.HTTP.AckLinkTTL != 12*time.Hour || cfg.HTTP.ReadHeaderTimeout != 5*time.Second {
		t.Fatalf("section: %+v", cfg.HTTP)
	}
	_, err = Decode("hub.yaml", []byte(`site: p
http:
  listen: nowhere
  tls: {cert_file: c.pem}
  session_tll: 1h
  write_timeout: 0s
  max_header_bytes: 10
`))
	for _, want := range []string{
		`hub.yaml:3: http.listen: not host:port`,
		`hub.yaml:4: http.tls: give both cert_file and key_file`,
		`hub.yaml:5: http.session_tll: unknown key; did you mean "session_ttl"?`,
		`hub.yaml:6: http.write_timeout: must be positive`,
		`hub.yaml:7: http.max_header_bytes: must be between`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}
