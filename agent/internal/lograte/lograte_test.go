package lograte

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestLimits(t *testing.T) {
	var buf bytes.Buffer
	l := New(slog.New(slog.NewTextHandler(&buf, nil)), time.Second)
	now := time.Unix(1000, 0)
	l.now = func() time.Time { return now }
	for i := 0; i < 100; i++ {
		l.Warn("bad payload", "i", i)
	}
	l.Warn("other")
	now = now.Add(2 * time.Second)
	l.Warn("bad payload", "i", 100)
	out := buf.String()
	if n := strings.Count(out, "bad payload"); n != 2 {
		t.Fatalf("logged %d times, want 2:\n%s", n, out)
	}
	if !strings.Contains(out, "suppressed=99") || !strings.Contains(out, "other") {
		t.Fatalf("missing suppressed count or other message:\n%s", out)
	}
}

// TestLimitsPerKey checks that LogFor limits each key on its own.
func TestLimitsPerKey(t *testing.T) {
	var buf bytes.Buffer
	l := New(slog.New(slog.NewTextHandler(&buf, nil)), time.Second)
	l.now = func() time.Time { return time.Unix(1000, 0) }
	for i := 0; i < 10; i++ {
		l.LogFor("a", slog.LevelWarn, "set aside", "reason", "a")
		l.LogFor("b", slog.LevelWarn, "set aside", "reason", "b")
	}
	out := buf.String()
	if strings.Count(out, "reason=a") != 1 || strings.Count(out, "reason=b") != 1 {
		t.Fatalf("want one line per key:\n%s", out)
	}
}
