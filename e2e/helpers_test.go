package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/floorpulse/floorpulse/pkg/testenv"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// binaries builds agent, hub and simulator once for all the package's tests
// and returns the folder holding them.
func binaries(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		if binDir, buildErr = os.MkdirTemp("", "floorpulse-e2e-bin"); buildErr != nil {
			return
		}
		build := exec.Command("go", "build", "-o", binDir+"/", "./agent/cmd/agent", "./hub/cmd/hub", "./simulators/cmd/simulator")
		build.Dir = testenv.Root(t)
		if out, err := build.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// writer returns a function that writes a file into dir and returns its path.
func writer(t *testing.T, dir string) func(name, body string) string {
	return func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
}
