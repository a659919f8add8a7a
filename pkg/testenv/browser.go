package testenv

import (
	"context"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Chromium returns the path of the browser for browser tests:
// /usr/bin/chromium (`make chromium`), or chromium on the PATH. Without
// one it skips the test, saying how to get it.
func Chromium(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	t.Skip("no Chromium (/usr/bin/chromium or chromium on the PATH): run `make chromium` to run the browser tests")
	return ""
}

// Tab is a tab of a headless Chromium of its own (so its cookies are its
// own), with the console messages its pages wrote.
type Tab struct {
	T   testing.TB
	Ctx context.Context

	mu      sync.Mutex
	console []chromedp.ConsoleMessage
}

// NewTab starts a headless Chromium with a viewport of width by height
// (a phone's, touch and all, when mobile); it stops with the test.
func NewTab(t testing.TB, width, height int64, mobile bool) *Tab {
	t.Helper()
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(Chromium(t)), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(int(width), int(height)))
	ctx, cancel := chromedp.NewContext(alloc)
	tb := &Tab{T: t, Ctx: ctx}
	msgs := chromedp.Console(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for m, err := range msgs {
			if err != nil {
				return
			}
			tb.mu.Lock()
			tb.console = append(tb.console, m)
			tb.mu.Unlock()
		}
	}()
	t.Cleanup(func() { cancel(); cancelAlloc(); wg.Wait() })
	var opts []chromedp.EmulateViewportOption
	if mobile {
		opts = append(opts, chromedp.EmulateScale(3), chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulatePortrait)
	}
	tb.Do(chromedp.EmulateViewport(width, height, opts...))
	return tb
}

// Do runs actions, failing the test on an error (30 s at most).
func (tb *Tab) Do(actions ...chromedp.Action[chromedp.Void]) {
	tb.T.Helper()
	ctx, cancel := context.WithTimeout(tb.Ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.T.Fatal(err)
	}
}

// Eval evaluates a JavaScript expression in the tab, failing the test on
// an error; opts as chromedp.Evaluate's (e.g. chromedp.EvalAwaitPromise).
func Eval[T any](tb *Tab, expr string, opts ...chromedp.EvaluateOption) T {
	tb.T.Helper()
	ctx, cancel := context.WithTimeout(tb.Ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, opts...))
	if err != nil {
		tb.T.Fatalf("%s: %v", expr, err)
	}
	return v
}

// Within polls a JavaScript predicate until it holds, for at most d.
func (tb *Tab) Within(d time.Duration, expr string) error {
	ctx, cancel := context.WithTimeout(tb.Ctx, d+5*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(d), chromedp.WithPollingInterval(50*time.Millisecond)))
	return err
}

// Errors returns the console errors, warnings and exceptions so far, and
// forgets them.
func (tb *Tab) Errors() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	var out []string
	for _, m := range tb.console {
		if m.Type == chromedp.ConsoleError || m.IsException() || m.Type == chromedp.ConsoleWarning {
			out = append(out, m.String()+" ("+m.URL+")")
		}
	}
	tb.console = nil
	return out
}

// Screenshot writes the whole page as PNG to path.
func (tb *Tab) Screenshot(path string) {
	tb.T.Helper()
	ctx, cancel := context.WithTimeout(tb.Ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tb.T.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		tb.T.Fatal(err)
	}
}
