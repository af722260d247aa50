package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/dockprobe/dockprobe/agent/internal/launcher"
	"github.com/dockprobe/dockprobe/agent/internal/probeclient"
	"github.com/dockprobe/dockprobe/internal/version"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// ErrTargetGone is returned when the process the probe looked at vanished
// before or during collection: the report is partial.
var ErrTargetGone = errors.New("the target process exited during collection")

// gather runs the probe through l and returns the report, merged with the
// engine's facts (launcher.Probe). The path to the report is kept as short
// as the runtime allows: Docker's launcher creates the container before
// the image and architecture checks answer, the probe collects while it is
// being started and greeted (Prefetch), the facts are read during the
// start, Handshake and Collect are sent together, and the caller may hang
// up only after it has rendered (keepOpen, then o.hangUp).
func gather(ctx context.Context, l launcher.Launcher, g *globalOptions, o *probeOptions, stderr io.Writer) (*probev1.Report, error) {
	progress, probeLog := steps(g, o, stderr)
	tool := &probev1.Tool{AgentVersion: version.Version, ProtocolVersion: probev1.ProtocolVersion}
	res, err := launcher.Probe(ctx, l, launcher.ProbeOptions{
		Options: launcher.Options{
			Version:    version.Version,
			Privileged: o.privileged,
			Deadline:   probeDeadline(o.timeout),
			Debug:      g.debug,
			ProbeLog:   probeLog,
			Progress:   progress,
			Prefetch:   true,
			TargetPID:  o.targetPID,
		},
		Tool:     tool,
		KeepOpen: o.keepOpen,
	})
	o.hangUp = res.HangUp
	rep := res.Report
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		if g.debug {
			fmt.Fprintln(stderr, "agent: at the deadline:", err)
		}
		err = fmt.Errorf("%w: no report within --timeout %s (the probe may be frozen or the engine overloaded; retry with a longer --timeout)", probeclient.ErrTimeout, o.timeout)
		if n := len(rep.Errors); n > 0 && rep.Errors[n-1].GetSection() == "probe" {
			rep.Errors[n-1].Message = err.Error()
		}
	}
	if g.debug {
		fmt.Fprintf(stderr, "agent: engine facts took %s (in parallel with the probe)\n", res.FactsTook.Round(10*time.Microsecond))
	}
	if err != nil {
		return rep, err
	}
	if gone := targetGone(rep); gone != nil {
		return rep, gone
	}
	return rep, nil
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
