//go:build !linux

package hostfs

// StatfsInRoot needs Linux.
func (fs *FS) StatfsInRoot(pid int, path string) (Statfs, error) {
	return Statfs{}, ErrUnsupported
}

// ReadNetSysctls needs Linux.
func (fs *FS) ReadNetSysctls(pid int) (map[string]string, error) { return nil, ErrUnsupported }
