//go:build !linux

package hostfs

import "fmt"

// ReadDirInRoot needs openat2 or /proc/<pid>/root, which only Linux has.
func (fs *FS) ReadDirInRoot(pid int, path string, max int) ([]DirEntry, error) {
	return nil, fmt.Errorf("read directory %s in the root of pid %d: %w", path, pid, ErrUnsupported)
}
