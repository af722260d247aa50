// Package cli turns the probe's command line into a running gRPC server on
// stdin/stdout. It owns the probe's process-level guarantees: stdout carries
// only gRPC, logs go to stderr, and the process ends by itself at a hard
// deadline even when nobody hangs up.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/dockprobe/dockprobe/internal/version"
	"github.com/dockprobe/dockprobe/probe/internal/collect"
	"github.com/dockprobe/dockprobe/probe/internal/server"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// Exit codes of the probe process.
const (
	ExitOK       = 0
	ExitUsage    = 2
	ExitFailed   = 1
	ExitDeadline = 3
)

// ErrUsage marks a bad command line.
var ErrUsage = errors.New("usage")

type options struct {
	deadline  time.Duration
	targetPID int
	proc      string
	debug     bool
	version   bool
	prefetch  bool
	wait      bool
	notify    bool
	claim     time.Duration
}

func parse(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("probe", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&o.deadline, "deadline", 2*time.Minute, "exit at this deadline even if the agent never hangs up")
	fs.IntVar(&o.targetPID, "target-pid", 0, "collect from this pid instead of choosing the dockerd that serves the engine")
	fs.StringVar(&o.proc, "proc", "/proc", "the proc filesystem to read (for tests)")
	fs.BoolVar(&o.debug, "debug", false, "log debug detail to stderr")
	fs.BoolVar(&o.version, "version", false, "print the version to stderr and exit")
	fs.BoolVar(&o.prefetch, "prefetch", false, "start collecting at once, for an agent that comes through the Docker API, so that the first Collect finds the report ready")
	fs.BoolVar(&o.wait, "wait", false, "wait quietly until the deadline, SIGTERM, stdin EOF or the end of the servers exec'd beside it (the main process of a Kubernetes probe pod; prints nothing)")
	fs.DurationVar(&o.claim, "claim-within", 0, "with --wait, also end when no server has announced itself this long after the start (the agent died before its exec); 0: only the deadline")
	fs.BoolVar(&o.notify, "notify-wait", false, "announce this server to the pod's waiting main process (--wait), so that the pod ends with it")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: probe [flags]\n\nServes the dockprobe gRPC service on stdin/stdout; started by `agent probe`, not by people.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, fmt.Errorf("%w: %w", ErrUsage, err)
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("%w: unexpected argument %q", ErrUsage, fs.Arg(0))
	}
	if o.deadline <= 0 {
		return o, fmt.Errorf("%w: --deadline must be positive, got %s", ErrUsage, o.deadline)
	}
	if o.targetPID < 0 {
		return o, fmt.Errorf("%w: --target-pid must be positive, got %d", ErrUsage, o.targetPID)
	}
	if o.claim < 0 {
		return o, fmt.Errorf("%w: --claim-within must not be negative, got %s", ErrUsage, o.claim)
	}
	return o, nil
}

// Run parses args and serves until the agent hangs up or the deadline passes.
// stdin and stdout are the gRPC stream; stderr gets logs.
func Run(ctx context.Context, args []string, stdin io.ReadCloser, stdout io.WriteCloser, stderr io.Writer) error {
	o, err := parse(args, stderr)
	if err != nil {
		return err
	}
	if o.version {
		fmt.Fprintf(stderr, "probe %s (protocol %d)\n", version.Version, probev1.ProtocolVersion)
		return nil
	}
	if o.wait {
		return waitMode(ctx, o.deadline, o.claim, stdin, WaitSocket)
	}
	level := slog.LevelInfo
	if o.debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	if o.notify {
		if c, err := notifyWait(WaitSocket); err != nil {
			log.Debug("no waiting main process to notify", "err", err)
		} else {
			defer c.Close()
		}
	}

	ctx, cancel := context.WithTimeoutCause(ctx, o.deadline, ErrDeadline)
	defer cancel()
	// The backstop: whatever else hangs, the process ends shortly after
	// its deadline, so a probe is never left running.
	backstop := time.AfterFunc(o.deadline+5*time.Second, func() {
		fmt.Fprintln(stderr, "probe: hard deadline passed, exiting")
		os.Exit(ExitDeadline)
	})
	defer backstop.Stop()

	// The container's start and the handshake take longer than the
	// collection: with --prefetch the first report is collected
	// meanwhile, and the first Collect takes it when its hint chooses
	// the same target.
	var pre *collect.Prefetched
	if o.prefetch {
		pre = collect.Prefetch(ctx, collect.Options{Proc: o.proc, TargetPID: int32(o.targetPID), DockerAPI: true})
	}
	collector := func(ctx context.Context, req *probev1.CollectRequest) *probev1.Report {
		pid := req.GetTargetPid()
		if pid == 0 {
			pid = int32(o.targetPID)
		}
		opts := collect.Options{
			Proc:      o.proc,
			Hint:      req.GetHint(),
			TargetPID: pid,
		}
		asked := time.Now()
		if rep, ok := pre.Take(ctx, opts); ok {
			took, waited := pre.Timing(asked)
			log.Debug("collect: the prefetched report fits the request", "took", took, "waited", waited)
			return rep
		} else if pre != nil {
			log.Debug("collect: collecting afresh (the prefetch was used, or chose another target)")
		}
		return collect.Collect(ctx, opts)
	}
	served := make(chan error, 1)
	go func() {
		served <- server.Serve(ctx, server.Options{
			In:           stdin,
			Out:          stdout,
			Collect:      collector,
			Version:      version.Version,
			Log:          log,
			DrainTimeout: drainTimeout,
		})
	}()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	// At the deadline Serve drains for drainTimeout, but a read blocked on
	// an inherited stdin pipe cannot be interrupted and may keep gRPC's
	// shutdown waiting: exit regardless once the drain is over (main
	// exits the process, whatever goroutine is still blocked).
	select {
	case err := <-served:
		return err
	case <-time.After(drainTimeout + time.Second):
		return context.Cause(ctx)
	}
}

// drainTimeout bounds how long in-flight calls may finish after a hang-up
// or the deadline.
const drainTimeout = 2 * time.Second

// ErrDeadline is returned when the probe's hard deadline ends it.
var ErrDeadline = errors.New("hard deadline reached")

// ExitCode maps Run's error to the process exit code.
func ExitCode(err error) int {
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, ErrUsage):
		return ExitUsage
	case errors.Is(err, ErrDeadline):
		return ExitDeadline
	}
	return ExitFailed
}
