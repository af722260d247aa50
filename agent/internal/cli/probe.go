package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/dockprobe/dockprobe/agent/internal/endpoint"
	"github.com/dockprobe/dockprobe/agent/internal/engine"
	"github.com/dockprobe/dockprobe/agent/internal/launch"
	"github.com/dockprobe/dockprobe/agent/internal/probeimage"
	"github.com/dockprobe/dockprobe/agent/internal/report"
	"github.com/dockprobe/dockprobe/internal/version"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// ErrNotLinuxEngine is returned for an engine in Windows containers mode.
var ErrNotLinuxEngine = errors.New("the engine runs Windows containers")

type probeOptions struct {
	output     string
	targetPID  int
	timeout    time.Duration
	privileged bool
}

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

	rep, runErr := collect(ctx, c, ep, g, o, stderr)
	if rep != nil {
		if err := render(stdout, rep, o.output); err != nil {
			return err
		}
	}
	return runErr
}

func collect(ctx context.Context, c *client.Client, ep endpoint.Endpoint, g *globalOptions, o *probeOptions, stderr io.Writer) (*probev1.Report, error) {
	facts, factErrs := engine.Facts(ctx, c, ep)
	rep := &probev1.Report{
		SchemaVersion: probev1.SchemaVersion,
		Tool:          &probev1.Tool{AgentVersion: version.Version, ProtocolVersion: probev1.ProtocolVersion},
		Engine:        facts,
	}
	rep.Errors = append(rep.Errors, factErrs...)

	probeRep, err := runProbeContainer(ctx, c, facts, g, o, rep.Tool, stderr)
	if err != nil {
		rep.Errors = append(rep.Errors, &probev1.SectionError{Section: "probe", Message: err.Error(), Code: "Unavailable"})
		return rep, err
	}
	// The probe's sections, then the agent's.
	probeRep.SchemaVersion = rep.SchemaVersion
	probeRep.Tool = rep.Tool
	probeRep.Engine = facts
	probeRep.Errors = append(rep.Errors, probeRep.Errors...)
	facts.HostGatewayIp = hostGatewayIP(probeRep.GetContainer())
	return probeRep, nil
}

func runProbeContainer(ctx context.Context, c *client.Client, facts *probev1.Engine, g *globalOptions, o *probeOptions, tool *probev1.Tool, stderr io.Writer) (*probev1.Report, error) {
	if facts.GetOsType() == "windows" {
		return nil, fmt.Errorf("%w: switch Docker Desktop to Linux containers (right-click the whale icon) and retry", ErrNotLinuxEngine)
	}
	arch, ok := engine.GOARCH(facts.GetArchitecture())
	if !ok {
		return nil, fmt.Errorf("%w: the engine's architecture %q", probeimage.ErrNoBinary, facts.GetArchitecture())
	}
	im, err := probeimage.Lookup(arch, version.Version)
	if err != nil {
		return nil, err
	}
	tool.ProbeImage = im.Ref

	progress := func(string) {}
	var probeLog io.Writer = io.Discard
	if g.debug {
		progress = func(step string) { fmt.Fprintln(stderr, "agent:", step) }
		probeLog = stderr
	}
	progress("image " + im.Ref)
	if _, err := launch.EnsureImage(ctx, c, im, version.Version); err != nil {
		return nil, err
	}
	s, err := launch.Start(ctx, c, launch.Options{
		Image:      im,
		Version:    version.Version,
		Privileged: o.privileged,
		Deadline:   o.timeout + 5*time.Second,
		Debug:      g.debug,
		ProbeLog:   probeLog,
		Progress:   progress,
	})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	tool.ProbeVersion = s.Hello.GetProbeVersion()
	progress("collect")
	return s.Collect(ctx, &probev1.CollectRequest{
		Hint: &probev1.TargetHint{
			DockerRootDir:   facts.GetDockerRootDir(),
			HostGatewayName: launch.HostGatewayName,
		},
		TargetPid: int32(o.targetPID),
	})
}

// hostGatewayIP is the address the engine wrote for our host-gateway name
// into the probe's /etc/hosts.
func hostGatewayIP(pc *probev1.ProbeContainer) string {
	for _, e := range pc.GetEtcHosts() {
		for _, n := range e.GetNames() {
			if n == launch.HostGatewayName {
				return e.GetAddress()
			}
		}
	}
	return ""
}

func render(w io.Writer, rep *probev1.Report, output string) error {
	if output == "json" {
		return report.JSON(w, rep)
	}
	return report.Text(w, rep, report.TextOptions{})
}
