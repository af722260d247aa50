package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/dockprobe/dockprobe/agent/internal/engine"
)

// ErrNotLinuxEngine is returned for an engine in Windows containers mode.
var ErrNotLinuxEngine = errors.New("the engine runs Windows containers")

type probeOptions struct {
	output     string
	targetPID  int
	timeout    time.Duration
	privileged bool
}

func init() { register(newProbeCmd) }

func newProbeCmd(g *globalOptions) *cobra.Command {
	o := &probeOptions{}
	cmd := &cobra.Command{
		Use:   "probe",
		Short: "Report on the environment where the Docker engine runs",
		Example: `  agent probe
  agent probe -o json > report.json
  agent probe -o json | ConvertFrom-Json      # PowerShell
  agent --context desktop-linux probe`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.output != "text" && o.output != "json" {
				return fmt.Errorf("%w: --output must be text or json, got %q", ErrUsage, o.output)
			}
			if o.timeout <= 0 {
				return fmt.Errorf("%w: --timeout must be positive, got %s", ErrUsage, o.timeout)
			}
			if o.targetPID < 0 {
				return fmt.Errorf("%w: --target-pid must be a positive pid, got %d", ErrUsage, o.targetPID)
			}
			return runProbe(cmd.Context(), g, o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.output, "output", "o", "text", "output format: text or json")
	f.IntVar(&o.targetPID, "target-pid", 0, "collect from this pid (in the engine's pid namespace) instead of the dockerd serving the engine")
	f.DurationVar(&o.timeout, "timeout", 60*time.Second, "give up after this long")
	f.BoolVar(&o.privileged, "privileged", false, "run the probe with --privileged instead of its minimal capabilities (fallback only)")
	return cmd
}

// runProbe produces the report. When the probe cannot run, the report still
// carries what the engine's API said, and the error explains why.
func runProbe(ctx context.Context, g *globalOptions, o *probeOptions, stdout, stderr io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()

	ep, err := g.endpoint()
	if err != nil {
		return err
	}
	for _, w := range ep.Warnings {
		fmt.Fprintln(stderr, "warning:", w)
	}
	c, err := engine.New(ctx, ep)
	if err != nil {
		return err
	}
	defer c.Close()

	rep, runErr := gather(ctx, c, ep, g, o, stderr)
	if rep != nil {
		analyze(rep)
		if err := render(stdout, rep, o.output); err != nil {
			return err
		}
	}
	return runErr
}
