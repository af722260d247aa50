package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/client"

	"github.com/dockprobe/dockprobe/agent/internal/endpoint"
	"github.com/dockprobe/dockprobe/agent/internal/engine"
	"github.com/dockprobe/dockprobe/agent/internal/launch"
	"github.com/dockprobe/dockprobe/agent/internal/probeclient"
	"github.com/dockprobe/dockprobe/agent/internal/probeimage"
	"github.com/dockprobe/dockprobe/agent/internal/reaper"
	"github.com/dockprobe/dockprobe/internal/version"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// ErrTargetGone is returned when the process the probe looked at vanished
// before or during collection: the report is partial.
var ErrTargetGone = errors.New("the target process exited during collection")

// gather runs the engine queries and the probe and merges their answers.
// The engine's facts run while the container starts (the probe's own
// start-up takes far longer than they do); only Collect waits for them
// (it needs the engine's data root as a hint). They are not started
// earlier on purpose: on a small or busy VM their /info and /networks
// calls slowed down the version check, image check and create that the
// run waits for.
func gather(ctx context.Context, c *client.Client, ep endpoint.Endpoint, g *globalOptions, o *probeOptions, stderr io.Writer) (*probev1.Report, error) {
	var (
		facts     *probev1.Engine
		factErrs  []*probev1.SectionError
		ready     = make(chan struct{})
		factsOnce sync.Once
		factsTime time.Duration
	)
	startFacts := func() {
		factsOnce.Do(func() {
			go func() {
				defer close(ready)
				t0 := time.Now()
				facts, factErrs = engine.Facts(ctx, c, ep)
				factsTime = time.Since(t0)
			}()
		})
	}
	// A run that fails before the start still reports the facts.
	waitFacts := func() *probev1.Engine { startFacts(); <-ready; return facts }

	tool := &probev1.Tool{AgentVersion: version.Version, ProtocolVersion: probev1.ProtocolVersion}
	probeRep, err := runProbeContainer(ctx, c, startFacts, waitFacts, g, o, tool, stderr)
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		if g.debug {
			fmt.Fprintln(stderr, "agent: at the deadline:", err)
		}
		err = fmt.Errorf("%w: no report within --timeout %s (the probe may be frozen or the engine overloaded; retry with a longer --timeout)", probeclient.ErrTimeout, o.timeout)
	}
	waitFacts()
	if g.debug {
		fmt.Fprintf(stderr, "agent: engine facts took %s (in parallel with the probe)\n", factsTime.Round(10*time.Microsecond))
	}
	rep := &probev1.Report{SchemaVersion: probev1.SchemaVersion, Tool: tool, Engine: facts}
	rep.Errors = append(rep.Errors, factErrs...)
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
	if gone := targetGone(probeRep); gone != nil {
		return probeRep, gone
	}
	return probeRep, nil
}

// probeDeadline is the probe's own --deadline for an agent timeout.
func probeDeadline(timeout time.Duration) time.Duration { return timeout + 5*time.Second }

func runProbeContainer(ctx context.Context, c *client.Client, startFacts func(), waitFacts func() *probev1.Engine, g *globalOptions, o *probeOptions, tool *probev1.Tool, stderr io.Writer) (*probev1.Report, error) {
	// The terminal's progress line (nil-safe, off when not a terminal);
	// --debug prints every step with its time instead.
	progress := o.progress.Step
	var probeLog io.Writer = io.Discard
	if g.debug {
		start := time.Now()
		progress = func(step string) {
			fmt.Fprintf(stderr, "agent: %6.1fms %s\n", float64(time.Since(start).Microseconds())/1000, step)
		}
		probeLog = stderr
	}
	// The name is chosen before anything else, and the watchdog that
	// removes the container by that name starts while the engine is
	// asked for its version and the image; it must run before create.
	name := launch.NewName()
	deadline := probeDeadline(o.timeout)
	guardc := make(chan *reaper.Guard, 1)
	var spawnTime time.Duration
	go func() {
		t0 := time.Now()
		gd, err := reaper.Spawn(reapArgs(g, name, deadline))
		spawnTime = time.Since(t0)
		if err != nil && g.debug {
			fmt.Fprintln(stderr, "agent: no watchdog:", err)
		}
		guardc <- gd
	}()
	var guard *reaper.Guard
	guardReady := false
	getGuard := func() *reaper.Guard {
		if !guardReady {
			guard, guardReady = <-guardc, true
		}
		return guard
	}
	// Whatever happens below, the watchdog hears from us: a run that
	// never created the container lets it check and go.
	defer func() { getGuard().Done() }()

	// The image's name does not depend on the engine's architecture, so
	// it is inspected while /version (the cheapest call that says what
	// the engine runs) is asked; the label is checked against the right
	// architecture's digest afterwards.
	type inspected struct {
		res client.ImageInspectResult
		err error
	}
	inspectc := make(chan inspected, 1)
	go func() {
		res, err := c.ImageInspect(ctx, probeimage.Repository+":"+probeimage.Tag(version.Version))
		inspectc <- inspected{res, err}
	}()
	ver, err := c.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		return nil, fmt.Errorf("%w: read the engine version: %w", engine.ErrEngineUnreachable, err)
	}
	if strings.EqualFold(ver.Os, "windows") {
		return nil, fmt.Errorf("%w: switch Docker Desktop to Linux containers (right-click the whale icon, \"Switch to Linux containers...\") and retry", ErrNotLinuxEngine)
	}
	arch, ok := engine.GOARCH(ver.Arch)
	if !ok {
		return nil, fmt.Errorf("%w: the engine's architecture %q", probeimage.ErrNoBinary, ver.Arch)
	}
	im, err := probeimage.Lookup(arch, version.Version)
	if err != nil {
		return nil, err
	}
	tool.ProbeImage = im.Ref

	progress("image " + im.Ref)
	in := <-inspectc
	if _, err := launch.EnsureInspected(ctx, c, im, version.Version, in.res, in.err); err != nil {
		return nil, err
	}
	getGuard()
	progress(fmt.Sprintf("watchdog ready (spawned in %s)", spawnTime.Round(10*time.Microsecond)))
	opts := launch.Options{
		Name:       name,
		Image:      im,
		Version:    version.Version,
		Privileged: o.privileged,
		Deadline:   deadline,
		Debug:      g.debug,
		ProbeLog:   probeLog,
		Progress:   progress,
		Starting:   startFacts,
	}
	if guard != nil {
		// Removal after a failure is the watchdog's job: the agent
		// reports and exits without waiting for the engine.
		opts.Remove = func(string) { guard.Remove() }
	}
	s, err := launch.Start(ctx, c, opts)
	if err != nil {
		return nil, err
	}
	tool.ProbeVersion = s.Hello.GetProbeVersion()
	facts := waitFacts()
	progress("collect")
	rep, err := s.Collect(ctx, &probev1.CollectRequest{
		Hint: &probev1.TargetHint{
			DockerRootDir:   facts.GetDockerRootDir(),
			HostGatewayName: launch.HostGatewayName,
		},
		TargetPid: int32(o.targetPID),
	})
	if err != nil {
		s.Abort()
		return nil, err
	}
	s.Close()
	progress("done")
	return rep, nil
}

// reapArgs are the watchdog's arguments: the same engine selection as
// ours (the environment is inherited), the container's name, and a
// deadline past the probe's own.
func reapArgs(g *globalOptions, name string, probeDeadline time.Duration) []string {
	var args []string
	if g.host != "" {
		args = append(args, "--host", g.host)
	}
	if g.context != "" {
		args = append(args, "--context", g.context)
	}
	return append(args, reaper.Command, "--name", name, "--deadline", (probeDeadline + launch.Backstop).String())
}

// targetSections are the sections read through the target's /proc entry:
// when they fail with NotFound the target process is gone.
var targetSections = map[string]bool{"target": true, "daemon": true, "interfaces": true, "routes": true, "mounts": true}

// targetGone tells a vanished target from other section failures.
func targetGone(rep *probev1.Report) error {
	for _, e := range rep.GetErrors() {
		if targetSections[e.GetSection()] && e.GetCode() == "NotFound" {
			first, _, _ := strings.Cut(e.GetMessage(), "\n")
			return fmt.Errorf("%w (pid %d; section %s: %s); the report is partial: run again", ErrTargetGone, rep.GetTarget().GetPid(), e.GetSection(), first)
		}
	}
	return nil
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
