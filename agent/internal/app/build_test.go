package app

import (
	"net/http"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/pkg/testenv"
)

func goBuild(t *testing.T, out string) *exec.Cmd {
	cmd := exec.Command("go", "build", "-o", out, "./agent/cmd/agent")
	cmd.Dir = testenv.Root(t)
	cmd.Env = os.Environ()
	return cmd
}

func agentCmd(bin, cfg string) *exec.Cmd {
	return exec.Command(bin, "run", "-config", cfg)
}

// buildAgent builds the agent binary at bin.
func buildAgent(t *testing.T, bin string) {
	t.Helper()
	build := testenv.Start(t, "go build", goBuild(t, bin))
	waitFor(t, "go build", 3*time.Minute, build.Exited)
	if build.Cmd.ProcessState.ExitCode() != 0 {
		t.Fatalf("go build failed:\n%s", build.Output())
	}
}

// startAgent runs the agent binary with the configuration at cfgPath and
// waits until its /readyz at httpAddr answers 200.
func startAgent(t *testing.T, bin, cfgPath, httpAddr string) *testenv.Process {
	t.Helper()
	p := testenv.Start(t, "agent", agentCmd(bin, cfgPath))
	waitFor(t, "agent /readyz", 15*time.Second, func() bool {
		if p.Exited() {
			t.Fatalf("agent exited:\n%s", p.Output())
		}
		code, _ := httpGet("http://" + httpAddr + "/readyz")
		return code == http.StatusOK
	})
	return p
}
