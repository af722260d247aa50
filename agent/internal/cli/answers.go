package cli

import (
	"context"

	"github.com/dockprobe/dockprobe/agent/internal/launcher"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// startUsage asks the engine (through its launcher), beside the probe's run, what the issue 13
// checks need beyond gather's facts (disk usage totals within
// engine.DFDeadline, OOM-killed containers, bind mounts from the drive
// shares). The returned function waits for the answer.
func startUsage(ctx context.Context, l launcher.Launcher) func() *probev1.EngineUsage {
	done := make(chan *probev1.EngineUsage, 1)
	go func() { done <- l.Usage(ctx) }()
	return func() *probev1.EngineUsage { return <-done }
}
