package hostfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"
)

// noOpenat2 is set once openat2 has failed with ENOSYS or EPERM (kernels
// before 5.6, or a seccomp profile that predates the syscall), so later reads
// go straight to the fallback.
var noOpenat2 atomic.Bool

// ReadInRoot reads the regular file at path inside pid's root directory
// (/proc/<pid>/root), at most max bytes. path is taken as absolute inside that
// root and symlinks on the way resolve inside it too, so a hostile
// "/etc/os-release -> /../../etc/shadow" stays inside the target's tree.
func (fs *FS) ReadInRoot(pid int, path string, max int64) ([]byte, error) {
	root, clean, err := fs.inRoot(pid, path)
	if err != nil {
		return nil, err
	}
	f, err := openInRoot(root, clean, openFlags, !noOpenat2.Load())
	if err != nil {
		return nil, fmt.Errorf("open %s in the root of pid %d: %w", clean, pid, err)
	}
	defer f.Close()
	b, err := readRegular(f, max)
	if err != nil {
		return nil, fmt.Errorf("read %s in the root of pid %d: %w", clean, pid, err)
	}
	return b, nil
}

// openInRoot opens path inside root with flags, never leaving root: with
// openat2 when the kernel has it, else with a userspace secure join.
func openInRoot(root, path string, flags int, tryOpenat2 bool) (*os.File, error) {
	if tryOpenat2 {
		f, err := openat2InRoot(root, path, flags)
		if !errors.Is(err, unix.ENOSYS) && !errors.Is(err, unix.EPERM) {
			return f, err
		}
		noOpenat2.Store(true)
	}
	return secureJoinOpen(root, path, flags)
}

// openFlags never block (a FIFO planted at the path would hang an O_RDONLY
// open) and never acquire a controlling terminal.
const openFlags = unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NONBLOCK | unix.O_NOCTTY

// openat2InRoot lets the kernel resolve path with the root's directory as
// "/": RESOLVE_IN_ROOT clamps ".." and absolute symlinks to it and
// RESOLVE_NO_MAGICLINKS refuses /proc-style links that would jump out.
func openat2InRoot(root, path string, flags int) (*os.File, error) {
	dirfd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: root, Err: err}
	}
	defer unix.Close(dirfd)
	how := &unix.OpenHow{
		Flags:   uint64(flags),
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	for attempt := 0; ; attempt++ {
		fd, err := unix.Openat2(dirfd, path, how)
		// EAGAIN means a concurrent rename or mount raced the lookup;
		// the kernel asks us to retry.
		if err == unix.EINTR || (err == unix.EAGAIN && attempt < 16) {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "openat2", Path: path, Err: err}
		}
		return os.NewFile(uintptr(fd), filepath.Join(root, path)), nil
	}
}

// secureJoinOpen is the fallback for kernels without openat2: resolve the
// path in userspace, then refuse a final symlink that appeared since.
// Unlike openat2 it cannot stop an intermediate directory being swapped for a
// symlink between the two steps; the targets we read (os-release,
// daemon.json) are not written by an attacker racing the probe.
func secureJoinOpen(root, path string, flags int) (*os.File, error) {
	absRoot, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	full, err := securejoin.SecureJoin(absRoot, path)
	if err != nil {
		return nil, err
	}
	fd, err := unix.Open(full, flags|unix.O_NOFOLLOW, 0)
	for err == unix.EINTR {
		fd, err = unix.Open(full, flags|unix.O_NOFOLLOW, 0)
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: full, Err: err}
	}
	return os.NewFile(uintptr(fd), full), nil
}

// readRegular refuses anything but a regular file, then reads at most max
// bytes of it.
func readRegular(f *os.File, max int64) ([]byte, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is a %s: %w", f.Name(), fileKind(fi.Mode()), ErrNotRegular)
	}
	if fi.Size() > max {
		return nil, fmt.Errorf("%d bytes, more than %d: %w", fi.Size(), max, ErrTooLarge)
	}
	return readCapped(f, max)
}

func fileKind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "directory"
	case m&os.ModeNamedPipe != 0:
		return "named pipe"
	case m&os.ModeSocket != 0:
		return "socket"
	case m&os.ModeCharDevice != 0:
		return "character device"
	case m&os.ModeDevice != 0:
		return "block device"
	case m&os.ModeSymlink != 0:
		return "symlink"
	default:
		return "irregular file"
	}
}
