package sysinfo

import (
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"

	"github.com/dockprobe/dockprobe/probe/internal/hostfs"
)

// UTS runs uname(2) inside pid's UTS namespace, so the host name is the
// target's (the VM's), not the probe container's. The kernel release is the
// same everywhere but comes along.
//
// setns(2) happens on a goroutine locked to its OS thread and never
// unlocked: when the goroutine ends, the runtime terminates the thread
// rather than reuse it in the target's namespace.
func UTS(fsys *hostfs.FS, pid int) (UTSInfo, error) {
	if fsys.SharesNamespace(pid, "uts") {
		return uname()
	}
	ns, err := fsys.OpenNamespace(pid, "uts")
	if err != nil {
		return UTSInfo{}, fmt.Errorf("open uts namespace of pid %d: %w", pid, err)
	}
	defer ns.Close()
	type result struct {
		u   UTSInfo
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- result{err: fmt.Errorf("panic in uts namespace of pid %d: %v", pid, r)}
			}
		}()
		runtime.LockOSThread() // never unlocked, see above
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWUTS); err != nil {
			done <- result{err: fmt.Errorf("enter uts namespace of pid %d: %w", pid, os.NewSyscallError("setns", err))}
			return
		}
		u, err := uname()
		done <- result{u, err}
	}()
	r := <-done
	return r.u, r.err
}

func uname() (UTSInfo, error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return UTSInfo{}, os.NewSyscallError("uname", err)
	}
	return UTSInfo{Hostname: unix.ByteSliceToString(u.Nodename[:]), Release: unix.ByteSliceToString(u.Release[:])}, nil
}
