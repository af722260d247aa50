// Command dpbare is the benchmark's bare-client bound (column (e) of
// `make bench`, bench/): it resolves the engine as the agent does, creates,
// attaches and starts the probe container with the agent's own launch code
// and container config, completes the gRPC handshake over the attach stream,
// hangs up and exits 0. No collection, no report, no image load (the harness
// runs `agent probe` first, which loads the image). It is not shipped.
package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"

	"github.com/dockprobe/dockprobe/agent/internal/endpoint"
	"github.com/dockprobe/dockprobe/agent/internal/engine"
	"github.com/dockprobe/dockprobe/agent/internal/launch"
	"github.com/dockprobe/dockprobe/agent/internal/launcher"
	"github.com/dockprobe/dockprobe/agent/internal/probeimage"
	"github.com/dockprobe/dockprobe/internal/version"
)

// start is close to the process's start; DPBARE_DEBUG=1 prints each
// step's time since it, as `agent --debug` does, to compare timelines.
var start = time.Now()

func progress(step string) {
	if os.Getenv("DPBARE_DEBUG") != "" {
		fmt.Fprintf(os.Stderr, "dpbare: %6.1fms %s\n", float64(time.Since(start).Microseconds())/1000, step)
	}
}

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "dpbare:", strings.ReplaceAll(err.Error(), "\n", " "))
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	ep, err := endpoint.Resolve(endpoint.Options{Getenv: os.Getenv})
	if err != nil {
		return err
	}
	c, err := engine.New(ctx, ep)
	if err != nil {
		return err
	}
	defer c.Close()
	progress("engine ready")
	im, err := probeimage.Lookup(runtime.GOARCH, version.Version)
	if err != nil {
		return err
	}
	s, err := launch.Start(ctx, c, launch.Options{Image: im, Options: launcher.Options{Version: version.Version, Deadline: time.Minute, Progress: progress}})
	if cerrdefs.IsNotFound(err) {
		return fmt.Errorf("probe image %s is not on the engine (run `agent probe` first, built with the same version): %w", im.Ref, err)
	}
	if err != nil {
		return err
	}
	err = s.Close()
	progress("done")
	return err
}
