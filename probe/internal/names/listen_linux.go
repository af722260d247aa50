package names

import (
	"fmt"
	"net"
	"os"
	"runtime"

	"golang.org/x/sys/unix"

	"github.com/dockprobe/dockprobe/probe/internal/hostfs"
)

// Listen opens a UDP socket in pid's network namespace. As in netif.Open,
// the namespace is entered on a goroutine locked to its thread and never
// unlocked, so the runtime retires that thread instead of reusing it; the
// socket keeps the namespace it was created in.
func Listen(fsys *hostfs.FS, pid int) (net.PacketConn, error) {
	if fsys.SharesNamespace(pid, "net") {
		return net.ListenPacket("udp4", "0.0.0.0:0")
	}
	ns, err := fsys.OpenNamespace(pid, "net")
	if err != nil {
		return nil, fmt.Errorf("open net namespace of pid %d: %w", pid, err)
	}
	defer ns.Close()
	type result struct {
		c   net.PacketConn
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked, see above
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- result{err: fmt.Errorf("enter net namespace of pid %d: %w", pid, os.NewSyscallError("setns", err))}
			return
		}
		c, err := net.ListenPacket("udp4", "0.0.0.0:0")
		done <- result{c, err}
	}()
	r := <-done
	return r.c, r.err
}
