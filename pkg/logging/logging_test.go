package logging

import (
	"bytes"
	"flag"
	"strings"
	"testing"
)

func TestFlagOverridesConfig(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.SetOutput(&bytes.Buffer{})
	var f Flag
	fs.Var(&f, "log-level", Usage)
	if err := fs.Parse(nil); err != nil || f.Or("warn") != "warn" {
		t.Fatalf("no flag: %q, %v", f.Or("warn"), err)
	}
	if err := fs.Parse([]string{"-log-level", "debug"}); err != nil || f.Or("warn") != "debug" {
		t.Fatalf("flag given: %q, %v", f.Or("warn"), err)
	}
	if err := fs.Parse([]string{"-log-level", "verbose"}); err == nil || !strings.Contains(err.Error(), `unknown level "verbose"`) {
		t.Fatalf("bad flag: %v", err)
	}
}

func TestNew(t *testing.T) {
	var buf bytes.Buffer
	log, err := New(&buf, "warn")
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hidden")
	log.Warn("shown", "k", 1)
	if out := buf.String(); strings.Contains(out, "hidden") || !strings.Contains(out, "level=WARN msg=shown k=1") {
		t.Fatalf("output %q", out)
	}
	if _, err := New(&buf, ""); err == nil {
		t.Fatal("empty level accepted")
	}
}
