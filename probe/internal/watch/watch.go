// Package watch serves the Watch gRPC service: one long-lived probe that
// streams changes in the target's namespaces as they happen (interfaces up
// or down, addresses and routes added or removed, mounts appearing or
// disappearing, dockerd restarting with other flags). Every source is
// event-driven (netlink multicast, poll(2) on mountinfo, a pidfd), so an idle
// watch costs no CPU. It reports changes only; the full picture is Collect's.
package watch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/dockprobe/dockprobe/probe/internal/containerd"
	"github.com/dockprobe/dockprobe/probe/internal/daemon"
	"github.com/dockprobe/dockprobe/probe/internal/hostfs"
	"github.com/dockprobe/dockprobe/probe/internal/procs"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// Event kinds and actions, as they appear in WatchEvent.
const (
	KindReady     = "ready"
	KindInterface = "interface"
	KindAddress   = "address"
	KindRoute     = "route"
	KindMount     = "mount"
	KindDaemon    = "daemon"
	KindError     = "error"

	ActionAdded     = "added"
	ActionRemoved   = "removed"
	ActionUp        = "up"
	ActionDown      = "down"
	ActionRenamed   = "renamed"
	ActionChanged   = "changed"
	ActionRestarted = "restarted"
	ActionStopped   = "stopped"
)

// Service implements probev1.WatchServer.
type Service struct {
	probev1.UnimplementedWatchServer
	// Proc is the procfs to read; empty means "/proc".
	Proc string
	Log  *slog.Logger
}

// New returns the Watch service reading the host's /proc (the probe runs
// with --pid=host).
func New(log *slog.Logger) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{Log: log}
}

// Watch streams events until the agent hangs up.
func (s *Service) Watch(req *probev1.WatchRequest, stream probev1.Watch_WatchServer) error {
	if req.GetTargetPid() < 0 {
		return status.Errorf(codes.InvalidArgument, "target pid %d is negative", req.GetTargetPid())
	}
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	events := make(chan *probev1.WatchEvent, 256)
	emit := func(e *probev1.WatchEvent) {
		if e.ObservedUnixNano == 0 {
			e.ObservedUnixNano = time.Now().UnixNano()
		}
		select {
		case events <- e:
		case <-ctx.Done():
		}
	}
	w := &watcher{fsys: hostfs.New(s.Proc), req: req, emit: emit, log: s.Log}
	go w.run(ctx)
	for {
		select {
		case <-ctx.Done():
			return nil
		case e := <-events:
			if err := stream.Send(e); err != nil {
				return err
			}
		}
	}
}

type watcher struct {
	fsys *hostfs.FS
	req  *probev1.WatchRequest
	emit func(*probev1.WatchEvent)
	log  *slog.Logger
}

// errorEvent reports a source that stopped; the others go on.
func errorEvent(what string, err error) *probev1.WatchEvent {
	return &probev1.WatchEvent{Kind: KindError, Message: fmt.Sprintf("%s: %v", what, err), Summary: fmt.Sprintf("%s stopped: %v", what, err)}
}

// choose picks the target as Collect does: the explicit pid, else the
// dockerd serving the engine (the hint), else the containerd that started
// the probe (an agent that came through nerdctl), else pid 1. It returns
// the daemon when the target is one.
func (w *watcher) choose() (int, *probev1.Daemon, error) {
	scanned, err := procs.Scan(w.fsys, procs.Interesting)
	if err != nil {
		return 0, nil, fmt.Errorf("scan processes: %w", err)
	}
	c := daemon.Choose(containerd.WithDaemons(w.fsys, daemon.Input{
		Daemons:     daemon.InspectAll(w.fsys, scanned),
		Hint:        w.req.GetHint(),
		TargetPID:   int(w.req.GetTargetPid()),
		ShimAddress: daemon.ParentShimAddress(w.fsys, os.Getpid(), scanned),
	}, os.Getpid(), scanned))
	d := c.Daemon
	if d != nil && int(d.GetPid()) != c.PID {
		d = nil
	}
	return c.PID, d, nil
}

// MountDiff compares two mount tables by mount id and returns the events
// that turn before into after, in after's order then before's.
func MountDiff(before, after []*probev1.Mount) []*probev1.WatchEvent {
	old := make(map[int32]*probev1.Mount, len(before))
	for _, m := range before {
		old[m.GetId()] = m
	}
	var out []*probev1.WatchEvent
	seen := make(map[int32]bool, len(after))
	for _, m := range after {
		seen[m.GetId()] = true
		prev, ok := old[m.GetId()]
		switch {
		case !ok:
			out = append(out, mountEvent(ActionAdded, m))
		case prev.GetOptions() != m.GetOptions() || prev.GetPropagation() != m.GetPropagation() || prev.GetMountPoint() != m.GetMountPoint():
			out = append(out, mountEvent(ActionChanged, m))
		}
	}
	for _, m := range before {
		if !seen[m.GetId()] {
			out = append(out, mountEvent(ActionRemoved, m))
		}
	}
	return out
}

func mountEvent(action string, m *probev1.Mount) *probev1.WatchEvent {
	return &probev1.WatchEvent{
		Kind:    KindMount,
		Action:  action,
		Mount:   m,
		Summary: fmt.Sprintf("mount %s (%s %s, id %d) %s", m.GetMountPoint(), m.GetFsType(), m.GetSource(), m.GetId(), action),
	}
}

// linkState is what a link event is compared against.
type linkState struct {
	name string
	up   bool // administratively up
	oper string
}

// linkChange says what happened to a link, given its previous state (known
// false when it was unknown) and its new one: up and down are the
// administrative state (ip link set up/down), changed an operational-state
// change alone (carrier). "" means nothing worth a line (statistics).
func linkChange(prev linkState, known bool, cur linkState, deleted bool) string {
	switch {
	case deleted:
		return ActionRemoved
	case !known:
		return ActionAdded
	case prev.name != cur.name:
		return ActionRenamed
	case !prev.up && cur.up:
		return ActionUp
	case prev.up && !cur.up:
		return ActionDown
	case prev.oper != cur.oper:
		return ActionChanged
	}
	return ""
}

var errTargetGone = errors.New("the target process exited")
