package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/dockprobe/dockprobe/agent/internal/endpoint"
	"github.com/dockprobe/dockprobe/agent/internal/engine"
	"github.com/dockprobe/dockprobe/agent/internal/launch"
	"github.com/dockprobe/dockprobe/agent/internal/probeimage"
	"github.com/dockprobe/dockprobe/internal/version"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
	"github.com/moby/moby/client"
)

// gather runs the engine queries and the probe and merges their answers.
func gather(ctx context.Context, c *client.Client, ep endpoint.Endpoint, g *globalOptions, o *probeOptions, stderr io.Writer) (*probev1.Report, error) {
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
