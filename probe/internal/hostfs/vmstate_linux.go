package hostfs

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"
)

// StatfsInRoot is statfs(2) of the directory at path inside pid's root,
// resolved like ReadInRoot (symlinks stay inside that root): the
// filesystem that holds path in pid's mount namespace. Nothing is read.
func (fs *FS) StatfsInRoot(pid int, path string) (Statfs, error) {
	var st Statfs
	root, clean, err := fs.inRoot(pid, path)
	if err != nil {
		return st, err
	}
	f, err := openInRoot(root, clean, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, !noOpenat2.Load())
	if err != nil {
		return st, fmt.Errorf("open %s in the root of pid %d: %w", clean, pid, err)
	}
	defer f.Close()
	var raw unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &raw); err != nil {
		return st, fmt.Errorf("statfs %s in the root of pid %d: %w", clean, pid, os.NewSyscallError("fstatfs", err))
	}
	bs := uint64(raw.Bsize)
	return Statfs{Total: raw.Blocks * bs, Free: raw.Bfree * bs, Avail: raw.Bavail * bs, Files: raw.Files, FilesFree: raw.Ffree}, nil
}

// ReadNetSysctls reads the NetSysctls of pid's network namespace: files
// under /proc/sys/net answer for the namespace of the thread that opens
// them, so they are opened on a goroutine locked to a thread that entered
// the namespace and is never unlocked (the runtime retires it, as in
// netif.Open). A file that does not exist (no IPv6) is left out of the
// map; the error is the first other failure.
func (fs *FS) ReadNetSysctls(pid int) (map[string]string, error) {
	read := func() (map[string]string, error) {
		out := map[string]string{}
		var firstErr error
		for _, name := range NetSysctls {
			b, err := os.ReadFile(filepath.Join(fs.root(), "sys", name))
			switch {
			case err == nil:
				out[name] = strings.TrimSpace(string(b))
			case os.IsNotExist(err):
			case firstErr == nil:
				firstErr = err
			}
		}
		return out, firstErr
	}
	if fs.SharesNamespace(pid, "net") {
		return read()
	}
	ns, err := fs.OpenNamespace(pid, "net")
	if err != nil {
		return nil, fmt.Errorf("open net namespace of pid %d: %w", pid, err)
	}
	defer ns.Close()
	type result struct {
		m   map[string]string
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked, see above
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- result{err: fmt.Errorf("enter net namespace of pid %d: %w", pid, os.NewSyscallError("setns", err))}
			return
		}
		m, err := read()
		done <- result{m, err}
	}()
	r := <-done
	return r.m, r.err
}
