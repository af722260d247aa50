package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/dockprobe/dockprobe/agent/internal/launcher"
	"github.com/dockprobe/dockprobe/agent/internal/watch"
	"github.com/dockprobe/dockprobe/internal/version"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

type watchOptions struct {
	output     string
	targetPID  int
	duration   time.Duration
	privileged bool
	rt         runtimeOptions
}

// watchMaxDeadline is the probe's hard deadline when the watch runs until
// interrupted. The probe still ends as soon as the agent hangs up or dies
// (stdin EOF); the deadline only bounds a probe whose agent's engine
// connection stays half-open.
const watchMaxDeadline = 24 * time.Hour

func init() { register(newWatchCmd) }

func newWatchCmd(g *globalOptions) *cobra.Command {
	o := &watchOptions{}
	cmd := &cobra.Command{
		Use:   "watch",
		Short: "Stream changes in the engine's environment as they happen",
		Long: `watch keeps one probe running and prints a line for every change in the
namespaces where the engine runs: interfaces up or down, addresses and routes
added or removed, mounts appearing or disappearing, dockerd (or containerd)
restarting with other arguments. Ctrl-C removes the probe and ends it with
the exit code of every interrupted command (130, "agent: interrupted
(SIGINT)"); --for ends it normally (exit 0).

With --runtime kubernetes it watches one node through a probe pod: --node
NAME, or the cluster's only node. Its pod's start is bounded by
--node-timeout; the pod is deleted when the watch ends.`,
		Example: `  agent watch
  agent watch -o json                 # one JSON object per line
  agent watch --for 10m
  agent watch --runtime kubernetes --node worker-1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.output != "text" && o.output != "json" {
				return fmt.Errorf("%w: --output must be text or json, got %q", ErrUsage, o.output)
			}
			if o.duration < 0 {
				return fmt.Errorf("%w: --for must not be negative, got %s", ErrUsage, o.duration)
			}
			if o.targetPID < 0 {
				return fmt.Errorf("%w: --target-pid must be a positive pid, got %d", ErrUsage, o.targetPID)
			}
			if err := o.rt.validate(g); err != nil {
				return err
			}
			if err := o.rt.kubeFlags(o.privileged, 0); err != nil {
				return err
			}
			return runWatch(cmd.Context(), g, o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.output, "output", "o", "text", "output format: text or json (one event per line)")
	f.IntVar(&o.targetPID, "target-pid", 0, "watch this pid's namespaces (in the engine's pid namespace) instead of the dockerd serving the engine")
	f.DurationVar(&o.duration, "for", 0, "stop after this long (default: until interrupted)")
	f.BoolVar(&o.privileged, "privileged", false, "run the probe with --privileged instead of its minimal capabilities (fallback only)")
	o.rt.addFlags(f)
	return cmd
}

func runWatch(ctx context.Context, g *globalOptions, o *watchOptions, stdout, stderr io.Writer) error {
	deadline := watchMaxDeadline
	if o.duration > 0 {
		// --for cancels rather than sets a deadline: a deadline would go
		// to the probe with the stream (grpc-timeout), whose end there
		// can reach the agent a moment before its own context has
		// expired, and the watch's normal end would read as a timeout.
		ctx2, cancel := context.WithCancel(ctx)
		t := time.AfterFunc(o.duration, cancel)
		defer t.Stop()
		defer cancel()
		ctx = ctx2
		deadline = o.duration + 10*time.Second
	}
	progress := func(string) {}
	var probeLog io.Writer = io.Discard
	if g.debug {
		progress = func(step string) { fmt.Fprintln(stderr, "agent:", step) }
		probeLog = stderr
	}
	l, err := o.rt.open(ctx, g, launchOptions{warn: stderr, progress: progress})
	if err != nil {
		return err
	}
	defer l.Close()
	// The engine's data root picks the dockerd that serves it.
	facts, _ := l.Facts(ctx)
	err = watch.Run(ctx, l, watch.Options{
		Version:    version.Version,
		Hint:       &probev1.TargetHint{DockerRootDir: facts.GetDockerRootDir(), HostGatewayName: launcher.HostGatewayName},
		TargetPID:  o.targetPID,
		Privileged: o.privileged,
		Deadline:   deadline,
		Debug:      g.debug,
		ProbeLog:   probeLog,
		JSON:       o.output == "json",
		Out:        stdout,
		Progress:   progress,
	})
	if interrupted(ctx) {
		// Ctrl-C: the probe is gone (watch.Run removed it); the exit
		// code says the run was interrupted, as every command's does.
		return context.Cause(ctx)
	}
	if ctx.Err() != nil {
		// --for: the watch's normal end.
		return nil
	}
	return err
}
