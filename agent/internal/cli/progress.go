package cli

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// progressLine shows the current step (connect, image, start, collect) on
// one line of stderr, rewritten in place, and only on a terminal: scripts
// and pipes never see it. Done clears the line.
type progressLine struct {
	mu    sync.Mutex
	w     io.Writer
	on    bool
	start time.Time
	shown bool
}

func newProgress(w io.Writer) *progressLine {
	return &progressLine{w: w, on: isTerminal(w), start: time.Now()}
}

// Step shows one step.
func (p *progressLine) Step(step string) {
	if p == nil || !p.on {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "\r\x1b[2Kagent: %s (%.1fs)", step, time.Since(p.start).Seconds())
	p.shown = true
}

// Done removes the progress line before the report or an error is printed.
func (p *progressLine) Done() {
	if p == nil || !p.on {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shown {
		fmt.Fprint(p.w, "\r\x1b[2K")
		p.shown = false
	}
}
