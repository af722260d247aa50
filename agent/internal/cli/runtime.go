package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/spf13/pflag"

	"github.com/dockprobe/dockprobe/agent/internal/endpoint"
	"github.com/dockprobe/dockprobe/agent/internal/engine"
	"github.com/dockprobe/dockprobe/agent/internal/kubelaunch"
	"github.com/dockprobe/dockprobe/agent/internal/launch"
	"github.com/dockprobe/dockprobe/agent/internal/launcher"
	"github.com/dockprobe/dockprobe/agent/internal/nerdctl"
	"github.com/dockprobe/dockprobe/agent/internal/reaper"
)

// Runtimes `--runtime` accepts.
const (
	RuntimeAuto    = "auto"
	RuntimeDocker  = launch.RuntimeDocker
	RuntimeNerdctl = nerdctl.Runtime
	RuntimeKube    = kubelaunch.Runtime
)

// runtimeOptions choose how the probe is launched: through the Docker
// Engine API, or through nerdctl on a containerd host. Every command that
// talks to an engine has these flags and opens its launcher through open.
type runtimeOptions struct {
	runtime   string
	address   string
	namespace string
	nerdctl   string
	// kube are the Kubernetes runtime's (kube.go).
	kube kubeOptions
}

func (r *runtimeOptions) addFlags(f *pflag.FlagSet) {
	f.StringVar(&r.runtime, "runtime", RuntimeAuto, "how to launch the probe: docker, nerdctl, kubernetes, or auto (Docker; nerdctl when no Docker engine answers and nerdctl is on PATH)")
	f.StringVar(&r.address, "address", "", "containerd address for nerdctl (nerdctl --address; implies --runtime nerdctl)")
	f.StringVar(&r.namespace, "namespace", "", "containerd namespace for nerdctl (nerdctl --namespace; implies --runtime nerdctl)")
	f.StringVar(&r.nerdctl, "nerdctl", "", "the nerdctl binary (default: nerdctl on PATH)")
	r.kube.addFlags(f)
}

// validate checks the runtime flags against the global engine flags.
func (r *runtimeOptions) validate(g *globalOptions) error {
	switch r.runtime {
	case RuntimeAuto, RuntimeDocker, RuntimeNerdctl, RuntimeKube:
	default:
		return fmt.Errorf("%w: --runtime must be docker, nerdctl, kubernetes or auto, got %q", ErrUsage, r.runtime)
	}
	nerdctlFlags := r.address != "" || r.namespace != "" || r.nerdctl != ""
	if r.runtime == RuntimeKube {
		if nerdctlFlags || g.host != "" || g.context != "" {
			return fmt.Errorf("%w: --host, --context, --address, --namespace and --nerdctl choose a Docker or containerd engine; with --runtime kubernetes use --kubeconfig, --kube-context and --kube-namespace", ErrUsage)
		}
		return r.kube.validate()
	}
	if f := r.kube.set(); f != "" {
		return fmt.Errorf("%w: %s is the Kubernetes runtime's: add --runtime kubernetes", ErrUsage, f)
	}
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

// launchOptions are what a command needs of its launcher.
type launchOptions struct {
	// probeDeadline, when set, spawns the Docker watchdog of the first
	// probe at once, beside the engine's ping. Commands that run the
	// probe set it; watch and cleanup do not (a watch's probe ends on
	// stdin EOF and is removed when the watch ends).
	probeDeadline time.Duration
	// watchdog guards each Docker probe with a watchdog process.
	watchdog bool
	// warn hears the endpoint's warnings and the fallback to nerdctl.
	warn io.Writer
	// progress hears what only --debug shows.
	progress func(string)
	// namespaceOnly: the command starts no probe (cleanup); with
	// --runtime kubernetes it needs no node.
	namespaceOnly bool
}

// open is the one place that chooses the runtime: nerdctl when the flags
// say so; else Docker, falling back to nerdctl in auto mode when no Docker
// engine answered (nerdctlFallback). Every command runs the probe through
// the launcher it returns, so a new runtime is a new --runtime value here
// (its flags checked in validate) and a launcher.Launcher that passes
// launchertest; a runtime of many nodes opens one launcher per node.
func (r *runtimeOptions) open(ctx context.Context, g *globalOptions, lo launchOptions) (launcher.Launcher, error) {
	if err := r.validate(g); err != nil {
		return nil, err
	}
	if lo.warn == nil {
		lo.warn = io.Discard
	}
	if r.runtime == RuntimeKube {
		return r.kube.open(ctx, g.debug, lo.namespaceOnly, lo.warn)
	}
	if r.nerdctlFirst() {
		return r.openNerdctl(ctx, lo)
	}
	ep, err := g.endpointWarned(lo.warn)
	if err != nil {
		return nil, err
	}
	cfg := launch.Config{Endpoint: ep}
	if lo.watchdog {
		cfg.Watchdog = g.spawnWatchdog
		cfg.Deadline = lo.probeDeadline
	}
	if g.debug {
		cfg.Debug = lo.warn
	}
	d, dockerErr := launch.Open(ctx, cfg)
	if dockerErr == nil {
		return d, nil
	}
	if !r.nerdctlFallback(dockerErr, g) {
		return nil, dockerErr
	}
	fmt.Fprintf(lo.warn, "agent: no Docker engine answered (%v); using nerdctl\n", dockerErr)
	l, err := r.openNerdctl(ctx, lo)
	if errors.Is(err, engine.ErrEngineUnreachable) {
		// Neither answered: say so for both.
		return nil, fmt.Errorf("%w; nor did nerdctl: %v", dockerErr, err)
	}
	return l, err
}

func (r *runtimeOptions) openNerdctl(ctx context.Context, lo launchOptions) (launcher.Launcher, error) {
	return nerdctl.Open(ctx, nerdctl.Config{
		Binary: r.nerdctl, Address: r.address, Namespace: r.namespace,
		NoSweep: sweepOff(), Progress: lo.progress,
	})
}

// spawnWatchdog starts the Docker watchdog (package reaper) with the same
// engine selection as ours (the environment is inherited), the container's
// name, and a deadline past the probe's own.
func (g *globalOptions) spawnWatchdog(name string, probeDeadline time.Duration) (*reaper.Guard, error) {
	var args []string
	if g.host != "" {
		args = append(args, "--host", g.host)
	}
	if g.context != "" {
		args = append(args, "--context", g.context)
	}
	return reaper.Spawn(append(args, reaper.Command, "--name", name, "--deadline", (probeDeadline + launch.Backstop).String()))
}
