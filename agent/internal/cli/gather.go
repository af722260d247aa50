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
// The engine's facts run while the container starts (the start takes far
// longer than they do); only the first calls to the probe wait for them
// (Collect needs the engine's data root as a hint). They are not started
// earlier on purpose: on a small or busy VM their /info and /networks
// calls slowed down the version check, image check and create that the
// run waits for.
//
// The path to the report is kept as short as the engine allows: the
// container is created before the image and architecture checks answer
// (runProbeContainer), the probe collects while it is being started and
// greeted (--prefetch), Handshake and Collect are sent together, and the
// caller may hang up only after it has rendered (keepOpen).
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

// steps says where a probe run reports its steps: the terminal's progress
// line (nil-safe, off when not a terminal), or with --debug every step with
// its time since now and the probe's own log, on stderr.
func steps(g *globalOptions, o *probeOptions, stderr io.Writer) (progress func(string), probeLog io.Writer) {
	if !g.debug {
		return o.progress.Step, io.Discard
	}
	return func(step string) {
		fmt.Fprintf(stderr, "agent: %6.1fms %s\n", float64(time.Since(processStart).Microseconds())/1000, step)
	}, stderr
}

func runProbeContainer(ctx context.Context, c *client.Client, startFacts func(), waitFacts func() *probev1.Engine, g *globalOptions, o *probeOptions, tool *probev1.Tool, stderr io.Writer) (*probev1.Report, error) {
	progress, probeLog := steps(g, o, stderr)
	// The watchdog must be ready before create; the caller may have
	// spawned it already, beside its own first engine calls.
	wd := o.wd
	if wd == nil {
		wd = startWatchdog(g, o.timeout, stderr)
	}
	// Whatever happens below, the watchdog hears from us. A successful
	// run that keeps the session open tells it when it hangs up.
	handedOver := false
	defer func() {
		if !handedOver {
			wd.finish()
		}
	}()

	// The container is created at once from the image under our tag
	// (the tag does not depend on the architecture), while /version (the
	// engine's OS and architecture) and the image's inspect are asked
	// beside it; the create is kept only when the tag holds exactly the
	// probe this agent carries for the engine's architecture. Otherwise
	// (image absent, stale content under our tag, a Windows engine) the
	// never-started container is discarded and the slow path loads the
	// image and creates again, as if nothing had been tried.
	type inspected struct {
		res client.ImageInspectResult
		err error
	}
	ref := probeimage.Repository + ":" + probeimage.Tag(version.Version)
	inspectc := make(chan inspected, 1)
	go func() {
		res, err := c.ImageInspect(ctx, ref)
		inspectc <- inspected{res, err}
	}()
	type versioned struct {
		res client.ServerVersionResult
		err error
	}
	versionc := make(chan versioned, 1)
	go func() {
		res, err := c.ServerVersion(ctx, client.ServerVersionOptions{})
		versionc <- versioned{res, err}
	}()
	opts := launch.Options{
		Name:       wd.name,
		Version:    version.Version,
		Privileged: o.privileged,
		Deadline:   wd.deadline,
		Debug:      g.debug,
		ProbeLog:   probeLog,
		Progress:   progress,
		Starting:   startFacts,
		Prefetch:   true,
		TargetPID:  o.targetPID,
	}
	guard := wd.get()
	progress(fmt.Sprintf("watchdog ready (spawned in %s)", wd.spawned.Round(10*time.Microsecond)))
	wd.created = true
	eo := opts
	eo.Image = &probeimage.Image{Ref: ref}
	// A failed early create removes itself by name, synchronously: the
	// name must be free for the slow path.
	early, earlyErr := launch.Create(ctx, c, eo)
	discard := func() {
		if early != nil {
			early.Discard()
			early = nil
		}
	}

	vres := <-versionc
	ver, err := vres.res, vres.err
	if err != nil {
		discard()
		return nil, fmt.Errorf("%w: read the engine version: %w", engine.ErrEngineUnreachable, err)
	}
	if strings.EqualFold(ver.Os, "windows") {
		discard()
		return nil, fmt.Errorf("%w: switch Docker Desktop to Linux containers (right-click the whale icon, \"Switch to Linux containers...\") and retry", ErrNotLinuxEngine)
	}
	arch, ok := engine.GOARCH(ver.Arch)
	if !ok {
		discard()
		return nil, fmt.Errorf("%w: the engine's architecture %q", probeimage.ErrNoBinary, ver.Arch)
	}
	im, err := probeimage.Lookup(arch, version.Version)
	if err != nil {
		discard()
		return nil, err
	}
	tool.ProbeImage = im.Ref
	progress("image " + im.Ref)
	in := <-inspectc
	exact := in.err == nil && in.res.Config != nil && in.res.Config.Labels[probeimage.LabelContent] == im.Digest
	if early != nil && !exact {
		progress("early create discarded (image absent, or not this agent's probe for " + arch + ")")
		discard()
	}
	if early == nil && earlyErr != nil && exact {
		// The create itself was refused (Enhanced Container Isolation,
		// a policy, a name clash): the slow path would only repeat it.
		return nil, earlyErr
	}
	opts.Image = im
	s := early
	if s == nil {
		if _, err := launch.EnsureInspected(ctx, c, im, version.Version, in.res, in.err); err != nil {
			return nil, err
		}
		if guard != nil {
			opts.Remove = func(string) { guard.Remove() }
		}
		if s, err = launch.Create(ctx, c, opts); err != nil {
			return nil, err
		}
	}
	if guard != nil {
		// Removal after a failure is the watchdog's job: the agent
		// reports and exits without waiting for the engine.
		s.SetRemove(func(string) { guard.Remove() })
	}
	if err := s.Begin(ctx, opts); err != nil {
		return nil, err
	}
	// Handshake and Collect go out together: the probe has usually
	// collected by now (--prefetch), so waiting for the handshake's
	// answer before asking would cost a round trip. The report counts
	// only when the handshake succeeds. Only Collect waits for the
	// engine's facts (its hint): on a busy engine they can still be on
	// their way when the start returns.
	type collected struct {
		rep *probev1.Report
		err error
	}
	collectc := make(chan collected, 1)
	go func() {
		facts := waitFacts()
		rep, err := s.Collect(ctx, &probev1.CollectRequest{
			Hint: &probev1.TargetHint{
				DockerRootDir:   facts.GetDockerRootDir(),
				HostGatewayName: launch.HostGatewayName,
			},
			TargetPid: int32(o.targetPID),
		})
		collectc <- collected{rep, err}
	}()
	if err := s.Handshake(ctx, opts); err != nil {
		s.Abort()
		return nil, err
	}
	tool.ProbeVersion = s.Hello.GetProbeVersion()
	progress("collect")
	res := <-collectc
	rep, err := res.rep, res.err
	if err != nil {
		s.Abort()
		return nil, err
	}
	wd.ok = true
	if o.keepOpen {
		// The probe exits when we hang up and the engine then tears its
		// container down (runc, the netns, AutoRemove): on a small
		// machine that competes with rendering for the CPU, so the
		// caller hangs up after rendering. The watchdog's check of the
		// removal waits for the hang-up too.
		handedOver = true
		o.hangUp = func() {
			s.Close()
			wd.finish()
		}
	} else {
		s.Close()
	}
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
