package launch

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/dockprobe/dockprobe/agent/internal/endpoint"
	"github.com/dockprobe/dockprobe/agent/internal/engine"
	"github.com/dockprobe/dockprobe/agent/internal/launcher"
	"github.com/dockprobe/dockprobe/agent/internal/launcher/launchertest"
)

// TestConformance runs the launcher suite against the Docker engine the
// docker CLI would use here (DOCKER_HOST, contexts, the default socket).
// It skips only when no engine answers; DOCKPROBE_REQUIRE_ENGINE=1 (CI)
// fails instead. DOCKPROBE_EXCLUSIVE_ENGINE=1 says the engine is the
// test's own (the e2e suite runs it so), which adds the tests that remove
// every probe on it.
func TestConformance(t *testing.T) {
	ep, err := endpoint.Resolve(endpoint.Options{Getenv: os.Getenv})
	if err != nil {
		t.Fatalf("resolve the engine endpoint: %v", err)
	}
	open := func(t *testing.T) *Docker {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		d, err := Open(ctx, Config{Endpoint: ep})
		if errors.Is(err, engine.ErrEngineUnreachable) && os.Getenv("DOCKPROBE_REQUIRE_ENGINE") == "" {
			t.Skipf("no Docker engine answers (set DOCKPROBE_REQUIRE_ENGINE=1 to fail instead): %v", err)
		}
		if err != nil {
			t.Fatalf("Open(%s): %v", ep, err)
		}
		return d
	}
	probe := open(t)
	defer probe.Close()
	launchertest.Run(t, launchertest.Harness{
		New: func(t *testing.T) launcher.Launcher { return open(t) },
		Exists: func(t *testing.T, name string) bool {
			_, err := probe.API().ContainerInspect(t.Context(), name, client.ContainerInspectOptions{})
			if err != nil && !cerrdefs.IsNotFound(err) {
				t.Fatalf("inspect %s: %v", name, err)
			}
			return err == nil
		},
		Exclusive: os.Getenv("DOCKPROBE_EXCLUSIVE_ENGINE") == "1",
		Version:   "conformance",
	})
}
