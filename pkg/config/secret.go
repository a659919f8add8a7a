package config

import (
	"fmt"
	"log/slog"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// Secret is a configuration value that is not to be shown: a password, a
// token, a signing secret, a header value. In the file it is written as the
// value itself, or (so that the file holds no secret) as
//
//	{file: /etc/floorpulse/influx.token}   the file's content, trailing newline removed
//	{env: FLOORPULSE_INFLUX_TOKEN}         an environment variable, which must be set
//
// A relative file is taken from the working directory. The file or variable
// is read when the configuration is loaded. String, LogValue and the JSON
// and YAML encodings show "[redacted]" (empty when not set), never the
// value: a secret reaches logs, metrics and API answers only by mistake.
type Secret struct {
	value string
	from  string // where it came from: "" (the file), "file PATH" or "env NAME"
}

// NewSecret returns a secret holding v (for tests and flags).
func NewSecret(v string) Secret { return Secret{value: v} }

// Value is the secret itself, for the one call that needs it.
func (s Secret) Value() string { return s.value }

// IsSet reports whether the secret is not empty.
func (s Secret) IsSet() bool { return s.value != "" }

// From says where the secret came from, without the value.
func (s Secret) From() string {
	if s.from == "" && s.value != "" {
		return "the configuration file"
	}
	return s.from
}

func (s Secret) String() string {
	if s.value == "" {
		return ""
	}
	return "[redacted]"
}

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON implements json.Marshaler.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + s.String() + `"`), nil }

// MarshalYAML implements yaml.Marshaler.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// UnmarshalYAML implements yaml.Unmarshaler. A problem is a *yaml.TypeError,
// so that decoding goes on and the file's other problems are found too.
func (s *Secret) UnmarshalYAML(n *yaml.Node) error {
	bad := func(format string, args ...any) error {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf(format, args...)}}
	}
	switch n.Kind {
	case yaml.ScalarNode:
		*s = Secret{value: n.Value}
		return nil
	case yaml.MappingNode:
	default:
		return bad("want the secret, {file: PATH} or {env: NAME}")
	}
	if len(n.Content) != 2 {
		return bad("want one of {file: PATH} or {env: NAME}")
	}
	k, v := n.Content[0].Value, n.Content[1].Value
	switch k {
	case "file":
		b, err := os.ReadFile(v)
		if err != nil {
			return bad("reading the secret's file: %v", err)
		}
		*s = Secret{value: strings.TrimRight(string(b), "\r\n"), from: "file " + v}
		if s.value == "" {
			return bad("the secret's file %s is empty", v)
		}
	case "env":
		val, ok := os.LookupEnv(v)
		if !ok || val == "" {
			return bad("environment variable %s is not set", v)
		}
		*s = Secret{value: val, from: "env " + v}
	default:
		msg := fmt.Sprintf("want file or env, got %q", k)
		if sug := Suggest(k, []string{"file", "env"}); sug != "" {
			msg += fmt.Sprintf("; did you mean %q?", sug)
		}
		return bad("%s", msg)
	}
	return nil
}
