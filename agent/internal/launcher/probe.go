package launcher

import (
	"context"
	"sync"
	"time"

	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// HostGatewayName is the name mapped to the engine's host-gateway in the
// probe's /etc/hosts by runtimes that have one (Docker).
const HostGatewayName = "dockprobe.host-gateway.internal"

// ProbeOptions are one probe run's.
type ProbeOptions struct {
	Options
	// Tool is the report's tool section; Probe fills in the probe's
	// image and version.
	Tool *probev1.Tool
	// KeepOpen leaves a successful session open: the probe exits when
	// hung up on and the runtime then tears its container down, which on
	// a small machine competes with rendering for the CPU. The caller
	// calls Result.HangUp once it has rendered.
	KeepOpen bool
}

// Result is one probe run's outcome.
type Result struct {
	// Report is the probe's report merged with the engine's facts, or
	// (when the probe did not run) the facts alone with the probe's
	// error in Errors. It is never nil.
	Report *probev1.Report
	// HangUp ends a session left open (KeepOpen); nil otherwise.
	HangUp func()
	// FactsTook is how long the engine's facts took.
	FactsTook time.Duration
}

// Probe runs one probe through l and merges its report with the engine's
// facts. The facts are read while the probe starts (the start takes far
// longer than they do) and only the first Collect waits for them: it
// carries the engine's data root as a hint. They are not asked earlier on
// purpose: on a small or busy VM they slowed down the calls the start
// waits for. Handshake and Collect go out together (a probe started with
// Prefetch has usually collected by then, so waiting for the handshake's
// answer first would cost a round trip); the report counts only when the
// handshake succeeds.
func Probe(ctx context.Context, l Launcher, o ProbeOptions) (Result, error) {
	var (
		facts     *probev1.Engine
		factErrs  []*probev1.SectionError
		ready     = make(chan struct{})
		factsOnce sync.Once
		took      time.Duration
	)
	startFacts := func() {
		factsOnce.Do(func() {
			go func() {
				defer close(ready)
				t0 := time.Now()
				facts, factErrs = l.Facts(ctx)
				took = time.Since(t0)
			}()
		})
	}
	// A run that fails before the start still reports the facts.
	waitFacts := func() *probev1.Engine { startFacts(); <-ready; return facts }

	if o.Tool == nil {
		o.Tool = &probev1.Tool{}
	}
	so := o.Options
	starting := so.Starting
	so.Starting = func() {
		startFacts()
		if starting != nil {
			starting()
		}
	}
	image := so.OnImage
	so.OnImage = func(ref string) {
		o.Tool.ProbeImage = ref
		if image != nil {
			image(ref)
		}
	}
	probeRep, hangUp, err := run(ctx, l, so, o.KeepOpen, waitFacts, o.Tool)
	waitFacts()
	res := Result{HangUp: hangUp, FactsTook: took}
	rep := &probev1.Report{SchemaVersion: probev1.SchemaVersion, Tool: o.Tool, Engine: facts}
	rep.Errors = append(rep.Errors, factErrs...)
	if err != nil {
		rep.Errors = append(rep.Errors, &probev1.SectionError{Section: "probe", Message: err.Error(), Code: "Unavailable"})
		res.Report = rep
		return res, err
	}
	// The probe's sections, then the agent's.
	probeRep.SchemaVersion = rep.SchemaVersion
	probeRep.Tool = o.Tool
	probeRep.Engine = facts
	probeRep.Errors = append(rep.Errors, probeRep.Errors...)
	facts.HostGatewayIp = hostGatewayIP(probeRep.GetContainer())
	res.Report = probeRep
	return res, nil
}

func run(ctx context.Context, l Launcher, o Options, keepOpen bool, waitFacts func() *probev1.Engine, tool *probev1.Tool) (*probev1.Report, func(), error) {
	s, err := l.Start(ctx, o)
	if err != nil {
		return nil, nil, err
	}
	// Only Collect waits for the engine's facts (its hint): on a busy
	// engine they can still be on their way when the start returns, and
	// the handshake need not wait for them.
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
				HostGatewayName: HostGatewayName,
			},
			TargetPid: int32(o.TargetPID),
		})
		collectc <- collected{rep, err}
	}()
	hello, err := s.Handshake(ctx)
	if err != nil {
		s.Abort()
		return nil, nil, err
	}
	tool.ProbeVersion = hello.GetProbeVersion()
	o.Step("collect")
	res := <-collectc
	if res.err != nil {
		s.Abort()
		return nil, nil, res.err
	}
	var hangUp func()
	if keepOpen {
		hangUp = func() { s.Close() }
	} else {
		s.Close()
	}
	o.Step("done")
	return res.rep, hangUp, nil
}

// hostGatewayIP is the address the engine wrote for HostGatewayName into
// the probe's /etc/hosts.
func hostGatewayIP(pc *probev1.ProbeContainer) string {
	for _, e := range pc.GetEtcHosts() {
		for _, n := range e.GetNames() {
			if n == HostGatewayName {
				return e.GetAddress()
			}
		}
	}
	return ""
}
