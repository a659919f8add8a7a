package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// hub token add prints a token once and stores only its hash; hub user
// add reads the password from standard input and stores a bcrypt hash.
func TestTokenAndUserCommands(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "hub.yaml")
	if err := os.WriteFile(cfg, []byte("site: p\ndata_dir: "+filepath.Join(dir, "data")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := accessMain(false, []string{"add", "cmms", "-role", "viewer", "-config", cfg}, nil, &out, &errb); code != 0 {
		t.Fatalf("token add: %d %s", code, errb.String())
	}
	token := strings.TrimSpace(out.String())
	data, _ := os.ReadFile(filepath.Join(dir, "data", "tokens.yaml"))
	if !strings.HasPrefix(token, "fpt_") || strings.Contains(string(data), token) || !strings.Contains(string(data), "name: cmms") {
		t.Fatalf("token %q, file:\n%s", token, data)
	}
	out.Reset()
	if code := accessMain(false, []string{"list", "-config", cfg}, nil, &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "cmms\tviewer\t") || strings.Contains(out.String(), token) {
		t.Fatalf("token list: %d %q", code, out.String())
	}
	if code := accessMain(false, []string{"add", "x", "-role", "boss", "-config", cfg}, nil, &out, &errb); code != 1 || !strings.Contains(errb.String(), "unknown role") {
		t.Fatalf("bad role: %d %s", code, errb.String())
	}
	errb.Reset()
	// Flags before the name work too; the password comes from stdin.
	if code := accessMain(true, []string{"add", "-config", cfg, "-role", "shift_leader", "alice"}, strings.NewReader("correct horse\n"), &out, &errb); code != 0 {
		t.Fatalf("user add: %d %s", code, errb.String())
	}
	data, _ = os.ReadFile(filepath.Join(dir, "data", "users.yaml"))
	if strings.Contains(string(data), "correct horse") || !strings.Contains(string(data), "$2a$") || !strings.Contains(string(data), "role: shift_leader") {
		t.Fatalf("users file:\n%s", data)
	}
	if code := accessMain(true, []string{"add", "bob", "-role", "viewer", "-config", cfg}, strings.NewReader("short\n"), &out, &errb); code != 1 || !strings.Contains(errb.String(), "8 to 72 bytes") {
		t.Fatalf("short password: %d %s", code, errb.String())
	}
	if code := accessMain(false, []string{"remove", "cmms", "-config", cfg}, nil, &out, &errb); code != 0 {
		t.Fatalf("token remove: %d %s", code, errb.String())
	}
	if code := accessMain(false, []string{"remove", "cmms", "-config", cfg}, nil, &out, &errb); code != 1 {
		t.Fatalf("removing a missing token: %d", code)
	}
}
