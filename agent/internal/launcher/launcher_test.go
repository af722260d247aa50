package launcher_test

import (
	"testing"

	"github.com/dockprobe/dockprobe/agent/internal/launcher"
	"github.com/dockprobe/dockprobe/agent/internal/launcher/launchertest"
)

// TestFakeConformance runs the suite against the fake runtime: the suite's
// own check, and launcher.Probe's on a runtime without an engine.
func TestFakeConformance(t *testing.T) {
	f := launchertest.NewFake()
	launchertest.Run(t, launchertest.Harness{
		New:       func(*testing.T) launcher.Launcher { return f },
		Exists:    func(_ *testing.T, name string) bool { return f.Exists(name) },
		Exclusive: true,
	})
}
