package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"time"

	"github.com/spf13/pflag"

	"github.com/dockprobe/dockprobe/agent/internal/endpoint"
	"github.com/dockprobe/dockprobe/agent/internal/engine"
	"github.com/dockprobe/dockprobe/agent/internal/launch"
	"github.com/dockprobe/dockprobe/agent/internal/nerdctl"
	"github.com/dockprobe/dockprobe/agent/internal/probeimage"
	"github.com/dockprobe/dockprobe/internal/version"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// Runtimes `agent probe --runtime` accepts.
const (
	RuntimeAuto    = "auto"
	RuntimeDocker  = "docker"
	RuntimeNerdctl = "nerdctl"
)

// runtimeOptions choose how the probe is launched: through the Docker
// Engine API, or through nerdctl on a containerd host.
type runtimeOptions struct {
	runtime   string
	address   string
	namespace string
	nerdctl   string
}

func (r *runtimeOptions) addFlags(f *pflag.FlagSet) {
	f.StringVar(&r.runtime, "runtime", RuntimeAuto, "how to launch the probe: docker, nerdctl, or auto (Docker; nerdctl when no Docker engine answers and nerdctl is on PATH)")
	f.StringVar(&r.address, "address", "", "containerd address for nerdctl (nerdctl --address; implies --runtime nerdctl)")
	f.StringVar(&r.namespace, "namespace", "", "containerd namespace for nerdctl (nerdctl --namespace; implies --runtime nerdctl)")
	f.StringVar(&r.nerdctl, "nerdctl", "", "the nerdctl binary (default: nerdctl on PATH)")
}

// validate checks the runtime flags against the global engine flags.
func (r *runtimeOptions) validate(g *globalOptions) error {
	switch r.runtime {
	case RuntimeAuto, RuntimeDocker, RuntimeNerdctl:
	default:
		return fmt.Errorf("%w: --runtime must be docker, nerdctl or auto, got %q", ErrUsage, r.runtime)
	}
	nerdctlFlags := r.address != "" || r.namespace != "" || r.nerdctl != ""
	if r.runtime == RuntimeDocker && nerdctlFlags {
		return fmt.Errorf("%w: --address, --namespace and --nerdctl are nerdctl's; they do not go with --runtime docker", ErrUsage)
	}
	if (r.runtime == RuntimeNerdctl || nerdctlFlags) && (g.host != "" || g.context != "") {
		return fmt.Errorf("%w: --host and --context choose a Docker engine; with nerdctl use --address and --namespace", ErrUsage)
	}
	return nil
}

// nerdctlFirst reports whether the probe goes straight to nerdctl.
func (r *runtimeOptions) nerdctlFirst() bool {
	return r.runtime == RuntimeNerdctl || (r.runtime == RuntimeAuto && (r.address != "" || r.namespace != "" || r.nerdctl != ""))
}

// nerdctlFallback reports whether a Docker failure hands over to nerdctl:
// in auto mode, when no Docker engine answered and nerdctl is installed.
// A Docker engine the user named (--host, --context, DOCKER_HOST,
// DOCKER_CONTEXT) or one that refused us for permissions is an answer in
// itself: its error stands, with its own exit code.
func (r *runtimeOptions) nerdctlFallback(dockerErr error, g *globalOptions) bool {
	if r.runtime != RuntimeAuto || g.host != "" || g.context != "" ||
		os.Getenv(endpoint.EnvHost) != "" || os.Getenv(endpoint.EnvContext) != "" ||
		!errors.Is(dockerErr, engine.ErrEngineUnreachable) || errors.Is(dockerErr, fs.ErrPermission) {
		return false
	}
	_, err := nerdctl.Find(r.nerdctl)
	return err == nil
}

// route sends a probe run to nerdctl when it should go there. runProbe
// calls it twice: before Docker is tried (dockerErr nil: the flags decide)
// and when no Docker engine answered (dockerErr: auto mode falls back).
// done says the run went to nerdctl (or the flags were wrong) and err is
// its outcome.
func (r *runtimeOptions) route(ctx context.Context, g *globalOptions, o *probeOptions, dockerErr error, stdout, stderr io.Writer) (done bool, err error) {
	if dockerErr == nil {
		if err := r.validate(g); err != nil {
			return true, err
		}
		if !r.nerdctlFirst() {
			return false, nil
		}
	} else {
		if !r.nerdctlFallback(dockerErr, g) {
			return false, nil
		}
		fmt.Fprintf(stderr, "agent: no Docker engine answered (%v); using nerdctl\n", dockerErr)
		err := runNerdctlProbe(ctx, g, o, stdout, stderr)
		if errors.Is(err, engine.ErrEngineUnreachable) {
			// Neither answered: say so for both.
			return true, fmt.Errorf("%w; nor did nerdctl: %v", dockerErr, err)
		}
		return true, err
	}
	return true, runNerdctlProbe(ctx, g, o, stdout, stderr)
}

// runNerdctlProbe is runProbe for a containerd host: the same report,
// analysis and rendering, with the engine's facts and the probe's launch
// going through nerdctl.
func runNerdctlProbe(ctx context.Context, g *globalOptions, o *probeOptions, stdout, stderr io.Writer) error {
	rep, runErr := gatherNerdctl(ctx, g, o, stderr)
	o.progress.Done()
	if interrupted(ctx) {
		return context.Cause(ctx) // as runProbe: no report from a stopped run
	}
	if rep != nil {
		analyze(rep)
		if err := render(stdout, rep, o.output); err != nil {
			return err
		}
	}
	return runErr
}

// gatherNerdctl reads containerd's facts through nerdctl, runs the probe
// and merges their answers, as gather does for Docker.
func gatherNerdctl(ctx context.Context, g *globalOptions, o *probeOptions, stderr io.Writer) (*probev1.Report, error) {
	bin, err := nerdctl.Find(o.rt.nerdctl)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", engine.ErrEngineUnreachable, err)
	}
	c := &nerdctl.Client{Path: bin, Address: o.rt.address, Namespace: o.rt.namespace}
	progress, probeLog := steps(g, o, stderr)

	// Debris of earlier runs whose nerdctl died is removed after this
	// run, not beside it: a `nerdctl rm` racing this run's `nerdctl run`
	// in the same namespace made the run fail ("container not found").
	// A failing sweep is only worth a debug line.
	defer func() {
		if sweepOff() {
			return
		}
		if n, err := nerdctl.Sweep(ctx, c, time.Now()); err != nil || n > 0 {
			progress(fmt.Sprintf("stale probes removed: %d (%v)", n, err))
		}
	}()
	progress("nerdctl facts")
	facts, factErrs := nerdctl.Facts(ctx, c)
	tool := &probev1.Tool{AgentVersion: version.Version, ProtocolVersion: probev1.ProtocolVersion}
	rep := &probev1.Report{SchemaVersion: probev1.SchemaVersion, Tool: tool, Engine: facts, Errors: factErrs}
	if facts.GetServerVersion() == "" {
		// Neither version nor info answered: containerd is not there.
		msg := "containerd did not answer"
		if len(factErrs) > 0 {
			msg = factErrs[0].GetMessage()
		}
		return nil, fmt.Errorf("%w: %s: %s", engine.ErrEngineUnreachable, c.Describe(), msg)
	}

	probeRep, err := runNerdctlContainer(ctx, c, facts, g, o, tool, progress, probeLog)
	if err != nil {
		rep.Errors = append(rep.Errors, &probev1.SectionError{Section: "probe", Message: err.Error(), Code: "Unavailable"})
		return rep, err
	}
	probeRep.SchemaVersion = rep.SchemaVersion
	probeRep.Tool = tool
	probeRep.Engine = facts
	probeRep.Errors = append(rep.Errors, probeRep.Errors...)
	if gone := targetGone(probeRep); gone != nil {
		return probeRep, gone
	}
	return probeRep, nil
}

func runNerdctlContainer(ctx context.Context, c *nerdctl.Client, facts *probev1.Engine, g *globalOptions, o *probeOptions, tool *probev1.Tool, progress func(string), probeLog io.Writer) (*probev1.Report, error) {
	arch, ok := engine.GOARCH(facts.GetArchitecture())
	if !ok {
		if facts.GetArchitecture() != "" {
			return nil, fmt.Errorf("%w: the engine's architecture %q", probeimage.ErrNoBinary, facts.GetArchitecture())
		}
		arch = runtime.GOARCH // info failed; nerdctl runs where containerd does
	}
	im, err := probeimage.Lookup(arch, version.Version)
	if err != nil {
		return nil, err
	}
	tool.ProbeImage = im.Ref
	progress("image " + im.Ref)
	if loaded, err := c.EnsureImage(ctx, im, version.Version); err != nil {
		return nil, err
	} else if loaded {
		progress("image loaded")
	}
	s, err := nerdctl.Start(ctx, c, launch.Options{
		Name:       launch.NewName(),
		Image:      im,
		Version:    version.Version,
		Privileged: o.privileged,
		Deadline:   probeDeadline(o.timeout),
		Debug:      g.debug,
		ProbeLog:   probeLog,
		Progress:   progress,
	})
	if err != nil {
		return nil, err
	}
	tool.ProbeVersion = s.Hello.GetProbeVersion()
	progress("collect")
	rep, err := s.Collect(ctx, &probev1.CollectRequest{TargetPid: int32(o.targetPID)})
	if err != nil {
		s.Abort()
		return nil, err
	}
	if err := s.Close(); err != nil {
		progress("close: " + err.Error())
	}
	progress("done")
	return rep, nil
}
