//go:build !linux

package hostfs

import "fmt"

// ReadInRoot needs openat2 or /proc/<pid>/root, which only Linux has.
func (fs *FS) ReadInRoot(pid int, path string, max int64) ([]byte, error) {
	return nil, fmt.Errorf("read %s in the root of pid %d: %w", path, pid, ErrUnsupported)
}
