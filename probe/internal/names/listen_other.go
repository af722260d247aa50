//go:build !linux

package names

import (
	"errors"
	"fmt"
	"net"

	"github.com/dockprobe/dockprobe/probe/internal/hostfs"
)

// Listen needs Linux namespaces.
func Listen(fsys *hostfs.FS, pid int) (net.PacketConn, error) {
	return nil, fmt.Errorf("net namespace of pid %d: %w", pid, errors.ErrUnsupported)
}
