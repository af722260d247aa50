package netif

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/dockprobe/dockprobe/probe/internal/hostfs"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// Handle is an rtnetlink socket bound to a target's network namespace.
// Methods may be called from any goroutine: the namespace belongs to the
// socket, fixed when it was created, not to the calling thread.
type Handle struct {
	h *netlink.Handle

	mu    sync.Mutex
	names map[int]string
}

// socketTimeout bounds each netlink receive, so a wedged kernel answer
// cannot hold the probe past its deadline.
const socketTimeout = 5 * time.Second

// Open returns a Handle whose socket lives in pid's network namespace.
//
// netlink.NewHandle opens its sockets at once, in the calling thread's
// namespace (netlink's newHandle -> nl.GetNetlinkSocketAt with no target
// namespace is a plain socket(2) + bind(2)), and a socket keeps the
// namespace it was made in. So Open enters the namespace on a goroutine of
// its own, locked to its OS thread and never unlocked, creates the handle
// there and returns. When that goroutine exits, the Go runtime terminates a
// thread that is still locked instead of handing it, in the target's
// namespace, to other goroutines. netlink.NewHandleAt does a similar dance
// but switches back and unlocks, and ignores a failure to switch back,
// which could leave a pool thread in the wrong namespace.
//
// When the target shares the probe's own namespace no switch is needed,
// which also lets unprivileged tests run.
func Open(fsys *hostfs.FS, pid int) (*Handle, error) {
	if fsys.SharesNamespace(pid, "net") {
		return newHandle()
	}
	ns, err := fsys.OpenNamespace(pid, "net")
	if err != nil {
		return nil, fmt.Errorf("open net namespace of pid %d: %w", pid, err)
	}
	defer ns.Close()

	type result struct {
		h   *Handle
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- result{err: fmt.Errorf("panic entering net namespace of pid %d: %v", pid, r)}
			}
		}()
		runtime.LockOSThread() // never unlocked, see above
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- result{err: fmt.Errorf("enter net namespace of pid %d: %w", pid, os.NewSyscallError("setns", err))}
			return
		}
		h, err := newHandle()
		done <- result{h, err}
	}()
	r := <-done
	return r.h, r.err
}

func newHandle() (*Handle, error) {
	// Only NETLINK_ROUTE: the default families include XFRM and NETFILTER,
	// which the probe does not read and some kernels lack.
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("open netlink socket: %w", err)
	}
	if err := h.SetSocketTimeout(socketTimeout); err != nil {
		h.Close()
		return nil, fmt.Errorf("set netlink timeout: %w", err)
	}
	return &Handle{h: h}, nil
}

// Close releases the socket.
func (h *Handle) Close() {
	if h != nil && h.h != nil {
		h.h.Close()
	}
}

// Interfaces lists every link of the namespace with its addresses.
func (h *Handle) Interfaces() ([]*probev1.Interface, error) {
	links, err := h.links()
	if err != nil {
		return nil, err
	}
	var addrs []netlink.Addr
	err = retry(func() (err error) {
		addrs, err = h.h.AddrList(nil, netlink.FAMILY_ALL)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list addresses: %w", err)
	}
	return ConvertLinks(links, addrs), nil
}

// Routes lists the IPv4 and IPv6 routes of every table (main, local and
// any policy-routing table), skipping the kernel's cached clones.
func (h *Handle) Routes() ([]*probev1.Route, error) {
	names, err := h.linkNames()
	if err != nil {
		return nil, err
	}
	var out []*probev1.Route
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		var routes []netlink.Route
		err := retry(func() (err error) {
			routes, err = h.h.RouteListFiltered(fam, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
			return err
		})
		if err != nil {
			return out, fmt.Errorf("list routes: %w", err)
		}
		for _, r := range routes {
			out = append(out, ConvertRoute(r, names))
		}
	}
	return out, nil
}

func (h *Handle) links() ([]netlink.Link, error) {
	var links []netlink.Link
	err := retry(func() (err error) {
		links, err = h.h.LinkList()
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	h.mu.Lock()
	h.names = Names(links)
	h.mu.Unlock()
	return links, nil
}

func (h *Handle) linkNames() (map[int]string, error) {
	h.mu.Lock()
	names := h.names
	h.mu.Unlock()
	if names != nil {
		return names, nil
	}
	if _, err := h.links(); err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.names, nil
}

// retry repeats a netlink dump the kernel interrupted because the table
// changed under it (containers starting), a few times.
func retry(dump func() error) error {
	var err error
	for range 4 {
		if err = dump(); !errors.Is(err, netlink.ErrDumpInterrupted) {
			return err
		}
	}
	return err
}
