// Package lograte keeps hot paths from flooding the log: a Logger writes a
// given message at most once per interval and reports how many it suppressed
// in between (attribute "suppressed").
package lograte

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Logger rate-limits log lines per message.
type Logger struct {
	log   *slog.Logger
	every time.Duration
	now   func() time.Time

	mu    sync.Mutex
	state map[string]*entry
}

type entry struct {
	last       time.Time
	suppressed int
}

// New returns a Logger writing to log at most once per every per message.
func New(log *slog.Logger, every time.Duration) *Logger {
	return &Logger{log: log, every: every, now: time.Now, state: map[string]*entry{}}
}

// Warn logs msg at warn level unless it was logged less than the interval ago.
func (l *Logger) Warn(msg string, args ...any) { l.Log(slog.LevelWarn, msg, args...) }

// Log logs msg at level unless it was logged less than the interval ago.
func (l *Logger) Log(level slog.Level, msg string, args ...any) { l.LogFor(msg, level, msg, args...) }

// LogFor logs msg at level unless a line for key was logged less than the
// interval ago: one message limited separately per key (a reason, say), so
// that a flood of one kind does not hide the others. Keys are meant to be
// few (a fixed set), as messages are.
func (l *Logger) LogFor(key string, level slog.Level, msg string, args ...any) {
	l.mu.Lock()
	e := l.state[key]
	if e == nil {
		e = &entry{}
		l.state[key] = e
	}
	now := l.now()
	if !e.last.IsZero() && now.Sub(e.last) < l.every {
		e.suppressed++
		l.mu.Unlock()
		return
	}
	n := e.suppressed
	e.last, e.suppressed = now, 0
	l.mu.Unlock()
	if n > 0 {
		args = append(args, "suppressed", n)
	}
	l.log.Log(context.Background(), level, msg, args...)
}
