// Package watch runs one long-lived probe and prints the changes it streams
// (interfaces, addresses, routes, mounts, dockerd restarts) as text lines or
// JSON lines, through any runtime's launcher.Launcher. It owns the watch
// session's lifetime: the probe container is removed when the watch ends,
// however it ends (Ctrl-C, an error, or the agent's death, through the
// probe's exit on stdin EOF and its runtime's removal of it). It does not
// render reports; `agent probe` does that.
package watch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/dockprobe/dockprobe/agent/internal/kubelaunch"
	"github.com/dockprobe/dockprobe/agent/internal/launcher"
	"github.com/dockprobe/dockprobe/agent/internal/probeclient"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// Options of one watch.
type Options struct {
	Version    string
	Hint       *probev1.TargetHint
	TargetPID  int
	Privileged bool
	// Deadline is the probe's own hard deadline (the watch's longest run).
	Deadline time.Duration
	Debug    bool
	ProbeLog io.Writer
	// JSON prints one protojson WatchEvent per line instead of text.
	JSON bool
	Out  io.Writer
	// Progress, when set, is told of each launch step.
	Progress func(step string)
}

// ErrProbeGone means the stream ended while the agent still wanted events.
var ErrProbeGone = probeclient.ErrProbeGone

// EngineWait bounds how long a watch waits for an engine that went away
// (dockerd restarting) before giving up.
var EngineWait = 2 * time.Minute

// Run launches the probe, starts the watch and prints events until ctx ends
// (nil) or the probe goes away for good (an error).
//
// A dockerd restart ends the probe too: its attach stream is dockerd's,
// and without live-restore dockerd stops every container when it stops.
// So when the stream breaks, Run prints that the engine went away, waits
// for it to answer again, launches a new probe and prints the restart with
// what changed on dockerd's command line.
func Run(ctx context.Context, l launcher.Launcher, o Options) error {
	var last *probev1.Daemon
	var lost time.Time // when the last ready probe was lost; zero before
	for {
		var ready *probev1.WatchEvent
		onReady := func(e *probev1.WatchEvent) *probev1.WatchEvent {
			ready = e
			if last == nil || e.GetDaemon() == nil {
				return e
			}
			return Restarted(last, e)
		}
		err := session(ctx, l, o, onReady)
		if ctx.Err() != nil {
			return nil
		}
		switch {
		case ready != nil && errors.Is(err, ErrProbeGone):
			// A probe that was watching is gone: dockerd restarting (it
			// stops every container) or the probe's own deadline.
			if d := ready.GetDaemon(); d != nil {
				last = d
			}
			lost = time.Now()
			e := &probev1.WatchEvent{Kind: KindError, ObservedUnixNano: lost.UnixNano(), Daemon: last, Message: err.Error(),
				Summary: lostSummary(l.Runtime(), last)}
			if err := Print(o.Out, e, o.JSON); err != nil {
				return err
			}
		case ready == nil && !lost.IsZero() && time.Since(lost) < EngineWait:
			// Reconnecting: the engine answered but could not run the
			// probe yet (still stopping, or starting). Try again shortly.
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(500 * time.Millisecond):
			}
		default:
			return err
		}
		// The launcher removes what it could not while the engine was
		// away once it answers again.
		if err := waitEngine(ctx, l); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}

// lostSummary says what may have taken the probe away, in the runtime's
// terms: a Kubernetes probe is a pod, which outlives its node's runtime
// restarting but not its deletion or its node's going away.
func lostSummary(runtime string, last *probev1.Daemon) string {
	if runtime == kubelaunch.Runtime {
		return "lost the probe pod (deleted, evicted, or its node going away?); starting another when the API server answers"
	}
	return fmt.Sprintf("lost the probe (%s pid %d restarting?); reconnecting when the engine answers", daemonName(last), last.GetPid())
}

// daemonName is the engine daemon's program name (dockerd, containerd),
// "dockerd" when the probe did not say.
func daemonName(d *probev1.Daemon) string {
	if exe := d.GetExecutable(); exe != "" {
		return path.Base(exe)
	}
	return "dockerd"
}

// Event kinds and actions the agent itself prints (the probe's are in
// probe/internal/watch; the strings are the same).
const (
	KindReady       = "ready"
	KindDaemon      = "daemon"
	KindError       = "error"
	ActionStopped   = "stopped"
	ActionRestarted = "restarted"
)

// Restarted turns the ready event of a new probe into a daemon restart
// event when dockerd is another process than before.
func Restarted(before *probev1.Daemon, ready *probev1.WatchEvent) *probev1.WatchEvent {
	after := ready.GetDaemon()
	if after.GetPid() == before.GetPid() {
		return ready
	}
	added, removed := probev1.ArgsDiff(before.GetArgv(), after.GetArgv())
	summary := fmt.Sprintf("%s restarted: pid %d -> %d", daemonName(after), before.GetPid(), after.GetPid())
	if len(added)+len(removed) == 0 {
		summary += ", same arguments"
	} else {
		summary += fmt.Sprintf(", arguments added %q, removed %q", added, removed)
	}
	return &probev1.WatchEvent{Kind: KindDaemon, Action: ActionRestarted, ObservedUnixNano: ready.GetObservedUnixNano(),
		TargetPid: ready.GetTargetPid(), ProbePid: ready.GetProbePid(), Daemon: after, ArgsAdded: added, ArgsRemoved: removed, Summary: summary}
}

// waitEngine pings the engine until it answers, ctx ends or EngineWait
// passes. A restarting dockerd takes about a second; a ping every quarter
// second adds little to that and costs nothing.
func waitEngine(ctx context.Context, l launcher.Launcher) error {
	ctx, cancel := context.WithTimeout(ctx, EngineWait)
	defer cancel()
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("watch: the engine did not come back within %s: %w", EngineWait, ctx.Err())
		case <-t.C:
		}
		pctx, pcancel := context.WithTimeout(ctx, time.Second)
		err := l.Ping(pctx)
		pcancel()
		if err == nil {
			return nil
		}
	}
}

// session runs one probe: start, handshake, watch, print. The container is
// gone or going when it returns.
func session(ctx context.Context, l launcher.Launcher, o Options, onReady func(*probev1.WatchEvent) *probev1.WatchEvent) error {
	progress := o.Progress
	if progress == nil {
		progress = func(string) {}
	}
	s, err := l.Start(ctx, launcher.Options{
		Version: o.Version, Privileged: o.Privileged, Deadline: o.Deadline, Debug: o.Debug,
		ProbeLog: o.ProbeLog, Progress: progress,
	})
	if err != nil {
		return err
	}
	// The probe exits on stdin EOF and its runtime removes it; removing
	// it here as well covers a probe that no longer reads its stdin.
	defer s.Abort()
	if _, err := s.Handshake(ctx); err != nil {
		return err
	}

	progress("watch")
	stream, err := s.Watch(ctx, &probev1.WatchRequest{TargetPid: int32(o.TargetPID), Hint: o.Hint})
	if err != nil {
		return fmt.Errorf("watch: %w", fromStatus(ctx, err))
	}
	for {
		e, err := stream.Recv()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, io.EOF) {
				return fmt.Errorf("watch: %w: the probe ended the stream", ErrProbeGone)
			}
			return fmt.Errorf("watch: %w", fromStatus(ctx, err))
		}
		if e.GetKind() == KindReady {
			e = onReady(e)
		}
		if err := Print(o.Out, e, o.JSON); err != nil {
			return err
		}
	}
}

// Print writes one event: a protojson object on one line, or a text line
// "15:04:05.000 kind action summary".
func Print(w io.Writer, e *probev1.WatchEvent, asJSON bool) error {
	var line []byte
	if asJSON {
		b, err := protojson.MarshalOptions{UseProtoNames: false}.Marshal(e)
		if err != nil {
			return fmt.Errorf("encode event: %w", err)
		}
		// protojson may add spaces but never newlines in compact mode.
		line = append(b, '\n')
	} else {
		line = []byte(Text(e) + "\n")
	}
	if _, err := w.Write(line); err != nil {
		return fmt.Errorf("write event: %w", err)
	}
	return nil
}

// Text is an event's text line.
func Text(e *probev1.WatchEvent) string {
	t := time.Unix(0, e.GetObservedUnixNano()).Local().Format("15:04:05.000")
	kind := e.GetKind()
	if a := e.GetAction(); a != "" {
		kind += " " + a
	}
	summary := strings.ReplaceAll(e.GetSummary(), "\n", " ")
	return fmt.Sprintf("%s %-18s %s", t, kind, summary)
}

// fromStatus turns the stream's gRPC status into the agent's errors.
func fromStatus(ctx context.Context, err error) error {
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	switch st.Code() {
	case codes.Unavailable, codes.Canceled, codes.Aborted:
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%w: %s", ErrProbeGone, st.Message())
	case codes.DeadlineExceeded:
		return fmt.Errorf("%w: %s", probeclient.ErrTimeout, st.Message())
	case codes.InvalidArgument:
		return fmt.Errorf("%w: %s", probeclient.ErrRefused, st.Message())
	case codes.Unimplemented:
		return fmt.Errorf("%w: the probe image has no watch service (%s); run `agent cleanup` and retry", probeclient.ErrProtocolMismatch, st.Message())
	}
	return fmt.Errorf("probe error (%s): %s", st.Code(), st.Message())
}
