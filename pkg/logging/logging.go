// Package logging builds the log/slog logger of the agent, the hub and the
// simulator the same way: text records on one writer, at the level of the
// configuration's log_level key unless the -log-level flag overrides it.
//
// What always holds: a level is one of debug, info, warn or error; anything
// else is an error, never a silent default.
package logging

import (
	"fmt"
	"io"
	"log/slog"
)

// Levels are the accepted level names, least severe first.
var Levels = []string{"debug", "info", "warn", "error"}

// ParseLevel parses one of Levels.
func ParseLevel(s string) (slog.Level, error) {
	switch s {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("unknown level %q (want debug, info, warn or error)", s)
}

// New returns a logger writing text records to w at level (one of Levels).
func New(w io.Writer, level string) (*slog.Logger, error) {
	l, err := ParseLevel(level)
	if err != nil {
		return nil, err
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

// Flag is the -log-level flag (a flag.Value): empty unless given, and then
// one of Levels, checked when the flags are parsed.
type Flag string

// Set implements flag.Value.
func (f *Flag) Set(s string) error {
	if _, err := ParseLevel(s); err != nil {
		return err
	}
	*f = Flag(s)
	return nil
}

func (f *Flag) String() string { return string(*f) }

// Or returns the flag's level when it was given, else configured: the flag
// overrides the configuration's log_level.
func (f Flag) Or(configured string) string {
	if f != "" {
		return string(f)
	}
	return configured
}

// Usage is the help text of the -log-level flag.
const Usage = "log level, overriding the configuration's log_level: debug, info, warn or error"
