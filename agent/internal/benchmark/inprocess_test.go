package benchmark

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/agent/internal/app"
	"github.com/floorpulse/floorpulse/agent/internal/config"
	"github.com/floorpulse/floorpulse/pkg/testenv"
)

// running is an agent under measurement.
type running interface {
	Usage() (Usage, error) // zero without a process of its own
	Exited() bool
	Stop(timeout time.Duration)
}

// process is the agent binary.
type process struct{ *testenv.Process }

func (p process) Usage() (Usage, error) { return ReadUsage(p.Cmd.Process.Pid) }

// inProcess is the agent run by the app package inside this process, so
// that -cpuprofile and -memprofile see it.
type inProcess struct {
	cancel context.CancelFunc
	done   chan error
}

func startInProcess(b *testing.B, path string) *inProcess {
	b.Helper()
	cfg, err := config.Load(path)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a := &inProcess{cancel: cancel, done: make(chan error, 1)}
	// Goroutines inherit profiler labels: every sample the agent causes
	// carries part=agent (pprof -tagfocus part=agent).
	go pprof.Do(ctx, pprof.Labels("part", "agent"), func(ctx context.Context) {
		a.done <- app.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil))).Run(ctx)
	})
	return a
}

func (a *inProcess) Usage() (Usage, error) { return Usage{}, nil }

func (a *inProcess) Exited() bool {
	select {
	case err := <-a.done:
		a.done <- err
		return true
	default:
		return false
	}
}

func (a *inProcess) Stop(timeout time.Duration) {
	a.cancel()
	select {
	case err := <-a.done:
		if err != nil && !errors.Is(err, context.Canceled) {
			// Nothing waits for this value any more; say it where it is seen.
			os.Stderr.WriteString("in-process agent: " + err.Error() + "\n")
		}
	case <-time.After(timeout):
	}
}
