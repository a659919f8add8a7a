package app

import (
	"os"
	"os/exec"
	"testing"

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
