//go:build !linux

package sysinfo

import (
	"fmt"

	"github.com/dockprobe/dockprobe/probe/internal/hostfs"
)

// UTS needs Linux namespaces.
func UTS(fsys *hostfs.FS, pid int) (UTSInfo, error) {
	return UTSInfo{}, fmt.Errorf("uts namespace of pid %d: %w", pid, ErrUnsupported)
}
