package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"check", "-config", filepath.Join("..", "..", "..", "configs", "agent.yaml")}, &out, &errOut); code != 0 || out.String() != "config ok\n" {
		t.Fatalf("sample config: exit %d, %q %q", code, out.String(), errOut.String())
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("agent_id: a\nhttp: x\nnats:\n  batch: -1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	errOut.Reset()
	if code := run([]string{"check", "-config", bad}, &out, &errOut); code != 1 {
		t.Fatalf("bad config: exit %d", code)
	}
	for _, want := range []string{bad + ":2: http:", bad + ":4: nats.batch:"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, errOut.String())
		}
	}
	errOut.Reset()
	if code := run([]string{"run", "-log-level", "verbose"}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), `unknown level "verbose"`) {
		t.Errorf("bad -log-level: exit %d, %q", code, errOut.String())
	}
	if code := run(nil, &out, &errOut); code != 2 {
		t.Errorf("no command: exit %d", code)
	}
}
