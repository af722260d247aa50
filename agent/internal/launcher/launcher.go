// Package launcher is the one abstraction every runtime implements to run
// the probe: start it, reach its gRPC service over its stdio, read the
// engine's facts, sweep what dead runs left and clean up on request. The
// Docker launcher lives in package launch, the nerdctl one in package
// nerdctl; a runtime that runs the probe on many nodes (Kubernetes) is one
// Launcher per node, fanned out by its caller.
//
// It also owns what all runtimes share: one probe run (Probe: facts,
// start, handshake and collect, merged into one report) and the shaping of
// an engine's answers into the report's probev1.Engine (Facts). It does
// not choose a runtime (the cli package does), render reports or know any
// engine's API.
package launcher

import (
	"context"
	"errors"
	"io"
	"time"

	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// Launcher starts probes on one engine (or one node) through one runtime.
// Its methods may be called concurrently.
type Launcher interface {
	// Runtime names the runtime ("docker", "nerdctl").
	Runtime() string
	// Facts asks the engine about itself. The Engine is never nil: a
	// failing query leaves its fields empty and adds a SectionError.
	Facts(ctx context.Context) (*probev1.Engine, []*probev1.SectionError)
	// Start starts one probe and connects to it over its stdio; no call
	// has been made yet, so that the caller can send its first calls
	// together. On error nothing is left behind (or its removal is
	// already handed to a watchdog). The caller ends a Session with
	// exactly one of Close (success) or Abort (failure).
	Start(ctx context.Context, o Options) (Session, error)
	// Ping reports whether the engine answers now (a watch waits with it
	// for a restarting engine).
	Ping(ctx context.Context) error
	// Sweep removes the probe containers that dead runs left behind
	// (past their deadline, or whose agent is gone) and never a live
	// run's. It returns the names it removed.
	Sweep(ctx context.Context, now time.Time) ([]string, error)
	// Cleanup removes every probe container of this runtime, live or
	// not (`agent cleanup`), and returns the names it removed; warn
	// hears of each one it could not remove. The error is the listing's.
	Cleanup(ctx context.Context, warn func(name string, err error)) ([]string, error)
	// ContainerNames maps the engine's running containers' ids to their
	// names (the report names veths after them); nil when unknown.
	ContainerNames(ctx context.Context) map[string]string
	// Answers are the engine's own answers about itself as it gave them,
	// for a support bundle.
	Answers(ctx context.Context) []Answer
	// Usage is what the engine says of its disk use and its containers
	// beyond Facts (the checks of docs/findings.md read it); nil when the
	// runtime cannot tell. It is asked beside the probe's run.
	Usage(ctx context.Context) *probev1.EngineUsage
	// Close releases the launcher. Runtimes that sweep in the agent's
	// process (nerdctl) sweep here, after the run and not beside it.
	Close() error
}

// Session is one started probe.
type Session interface {
	// Handshake checks that the probe speaks the agent's protocol.
	Handshake(ctx context.Context) (*probev1.HandshakeResponse, error)
	// Collect asks the probe for its report.
	Collect(ctx context.Context, req *probev1.CollectRequest) (*probev1.Report, error)
	// Watch opens the probe's stream of changes.
	Watch(ctx context.Context, req *probev1.WatchRequest) (probev1.Watch_WatchClient, error)
	// Close hangs up after a successful run: the probe exits on stdin
	// EOF and the runtime removes it.
	Close() error
	// Abort ends a failed or interrupted run and has the probe removed
	// now (or by the runtime's watchdog, without waiting for it).
	Abort()
}

// Options of one probe.
type Options struct {
	// Name is the probe container's name; empty lets the launcher choose.
	Name string
	// Version is the agent's version (image tag, labels, handshake).
	Version string
	// Privileged runs the probe with --privileged instead of its minimal
	// capabilities: an explicit fallback only.
	Privileged bool
	// Deadline is the probe's own hard deadline.
	Deadline time.Duration
	Debug    bool
	// Prefetch asks the probe to collect for TargetPID as soon as it
	// starts; runtimes whose probe cannot choose its target before the
	// first request ignore it.
	Prefetch  bool
	TargetPID int
	// ProbeLog receives the probe's stderr.
	ProbeLog io.Writer
	// Progress, when set, is told of each step.
	Progress func(step string)
	// Starting, when set, is called just before the probe is started:
	// engine queries the caller needs only after the handshake run then.
	Starting func()
	// OnImage, when set, is told the probe image chosen for the engine.
	OnImage func(ref string)
}

// Step tells o.Progress of a step; it is nil-safe.
func (o Options) Step(step string) {
	if o.Progress != nil {
		o.Progress(step)
	}
}

// Log is o.ProbeLog, or io.Discard.
func (o Options) Log() io.Writer {
	if o.ProbeLog == nil {
		return io.Discard
	}
	return o.ProbeLog
}

// ErrNotLinuxEngine is returned for an engine in Windows containers mode.
var ErrNotLinuxEngine = errors.New("the engine runs Windows containers")

// Answer is one of the engine's answers about itself, as it gave it.
type Answer struct {
	// Name is the bundle's file name without extension ("engine/version").
	Name string
	// Producer says where it came from ("engine API GET /version").
	Producer string
	// JSON is the answer; Err is set instead when the query failed.
	JSON []byte
	Err  error
}
