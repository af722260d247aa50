// Package hostfs owns every read the probe makes of /proc and of files inside
// another process's root. It is deliberately narrow: /proc files come from a
// fixed allowlist (never environ, which holds secrets), links and namespaces
// likewise, and files inside a process's root are opened so that symlinks
// resolve inside that root and only regular files of bounded size are read.
//
// Other packages must not build /proc paths themselves; they go through an FS
// so that tests can point Proc at a fixture tree under testdata/. Use os
// directly only for the probe's own files (its /etc/hosts, resolv.conf).
package hostfs

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Sentinel errors, wrapped with %w so callers can test them with errors.Is.
var (
	// ErrNotAllowed is returned for a /proc file, link or namespace that is
	// not on the allowlist, or for a pid that cannot be a process.
	ErrNotAllowed = errors.New("not allowed")
	// ErrTooLarge is returned when a file is larger than the caller's cap.
	ErrTooLarge = errors.New("file too large")
	// ErrNotRegular is returned when a path inside a root is not a regular
	// file (a directory, FIFO, device, socket...).
	ErrNotRegular = errors.New("not a regular file")
	// ErrUnsupported is returned on operating systems other than Linux; it
	// matches errors.ErrUnsupported.
	ErrUnsupported = fmt.Errorf("hostfs: %w", errors.ErrUnsupported)
)

// DefaultProc is where procfs is mounted in the probe's container.
const DefaultProc = "/proc"

// procFileCaps lists the /proc/<pid>/ files the probe may read, with the most
// it will read of each. environ is absent on purpose: it holds secrets.
// cmdline is bounded by ARG_MAX in practice; mountinfo grows with the number
// of mounts, a busy Docker host has thousands.
var procFileCaps = map[string]int64{
	"cmdline":   4 << 20,
	"comm":      4 << 10,
	"mountinfo": 16 << 20,
	"stat":      64 << 10,
	"status":    64 << 10,
}

// Namespaces are the namespace kinds the probe reports, in display order.
var Namespaces = []string{"cgroup", "ipc", "mnt", "net", "pid", "user", "uts"}

// allowedLinks are the /proc/<pid>/ symlinks Readlink may read.
var allowedLinks = map[string]bool{
	"exe":                  true,
	"ns/cgroup":            true,
	"ns/ipc":               true,
	"ns/mnt":               true,
	"ns/net":               true,
	"ns/pid":               true,
	"ns/pid_for_children":  true,
	"ns/time":              true,
	"ns/time_for_children": true,
	"ns/user":              true,
	"ns/uts":               true,
}

// FS reads process information below a procfs root.
type FS struct {
	// Proc is the procfs mount point; empty means DefaultProc.
	Proc string
}

// New returns an FS rooted at proc ("" for DefaultProc).
func New(proc string) *FS { return &FS{Proc: proc} }

func (fs *FS) root() string {
	if fs == nil || fs.Proc == "" {
		return DefaultProc
	}
	return fs.Proc
}

// pidDir returns <proc>/<pid> for a valid pid.
func (fs *FS) pidDir(pid int) (string, error) {
	if pid <= 0 {
		return "", fmt.Errorf("pid %d: %w", pid, ErrNotAllowed)
	}
	return filepath.Join(fs.root(), strconv.Itoa(pid)), nil
}

// procPath returns <proc>/<pid>/<name>; callers check name against an
// allowlist first.
func (fs *FS) procPath(pid int, name string) (string, error) {
	dir, err := fs.pidDir(pid)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, name), nil
}

// ReadProcFile reads /proc/<pid>/<name> for an allowlisted name (cmdline,
// comm, mountinfo, stat, status).
func (fs *FS) ReadProcFile(pid int, name string) ([]byte, error) {
	limit, ok := procFileCaps[name]
	if !ok {
		return nil, fmt.Errorf("read /proc/%d/%s: %w", pid, name, ErrNotAllowed)
	}
	p, err := fs.procPath(pid, name)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := readCapped(f, limit)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	return b, nil
}

// Readlink reads an allowlisted /proc/<pid>/ link: exe or ns/<kind>.
func (fs *FS) Readlink(pid int, name string) (string, error) {
	if !allowedLinks[name] {
		return "", fmt.Errorf("readlink /proc/%d/%s: %w", pid, name, ErrNotAllowed)
	}
	p, err := fs.procPath(pid, name)
	if err != nil {
		return "", err
	}
	return os.Readlink(p)
}

// NamespaceIDs returns the identities of pid's namespaces, keyed by kind
// ("net" -> "net:[4026531992]"). Kinds the kernel was built without are left
// out; the error reports the first other failure, the map what was read.
func (fs *FS) NamespaceIDs(pid int) (map[string]string, error) {
	dir, err := fs.pidDir(pid)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, err
	}
	ids := make(map[string]string, len(Namespaces))
	var firstErr error
	for _, kind := range Namespaces {
		id, err := fs.Readlink(pid, "ns/"+kind)
		switch {
		case err == nil:
			ids[kind] = id
		case errors.Is(err, os.ErrNotExist):
			// No such namespace kind in this kernel.
		case firstErr == nil:
			firstErr = err
		}
	}
	return ids, firstErr
}

// PIDs lists the numeric entries of the procfs root, sorted.
func (fs *FS) PIDs() ([]int, error) {
	d, err := os.Open(fs.root())
	if err != nil {
		return nil, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	pids := make([]int, 0, len(names))
	for _, n := range names {
		if n == "" || n[0] < '1' || n[0] > '9' {
			continue
		}
		pid, err := strconv.Atoi(n)
		if err != nil || pid <= 0 {
			continue
		}
		pids = append(pids, pid)
	}
	sort.Ints(pids)
	return pids, nil
}

// inRoot is where a read of path inside pid's root starts: the root
// (<proc>/<pid>/root) and path made absolute and clean (cleanInRoot).
func (fs *FS) inRoot(pid int, path string) (root, clean string, err error) {
	if clean, err = cleanInRoot(path); err != nil {
		return "", "", err
	}
	if root, err = fs.procPath(pid, "root"); err != nil {
		return "", "", err
	}
	return root, clean, nil
}

// cleanInRoot validates a path to read inside a process's root. Paths are
// taken as absolute inside that root; NUL bytes and empty paths are refused.
func cleanInRoot(path string) (string, error) {
	if path == "" || strings.IndexByte(path, 0) >= 0 {
		return "", fmt.Errorf("path %q: %w", path, ErrNotAllowed)
	}
	return filepath.Clean("/" + path), nil
}

// readCapped reads r to EOF, failing with ErrTooLarge once more than limit
// bytes arrive. procfs files report size 0, so the cap cannot rely on stat.
func readCapped(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("more than %d bytes: %w", limit, ErrTooLarge)
	}
	return b, nil
}

// OpenNamespace opens /proc/<pid>/ns/<kind> for setns(2); kind is one of
// Namespaces. The caller closes the file.
func (fs *FS) OpenNamespace(pid int, kind string) (*os.File, error) {
	if !allowedLinks["ns/"+kind] {
		return nil, fmt.Errorf("open namespace %q of pid %d: %w", kind, pid, ErrNotAllowed)
	}
	p, err := fs.procPath(pid, "ns/"+kind)
	if err != nil {
		return nil, err
	}
	return os.Open(p)
}

// SharesNamespace reports whether pid's namespace of kind is the calling
// thread's own, so a caller can skip setns(2). It answers false when either
// cannot be read.
func (fs *FS) SharesNamespace(pid int, kind string) bool {
	theirs, err := fs.Readlink(pid, "ns/"+kind)
	if err != nil {
		return false
	}
	ours, err := os.Readlink(filepath.Join(fs.root(), "thread-self", "ns", kind))
	return err == nil && ours == theirs
}
