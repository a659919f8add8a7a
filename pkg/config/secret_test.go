package config

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type secretConfig struct {
	Token   Secret            `yaml:"token"`
	Headers map[string]Secret `yaml:"headers"`
}

func TestSecretSources(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	if err := os.WriteFile(file, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("FP_TEST_SECRET", "from-env")
	for _, tc := range []struct {
		yaml, want, from string
	}{
		{"token: plain", "plain", "the configuration file"},
		{fmt.Sprintf("token: {file: %s}", file), "from-file", "file " + file},
		{"token: {env: FP_TEST_SECRET}", "from-env", "env FP_TEST_SECRET"},
		{"headers: {Authorization: {env: FP_TEST_SECRET}}", "", ""},
	} {
		var c secretConfig
		if err := Decode("c.yaml", []byte(tc.yaml), &c); err != nil {
			t.Fatalf("%s: %v", tc.yaml, err)
		}
		if c.Token.Value() != tc.want || c.Token.From() != tc.from {
			t.Errorf("%s: got %q from %q, want %q from %q", tc.yaml, c.Token.Value(), c.Token.From(), tc.want, tc.from)
		}
		if h := c.Headers["Authorization"]; strings.Contains(tc.yaml, "headers") && h.Value() != "from-env" {
			t.Errorf("%s: header %q", tc.yaml, h.Value())
		}
	}
}

// A secret that cannot be read is a problem of its key, with file and line.
func TestSecretErrors(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"\ntoken: {file: /nonexistent/x}", "c.yaml:2: token: reading the secret's file: open /nonexistent/x: no such file or directory"},
		{"token: {env: FP_TEST_UNSET_VARIABLE}", "c.yaml:1: token: environment variable FP_TEST_UNSET_VARIABLE is not set"},
		{"token: {fiel: x}", `c.yaml:1: token: want file or env, got "fiel"; did you mean "file"?`},
		{"token: [a]", "c.yaml:1: token: want the secret, {file: PATH} or {env: NAME}"},
	} {
		var c secretConfig
		err := Decode("c.yaml", []byte(tc.yaml), &c)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s:\n got  %v\n want %s", tc.yaml, err, tc.want)
		}
	}
}

// However a secret is printed, logged or encoded, its value does not show.
func TestSecretRedacted(t *testing.T) {
	s := NewSecret("hunter2")
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("x", "token", s)
	j, _ := json.Marshal(struct{ T Secret }{s})
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %+v %s", s, s, s), b.String(), string(j)} {
		if strings.Contains(out, "hunter2") || !strings.Contains(out, "[redacted]") {
			t.Errorf("secret shown: %s", out)
		}
	}
	if NewSecret("").String() != "" || NewSecret("").IsSet() {
		t.Error("an empty secret is shown as set")
	}
}
