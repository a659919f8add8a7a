package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/recompute"
)

// bar draws a recompute's progress: a redrawn bar on a terminal, a line per
// tenth (or every 10 s) otherwise.
type bar struct {
	w        io.Writer
	tty      bool
	lastDraw time.Time
	lastStep int
	drawn    bool
}

func newBar(w io.Writer) *bar {
	b := &bar{w: w, lastStep: -1}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			b.tty = true
		}
	}
	return b
}

// line renders one progress line.
func line(p recompute.Progress, width int) string {
	frac := p.Fraction()
	n := int(frac * float64(width))
	eta := "ETA --"
	if d, ok := p.ETA(); ok {
		eta = "ETA " + d.String()
	}
	if !p.Running {
		eta = "in " + p.Elapsed.Round(10*time.Millisecond).String()
	}
	return fmt.Sprintf("[%s%s] %5.1f%%  %d/%d periods  %d points  %s",
		strings.Repeat("#", n), strings.Repeat(".", width-n), 100*frac, p.Done, p.Total, p.Points, eta)
}

// update shows p; the last call (p.Running false) always draws.
func (b *bar) update(p recompute.Progress) {
	now := time.Now()
	if b.tty {
		if p.Running && b.drawn && now.Sub(b.lastDraw) < 100*time.Millisecond {
			return
		}
		fmt.Fprintf(b.w, "\r%s\x1b[K", line(p, 30))
		if !p.Running {
			fmt.Fprintln(b.w)
		}
		b.lastDraw, b.drawn = now, true
		return
	}
	step := int(p.Fraction() * 10)
	if p.Running && step == b.lastStep && now.Sub(b.lastDraw) < 10*time.Second {
		return
	}
	fmt.Fprintln(b.w, line(p, 20))
	b.lastDraw, b.lastStep, b.drawn = now, step, true
}
