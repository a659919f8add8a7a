package app

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/agent/internal/streamtest"
	"github.com/floorpulse/floorpulse/pkg/testenv"
)

// TestOPCUACrashLosesNothingWithoutHistory kills the agent (SIGKILL) while
// it is subscribed to a node-opcua variable that keeps no history, with
// backfill off, sets the variable while the agent is down, and starts it
// again, first with the network to the server cut for 2 s: the new process
// resumes the session the killed one left at the server once it is
// reachable, and every value is in the stream exactly once. Without that,
// the values set while the agent was down would be lost but the last.
func TestOPCUACrashLosesNothingWithoutHistory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the agent binary")
	}
	t.Parallel()
	dir := t.TempDir()
	bin := filepath.Join(dir, "agent")
	build := testenv.Start(t, "go build", goBuild(t, bin))
	srv := testenv.StartNodeOPCUA(t, testenv.NodeOPCUAOptions{})
	px := testenv.StartProxy(t, fmt.Sprintf("127.0.0.1:%d", srv.Port))
	ns := testenv.StartNATS(t)
	streamtest.Create(t, ns.URL)
	waitFor(t, "go build", 3*time.Minute, build.Exited)
	if build.Cmd.ProcessState.ExitCode() != 0 {
		t.Fatalf("go build failed:\n%s", build.Output())
	}
	httpAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	cfgPath := filepath.Join(dir, "agent.yaml")
	cfg := agentHeader(filepath.Join(dir, "data"), httpAddr, ns.URL) + fmt.Sprintf(`opcua:
  - endpoint: %s
    publishing_interval: 50ms
    nodes:
      - {node_id: "ns=1;s=Line1.M01.Temp", line: L1, equipment: M01, signal: temp}
`, px.URL("opc.tcp"))
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ready := func(p *testenv.Process) {
		waitFor(t, "agent /readyz", 15*time.Second, func() bool {
			if p.Exited() {
				t.Fatalf("agent exited:\n%s", p.Output())
			}
			code, _ := httpGet("http://" + httpAddr + "/readyz")
			return code == http.StatusOK
		})
	}
	temps := func() map[float64]int {
		n := map[float64]int{}
		for _, m := range streamtest.Messages(t, ns.URL) {
			n[m.Signal.Value.Num]++
		}
		return n
	}
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	set := func(from, to int) {
		for i := from; i <= to; i++ {
			srv.Set(testenv.Value{Node: "Line1.M01.Temp", Value: i, SourceTime: t0.Add(time.Duration(i) * time.Second)})
		}
	}

	agent := testenv.Start(t, "agent", agentCmd(bin, cfgPath))
	ready(agent)
	waitFor(t, "the initial value in the stream", 20*time.Second, func() bool { return streamtest.Count(t, ns.URL) >= 1 })
	set(1, 5)
	waitFor(t, "temp 5 in the stream", 20*time.Second, func() bool { return temps()[5] == 1 })
	agent.Kill()
	px.Cut()
	set(6, 15) // while no agent runs
	agent = testenv.Start(t, "agent", agentCmd(bin, cfgPath))
	time.Sleep(2 * time.Second) // the server unreachable
	px.Restore()
	ready(agent)
	set(16, 20)
	waitFor(t, "temp 20 in the stream", 30*time.Second, func() bool { return temps()[20] == 1 })

	got := temps()
	for i := 1; i <= 20; i++ {
		if got[float64(i)] != 1 {
			t.Errorf("temp %d is %d times in the stream, want once", i, got[float64(i)])
		}
	}
	_, body := httpGet("http://" + httpAddr + "/metrics")
	if v, _ := metricValue(body, `floorpulse_agent_source_sessions_restored_total{kind="opcua",source="`+px.URL("opc.tcp")+`"}`); v != 1 {
		t.Errorf("sessions taken over after the restart: %v, want 1\n%s", v, agent.Output())
	}
	agent.Stop(5 * time.Second)
}
