package cli

import (
	"context"

	"github.com/dockprobe/dockprobe/agent/internal/launcher"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// usageLauncher is a launcher whose engine can say what the issue 13
// checks need beyond the facts (Docker's API can; nerdctl has no
// equivalent of /system/df).
type usageLauncher interface {
	Usage(ctx context.Context) *probev1.EngineUsage
}

// startUsage asks the engine, beside the probe's run, what the issue 13
// checks need beyond gather's facts (disk usage totals within
// engine.DFDeadline, OOM-killed containers, bind mounts from the drive
// shares). The returned function waits for the answer; it is nil for a
// runtime that cannot say (the checks then skip).
func startUsage(ctx context.Context, l launcher.Launcher) func() *probev1.EngineUsage {
	u, ok := l.(usageLauncher)
	if !ok {
		return func() *probev1.EngineUsage { return nil }
	}
	done := make(chan *probev1.EngineUsage, 1)
	go func() { done <- u.Usage(ctx) }()
	return func() *probev1.EngineUsage { return <-done }
}
