package collect

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/dockprobe/dockprobe/probe/internal/daemon"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// Prefetched is a collection started when the probe starts, before the
// agent's request (and its DockerRootDir hint, which the agent learns
// from the engine while the container starts) arrives. It serves one
// request, and only when that request would have chosen the same target.
type Prefetched struct {
	done   chan struct{}
	report *probev1.Report
	c      *collector
	taken  atomic.Bool
	// started and finished bound the collection (set before done closes).
	started, finished time.Time
}

// Timing says how long the prefetch took and how long the request that
// took it waited for it (zero when it was ready first): what --debug
// shows to tell a slow collection from a slow start.
func (p *Prefetched) Timing(asked time.Time) (took, waited time.Duration) {
	if p == nil || p.finished.IsZero() {
		return 0, 0
	}
	return p.finished.Sub(p.started), max(0, p.finished.Sub(asked))
}

// Prefetch starts collecting with opts at once and returns without
// waiting. opts.Hint is usually unknown yet: set opts.DockerAPI when the
// agent comes through the Docker API.
func Prefetch(ctx context.Context, opts Options) *Prefetched {
	p := &Prefetched{done: make(chan struct{}), started: time.Now()}
	go func() {
		defer close(p.done)
		p.report, p.c = collect(ctx, opts)
		p.finished = time.Now()
	}()
	return p
}

// Take returns the prefetched report in place of Collect(ctx, opts) when
// opts chooses the same target and dockerd that the prefetch chose: then
// every section is what a collection now would read, and only the
// target's method and reason (which name the evidence, e.g. the data-root
// match) are rewritten for opts. It answers at most once; ok is false
// when the report must be collected afresh (another target, a second
// request, a prefetch that failed to choose, ctx done first).
func (p *Prefetched) Take(ctx context.Context, opts Options) (rep *probev1.Report, ok bool) {
	if p == nil {
		return nil, false
	}
	if !p.taken.CompareAndSwap(false, true) {
		return nil, false
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		return nil, false
	}
	if p.c == nil || !p.c.chosen || p.report.GetTarget() == nil {
		return nil, false
	}
	in := p.c.input
	in.Hint = opts.Hint
	in.DockerAPI = opts.DockerAPI
	in.TargetPID = int(opts.TargetPID)
	var choice daemon.Choice
	if err := safe(func() error { choice = daemon.Choose(in); return nil }); err != nil {
		return nil, false
	}
	if choice.PID != p.c.choice.PID || choice.Daemon != p.c.choice.Daemon {
		return nil, false
	}
	p.report.Target.Method, p.report.Target.Reason = choice.Method, choice.Reason
	return p.report, true
}
