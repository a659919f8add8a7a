package report

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// ErrNoChromium is the error of a PDF asked for where no Chromium is installed.
var ErrNoChromium = errors.New("PDF reports are printed by headless Chromium, which is not installed: " +
	"install it with the CJK fonts (Debian: apt-get install chromium fonts-noto-cjk, or make chromium), " +
	"or name its binary in FLOORPULSE_CHROMIUM")

// ChromiumEnv names the Chromium binary to print with (default: the first of
// chromium, chromium-browser, google-chrome, headless-shell on PATH).
const ChromiumEnv = "FLOORPULSE_CHROMIUM"

// Chromium returns the path of the Chromium binary, or ErrNoChromium.
func Chromium() (string, error) {
	if p := os.Getenv(ChromiumEnv); p != "" {
		if _, err := exec.LookPath(p); err != nil {
			return "", fmt.Errorf("%s=%s: %w", ChromiumEnv, p, ErrNoChromium)
		}
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", ErrNoChromium
}

// printing lets one PDF be printed at a time: each starts a browser, which
// takes a few hundred megabytes on a small hub.
var printing = make(chan struct{}, 1)

// PDF prints a report page (as HTML writes it) to A4 PDF with headless
// Chromium: a browser started for the purpose, with no network use (the
// page is set as the document's content, and it loads nothing), closed
// again before PDF returns. The fonts are the system's: with the Noto CJK
// fonts installed, Chinese prints as text.
func PDF(ctx context.Context, html []byte) ([]byte, error) {
	bin, err := Chromium()
	if err != nil {
		return nil, err
	}
	select {
	case printing <- struct{}{}:
		defer func() { <-printing }()
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for the report printer: %w", ctx.Err())
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin),
		chromedp.Flag("disable-gpu", true), chromedp.Flag("no-proxy-server", true))
	if os.Geteuid() == 0 { // Chromium refuses to run as root with its sandbox (containers)
		opts = append(opts, chromedp.NoSandbox)
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	cctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	err = chromedp.Do(cctx, chromedp.Navigate("about:blank"), chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		tree, err := chromedp.Call(ctx, page.GetFrameTree, cdp.Empty{})
		if err != nil {
			return err
		}
		_, err = chromedp.Call(ctx, page.SetDocumentContent, page.SetDocumentContentParams{FrameID: tree.FrameTree.Frame.ID, HTML: string(html)})
		return err
	}))
	if err != nil {
		return nil, fmt.Errorf("printing the report with %s: %w", bin, err)
	}
	pdf, err := chromedp.Run(cctx, chromedp.PrintToPDF(chromedp.PDFPaper(chromedp.PaperA4), chromedp.PDFPreferCSSPageSize(), chromedp.PDFPrintBackground(), chromedp.PDFHeaderTemplate(`<span></span>`),
		chromedp.PDFFooterTemplate(`<div style="font-size:8px;width:100%;text-align:center"><span class="pageNumber"></span> / <span class="totalPages"></span></div>`)))
	if err != nil {
		return nil, fmt.Errorf("printing the report with %s: %w", bin, err)
	}
	return pdf, nil
}
