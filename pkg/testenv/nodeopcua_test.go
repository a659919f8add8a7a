package testenv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestNodeOPCUAInstallIsCached(t *testing.T) {
	dir := InstallNodeOPCUA(t)
	stamp := filepath.Join(dir, ".installed")
	before, err := os.Stat(stamp)
	if err != nil {
		t.Fatalf("no install stamp: %v", err)
	}
	start := time.Now()
	if again := InstallNodeOPCUA(t); again != dir {
		t.Fatalf("installed into %s, then %s", dir, again)
	}
	after, err := os.Stat(stamp)
	if err != nil || !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("the second install ran npm again (stamp %v, %v)", after.ModTime(), err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the second install took %s", d)
	}
	if !strings.HasSuffix(filepath.ToSlash(dir), ".cache/nodeopcua") {
		t.Errorf("installed into %s, want <module root>/.cache/nodeopcua", dir)
	}
}

func TestNodeOPCUAServer(t *testing.T) {
	n := StartNodeOPCUA(t, NodeOPCUAOptions{})
	n.Set(Value{Node: "Line1.M01.Power", Value: 12.5, Status: "UncertainLastUsableValue", SourceTime: time.Now()})
	if len(n.Certificate()) == 0 {
		t.Fatal("no server certificate")
	}
	if n.Sessions() != 0 {
		t.Fatalf("sessions before any client: %d", n.Sessions())
	}
	n.Restart()
	n.Set(Value{Node: "Line1.M01.Run", Value: true})
}
