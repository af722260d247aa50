package watch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/dockprobe/dockprobe/probe/internal/mounts"
	"github.com/dockprobe/dockprobe/probe/internal/netif"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// rescanEvery is how often the /proc is scanned for a new dockerd, only
// while none runs (after the watched one exited). Linux has no event for
// "a process named dockerd appeared" that the probe can use: the proc
// connector lives in the initial network namespace and the probe runs with
// --network none. A restart takes dockerd far longer than this to come up,
// so the poll adds no noticeable latency, and it stops once dockerd is back.
const rescanEvery = 100 * time.Millisecond

// run watches the chosen target until ctx ends, following dockerd across
// restarts.
func (w *watcher) run(ctx context.Context) {
	pid, d, err := w.choose()
	if err != nil {
		w.emit(errorEvent("choose target", err))
		return
	}
	first := true
	for {
		sctx, cancel := context.WithCancel(ctx)
		w.start(sctx, pid)
		if first {
			w.emit(&probev1.WatchEvent{Kind: KindReady, TargetPid: int32(pid), Daemon: d, ProbePid: int32(os.Getpid()),
				Summary: fmt.Sprintf("watching pid %d (%s)", pid, describe(d))})
			first = false
		}
		err := waitExit(sctx, pid)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			w.emit(errorEvent(fmt.Sprintf("waiting for pid %d", pid), err))
			return
		}
		if d == nil || w.req.GetTargetPid() != 0 {
			w.emit(&probev1.WatchEvent{Kind: KindError, TargetPid: int32(pid), Message: errTargetGone.Error(),
				Summary: fmt.Sprintf("target pid %d exited; nothing left to watch", pid)})
			return
		}
		w.emit(&probev1.WatchEvent{Kind: KindDaemon, Action: ActionStopped, TargetPid: int32(pid), Daemon: d,
			Summary: fmt.Sprintf("dockerd pid %d stopped", pid)})
		npid, nd := w.waitDaemon(ctx, pid)
		if nd == nil {
			return
		}
		added, removed := probev1.ArgsDiff(d.GetArgv(), nd.GetArgv())
		summary := fmt.Sprintf("dockerd restarted: pid %d -> %d", pid, npid)
		if len(added)+len(removed) == 0 {
			summary += ", same arguments"
		} else {
			summary += fmt.Sprintf(", arguments added %q, removed %q", added, removed)
		}
		w.emit(&probev1.WatchEvent{Kind: KindDaemon, Action: ActionRestarted, TargetPid: int32(npid), Daemon: nd,
			ArgsAdded: added, ArgsRemoved: removed, Summary: summary})
		pid, d = npid, nd
	}
}

func describe(d *probev1.Daemon) string {
	if d == nil {
		return "not a dockerd"
	}
	return "dockerd " + d.GetExecutable()
}

// waitDaemon scans for a dockerd other than old until one appears or ctx ends.
func (w *watcher) waitDaemon(ctx context.Context, old int) (int, *probev1.Daemon) {
	t := time.NewTicker(rescanEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return 0, nil
		case <-t.C:
		}
		pid, d, err := w.choose()
		if err == nil && d != nil && pid != old {
			return pid, d
		}
	}
}

// start subscribes to pid's network and mount changes; it returns once the
// subscriptions are in place, so that a change made after it is reported.
func (w *watcher) start(ctx context.Context, pid int) {
	if err := w.startNet(ctx, pid); err != nil {
		w.emit(errorEvent("network watch", err))
	}
	if err := w.startMounts(ctx, pid); err != nil {
		w.emit(errorEvent("mount watch", err))
	}
}

// waitExit returns when pid exits (nil) or ctx ends. A pidfd makes this an
// event; a kernel or seccomp profile without pidfd_open falls back to a
// once-a-second check of /proc/<pid>.
func waitExit(ctx context.Context, pid int) error {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			return nil
		}
		return slowWaitExit(ctx, pid)
	}
	defer unix.Close(fd)
	return pollUntil(ctx, fd, unix.POLLIN)
}

func slowWaitExit(ctx context.Context, pid int) error {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if _, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid))); errors.Is(err, os.ErrNotExist) {
				return nil
			}
		}
	}
}

// pollUntil blocks in poll(2) until fd reports one of events or ctx ends
// (an eventfd wakes the poll then). It returns nil in both cases.
func pollUntil(ctx context.Context, fd int, events int16) error {
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return os.NewSyscallError("eventfd", err)
	}
	defer unix.Close(wake)
	stop := context.AfterFunc(ctx, func() { unix.Write(wake, []byte{1, 0, 0, 0, 0, 0, 0, 0}) })
	defer stop()
	fds := []unix.PollFd{{Fd: int32(fd), Events: events}, {Fd: int32(wake), Events: unix.POLLIN}}
	for {
		_, err := unix.Poll(fds, -1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return os.NewSyscallError("poll", err)
		}
		if fds[1].Revents != 0 || fds[0].Revents != 0 {
			return nil
		}
	}
}

// startMounts reads pid's mount table and reports its changes: the kernel
// marks /proc/<pid>/mountinfo with POLLPRI|POLLERR whenever the mount
// namespace changes, so the table is re-read only then.
func (w *watcher) startMounts(ctx context.Context, pid int) error {
	path := filepath.Join(w.fsys.Proc, strconv.Itoa(pid), "mountinfo")
	if w.fsys.Proc == "" {
		path = filepath.Join("/proc", strconv.Itoa(pid), "mountinfo")
	}
	// A raw descriptor, not os.Open: the runtime would register a pollable
	// file with its epoll, and epoll's own readiness checks call the
	// kernel's mounts_poll, which consumes the change before our poll(2).
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open mountinfo of pid %d: %w", pid, os.NewSyscallError("open", err))
	}
	before, err := mounts.Read(w.fsys, pid)
	if err != nil {
		unix.Close(fd)
		return err
	}
	go func() {
		defer unix.Close(fd)
		for {
			if err := pollUntil(ctx, fd, unix.POLLPRI); err != nil {
				w.emit(errorEvent("mount watch", err))
				return
			}
			if ctx.Err() != nil {
				return
			}
			after, err := mounts.Read(w.fsys, pid)
			if err != nil {
				// The target exited: waitExit ends this round.
				return
			}
			now := time.Now().UnixNano()
			for _, e := range MountDiff(before, after) {
				e.TargetPid, e.ObservedUnixNano = int32(pid), now
				w.emit(e)
			}
			before = after
		}
	}()
	return nil
}

// startNet subscribes to link, address and route changes in pid's network
// namespace. The sockets are created on a thread that enters the namespace
// and is never unlocked (the runtime discards it when the goroutine ends):
// a socket keeps the namespace it was made in, and no pool thread is ever
// left in the target's namespace (see netif.Open).
func (w *watcher) startNet(ctx context.Context, pid int) error {
	links := make(chan netlink.LinkUpdate, 256)
	addrs := make(chan netlink.AddrUpdate, 256)
	routes := make(chan netlink.RouteUpdate, 256)
	var cbErr = make(chan error, 3)
	onErr := func(err error) {
		if errors.Is(err, netlink.ErrDumpInterrupted) {
			return
		}
		select {
		case cbErr <- err:
		default:
		}
	}
	type result struct {
		state map[int]linkState
		err   error
	}
	done := make(chan result, 1)
	shares := w.fsys.SharesNamespace(pid, "net")
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- result{err: fmt.Errorf("panic subscribing in net namespace of pid %d: %v", pid, r)}
			}
		}()
		if !shares {
			ns, err := w.fsys.OpenNamespace(pid, "net")
			if err != nil {
				done <- result{err: fmt.Errorf("open net namespace of pid %d: %w", pid, err)}
				return
			}
			defer ns.Close()
			runtime.LockOSThread() // never unlocked, see above
			if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
				done <- result{err: fmt.Errorf("enter net namespace of pid %d: %w", pid, os.NewSyscallError("setns", err))}
				return
			}
		}
		d := ctx.Done()
		if err := netlink.LinkSubscribeWithOptions(links, d, netlink.LinkSubscribeOptions{ErrorCallback: onErr}); err != nil {
			done <- result{err: fmt.Errorf("subscribe to links: %w", err)}
			return
		}
		if err := netlink.AddrSubscribeWithOptions(addrs, d, netlink.AddrSubscribeOptions{ErrorCallback: onErr}); err != nil {
			done <- result{err: fmt.Errorf("subscribe to addresses: %w", err)}
			return
		}
		if err := netlink.RouteSubscribeWithOptions(routes, d, netlink.RouteSubscribeOptions{ErrorCallback: onErr}); err != nil {
			done <- result{err: fmt.Errorf("subscribe to routes: %w", err)}
			return
		}
		// The baseline, read after subscribing so that no change is lost
		// between the two.
		h, err := netlink.NewHandle()
		if err != nil {
			done <- result{err: fmt.Errorf("netlink handle: %w", err)}
			return
		}
		defer h.Close()
		list, err := h.LinkList()
		if err != nil {
			done <- result{err: fmt.Errorf("list links: %w", err)}
			return
		}
		state := make(map[int]linkState, len(list))
		for _, l := range list {
			state[l.Attrs().Index] = stateOf(l)
		}
		done <- result{state: state}
	}()
	r := <-done
	if r.err != nil {
		return r.err
	}
	go w.netLoop(ctx, pid, r.state, links, addrs, routes, cbErr)
	return nil
}

func stateOf(l netlink.Link) linkState {
	a := l.Attrs()
	return linkState{name: a.Name, up: a.Flags&1 != 0, oper: netif.OperState(a.OperState)}
}

func (w *watcher) netLoop(ctx context.Context, pid int, state map[int]linkState, links chan netlink.LinkUpdate, addrs chan netlink.AddrUpdate, routes chan netlink.RouteUpdate, cbErr chan error) {
	// names outlives state: the kernel reports an address's removal after
	// its link's, and the line should still name the link.
	names := make(map[int]string, len(state))
	for i, s := range state {
		names[i] = s.name
	}
	for {
		select {
		case <-ctx.Done():
			return
		case err := <-cbErr:
			if ctx.Err() == nil {
				w.emit(errorEvent("network watch", err))
			}
			return
		case u, ok := <-links:
			if !ok {
				return
			}
			a := u.Link.Attrs()
			prev, known := state[a.Index]
			cur := stateOf(u.Link)
			deleted := u.Header.Type == unix.RTM_DELLINK
			action := linkChange(prev, known, cur, deleted)
			names[a.Index] = a.Name
			if deleted {
				delete(state, a.Index)
			} else {
				state[a.Index] = cur
			}
			if action == "" {
				continue
			}
			ifc := netif.ConvertLink(u.Link, nil, names)
			summary := fmt.Sprintf("interface %s %s (state %s)", a.Name, action, cur.oper)
			switch action {
			case ActionRenamed:
				summary = fmt.Sprintf("interface %s renamed to %s", prev.name, a.Name)
			case ActionChanged:
				summary = fmt.Sprintf("interface %s state %s -> %s", a.Name, prev.oper, cur.oper)
			}
			w.emit(&probev1.WatchEvent{Kind: KindInterface, Action: action, TargetPid: int32(pid), Interface: ifc, Summary: summary})
		case u, ok := <-addrs:
			if !ok {
				return
			}
			addr := netif.ConvertAddr(netlink.Addr{IPNet: &u.LinkAddress, Flags: u.Flags, Scope: u.Scope, ValidLft: u.ValidLft, PreferedLft: u.PreferedLft})
			action := ActionAdded
			if !u.NewAddr {
				action = ActionRemoved
			}
			dev := names[u.LinkIndex]
			w.emit(&probev1.WatchEvent{Kind: KindAddress, Action: action, TargetPid: int32(pid), Address: addr, Device: dev,
				Summary: fmt.Sprintf("address %s on %s %s", addr.GetCidr(), dev, action)})
		case u, ok := <-routes:
			if !ok {
				return
			}
			// The local table mirrors every address; the address event
			// already says it.
			if u.Table == unix.RT_TABLE_LOCAL {
				continue
			}
			action := ActionAdded
			if u.Type == unix.RTM_DELROUTE {
				action = ActionRemoved
			}
			r := netif.ConvertRoute(u.Route, names)
			w.emit(&probev1.WatchEvent{Kind: KindRoute, Action: action, TargetPid: int32(pid), Route: r,
				Summary: fmt.Sprintf("route %s %s", routeText(r), action)})
		}
	}
}

func routeText(r *probev1.Route) string {
	s := r.GetDestination()
	if r.GetGateway() != "" {
		s += " via " + r.GetGateway()
	}
	if r.GetDevice() != "" {
		s += " dev " + r.GetDevice()
	}
	if r.GetTable() != 0 && r.GetTable() != unix.RT_TABLE_MAIN {
		s += " table " + strconv.Itoa(int(r.GetTable()))
	}
	return s
}
