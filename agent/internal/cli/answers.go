package cli

import (
	"context"

	"github.com/moby/moby/client"

	"github.com/dockprobe/dockprobe/agent/internal/engine"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// startUsage asks the engine, beside the probe's run, what the issue 13
// checks need beyond gather's facts (disk usage totals within
// engine.DFDeadline, OOM-killed containers, bind mounts from the drive
// shares). The returned function waits for the answer.
func startUsage(ctx context.Context, c *client.Client) func() *probev1.EngineUsage {
	done := make(chan *probev1.EngineUsage, 1)
	go func() { done <- engine.Usage(ctx, c, engine.DFDeadline) }()
	return func() *probev1.EngineUsage { return <-done }
}
