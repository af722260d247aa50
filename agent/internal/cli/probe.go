package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/dockprobe/dockprobe/agent/internal/launcher"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// ErrNotLinuxEngine is returned for an engine in Windows containers mode.
var ErrNotLinuxEngine = launcher.ErrNotLinuxEngine

type probeOptions struct {
	// output is how render writes the report (output.go).
	output outputOptions
	// progress shows the steps on stderr when it is a terminal.
	progress   *progressLine
	targetPID  int
	timeout    time.Duration
	privileged bool
	// rt chooses Docker or nerdctl (runtime.go).
	rt runtimeOptions
	// keepOpen asks gather to leave a successful probe session open and
	// set hangUp, which the caller calls once the report is written.
	keepOpen bool
	hangUp   func()
}

func init() { register(newProbeCmd) }

func newProbeCmd(g *globalOptions) *cobra.Command {
	o := &probeOptions{}
	cmd := &cobra.Command{
		Use:   "probe",
		Short: "Report on the environment where the Docker engine runs",
		Long: `probe launches a short-lived, read-only probe container on the engine and
reports what it sees where dockerd runs: dockerd's flags and config, the VM's
interfaces, routes and mounts, the Docker networks and the host-gateway IP.

Secrets (URL credentials, passwords, tokens, keys, PEM blocks) are always
redacted; --anonymize also replaces hostnames, user names, MACs and
non-Docker IP addresses with consistent pseudonyms.`,
		Example: `  agent probe
  agent probe -o json > report.json
  agent probe -o json | ConvertFrom-Json      # PowerShell
  agent probe -o yaml
  agent probe -o html > report.html
  agent probe --format '{{json .interfaces}}'
  agent probe --format '{{.engine.hostGatewayIp}}'
  agent probe --anonymize --mapping-file ~/dockprobe-map.json -o json
  agent --context desktop-linux probe
  agent probe --runtime kubernetes --all-nodes          # every node of a cluster: one cluster report
  agent probe --runtime kubernetes --node worker-1 -o json --kube-context prod`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.output.validate(); err != nil {
				return err
			}
			o.progress = newProgress(cmd.ErrOrStderr())
			o.output.progress = o.progress
			if o.timeout <= 0 {
				return fmt.Errorf("%w: --timeout must be positive, got %s", ErrUsage, o.timeout)
			}
			if o.targetPID < 0 {
				return fmt.Errorf("%w: --target-pid must be a positive pid, got %d", ErrUsage, o.targetPID)
			}
			if cmd.Flags().Changed("timeout") {
				o.rt.kube.runTimeout = o.timeout
			}
			// gather reports finer steps through o.progress when it
			// uses it; the line is cleared before anything else is written.
			o.progress.Step("connect, start the probe, collect")
			defer o.progress.Done()
			return runProbe(cmd.Context(), g, o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	o.output.addFlags(f)
	f.IntVar(&o.targetPID, "target-pid", 0, "collect from this pid (in the engine's pid namespace) instead of the dockerd serving the engine")
	f.DurationVar(&o.timeout, "timeout", 60*time.Second, timeoutHelp)
	f.BoolVar(&o.privileged, "privileged", false, "run the probe with --privileged instead of its minimal capabilities (fallback only)")
	o.rt.addFlags(f)
	return cmd
}

// runProbe produces the report. When the probe cannot run, the report still
// carries what the engine said, and the error explains why.
func runProbe(ctx context.Context, g *globalOptions, o *probeOptions, stdout, stderr io.Writer) error {
	if o.rt.runtime == RuntimeKube {
		// Many nodes, one cluster report: each node's run is bounded by
		// --node-timeout, and the whole run by --timeout when given.
		if err := o.rt.validate(g); err != nil {
			return err
		}
		if err := o.rt.kubeFlags(o.privileged, o.targetPID); err != nil {
			return err
		}
		return runClusterProbe(ctx, g, o, stdout, stderr)
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	if err := o.rt.validate(g); err != nil {
		return err
	}

	// This machine's side of the report (interfaces, routes, Docker
	// Desktop's settings) does not depend on the engine: read it while
	// the probe runs instead of after.
	hostc := make(chan *probev1.Host, 1)
	go func() { hostc <- collectHost() }()

	// Docker's watchdog (a second process) is spawned beside the engine's
	// ping, so that the create does not wait for it.
	progress, _ := steps(g, o, stderr)
	l, err := o.rt.open(ctx, g, launchOptions{probeDeadline: probeDeadline(o.timeout), watchdog: true, warn: stderr, progress: progress})
	if err != nil {
		return err
	}
	defer l.Close()

	o.keepOpen = true
	// No engine usage here (/system/df, a container list and inspects):
	// on a small VM those calls competed with the probe's create and start
	// and cost `agent probe` a fifth of its time (issue 12). doctor and
	// bundle ask for it; the checks that need it say so when it is absent.
	rep, runErr := gather(ctx, l, g, o, stderr)
	if o.hangUp != nil {
		defer o.hangUp()
	}
	// An interrupted run prints no report: the user asked it to stop, and
	// a half-gathered report would read as the answer. An interrupt that
	// lands after the gathering is still one: the exit code must say so.
	if interrupted(ctx) {
		return context.Cause(ctx)
	}
	if rep != nil {
		t0 := time.Now()
		rep.Host = <-hostc
		analyze(rep)
		if err := render(stdout, rep, o.output); err != nil {
			return err
		}
		if g.debug {
			fmt.Fprintf(stderr, "agent: %6.1fms analyzed and rendered (in %s)\n", float64(time.Since(processStart).Microseconds())/1000, time.Since(t0).Round(10*time.Microsecond))
		}
	}
	return runErr
}
