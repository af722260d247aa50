package engine

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/moby/moby/client/pkg/versions"

	"github.com/dockprobe/dockprobe/agent/internal/endpoint"
)

// TestFactsRealEngine reads the engine the docker CLI would use here
// (DOCKER_HOST, contexts, or the default socket). It skips only when no
// engine answers; set DOCKPROBE_REQUIRE_ENGINE=1 (CI does) to fail instead.
func TestFactsRealEngine(t *testing.T) {
	ep, err := endpoint.Resolve(endpoint.Options{})
	if err != nil {
		t.Fatalf("resolve the engine endpoint: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := New(ctx, ep)
	if errors.Is(err, ErrEngineUnreachable) && os.Getenv("DOCKPROBE_REQUIRE_ENGINE") == "" {
		t.Skipf("no Docker engine answers (set DOCKPROBE_REQUIRE_ENGINE=1 to fail instead): %v", err)
	}
	if err != nil {
		t.Fatalf("New(%s) error = %v", ep, err)
	}
	defer c.Close()

	e, errs := Facts(ctx, c, ep)
	for _, se := range errs {
		t.Errorf("section %s failed: %s (%s)", se.Section, se.Message, se.Code)
	}
	t.Logf("engine %s %s (API %s, min %s) on %s %s/%s, root %s, %d networks",
		e.Host, e.ServerVersion, e.ApiVersion, e.MinApiVersion, e.Os, e.OsType, e.Architecture, e.DockerRootDir, len(e.Networks))

	if e.ServerVersion == "" || e.Os == "" || e.OsType == "" || e.DockerRootDir == "" || e.Id == "" {
		t.Errorf("engine facts incomplete: %v", e)
	}
	if e.Host != ep.Redacted() || e.Context != ep.Context {
		t.Errorf("host/context = %q/%q, want %q/%q", e.Host, e.Context, ep.Redacted(), ep.Context)
	}
	if _, ok := GOARCH(e.Architecture); !ok {
		t.Errorf("GOARCH(%q) unknown", e.Architecture)
	}

	// The negotiated version is the lower of the engine's and the client's.
	ver, err := c.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := ver.APIVersion
	if versions.LessThan(client.MaxAPIVersion, want) {
		want = client.MaxAPIVersion
	}
	if ep.APIVersion != "" {
		want = ep.APIVersion
	}
	if e.ApiVersion != want {
		t.Errorf("api_version = %q, want %q (engine %s, client max %s)", e.ApiVersion, want, ver.APIVersion, client.MaxAPIVersion)
	}

	byName := map[string]int{}
	for i, n := range e.Networks {
		byName[n.Name] = i
		if i > 0 && e.Networks[i-1].Name > n.Name {
			t.Errorf("networks not sorted: %q before %q", e.Networks[i-1].Name, n.Name)
		}
	}
	if e.OsType == "linux" {
		for _, name := range []string{"bridge", "host", "none"} {
			if _, ok := byName[name]; !ok {
				t.Errorf("network %q missing from %v", name, e.Networks)
			}
		}
		if i, ok := byName["bridge"]; ok {
			b := e.Networks[i]
			if b.Driver != "bridge" || b.Bridge == "" || len(b.Subnets) == 0 || b.Subnets[0].Subnet == "" {
				t.Errorf("bridge network = %v, want a bridge with a subnet", b)
			}
		}
	}
}
