package hostfs

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// ReadDirInRoot lists the directory at path inside pid's root directory
// (/proc/<pid>/root), at most max entries, sorted by name. Resolution
// follows ReadInRoot's discipline: openat2 with RESOLVE_IN_ROOT and
// RESOLVE_NO_MAGICLINKS (securejoin on older kernels), so a symlinked
// /etc/cni/net.d cannot lead out of the target's tree. Entries are only
// named and typed (lstat-like: a symlink is reported as one, not followed).
func (fs *FS) ReadDirInRoot(pid int, path string, max int) ([]DirEntry, error) {
	root, clean, err := fs.inRoot(pid, path)
	if err != nil {
		return nil, err
	}
	f, err := openDirInRoot(root, clean, !noOpenat2.Load())
	if err != nil {
		return nil, fmt.Errorf("open directory %s in the root of pid %d: %w", clean, pid, err)
	}
	defer f.Close()
	// One more than max tells "exactly max" from "more".
	des, err := f.ReadDir(max + 1)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read directory %s in the root of pid %d: %w", clean, pid, err)
	}
	out := make([]DirEntry, 0, len(des))
	for _, de := range des {
		t := de.Type()
		out = append(out, DirEntry{Name: de.Name(), Regular: t.IsRegular(), Dir: t.IsDir(), Symlink: t&os.ModeSymlink != 0})
	}
	sortEntries(out)
	if len(out) > max {
		return out[:max], fmt.Errorf("directory %s in the root of pid %d: more than %d entries: %w", clean, pid, max, ErrTooManyEntries)
	}
	return out, nil
}

// openDirInRoot opens a directory inside root with the same discipline as
// ReadInRoot's files (openInRoot).
func openDirInRoot(root, path string, tryOpenat2 bool) (*os.File, error) {
	return openInRoot(root, path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC|unix.O_NOCTTY, tryOpenat2)
}
