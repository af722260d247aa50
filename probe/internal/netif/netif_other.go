//go:build !linux

package netif

import (
	"fmt"

	"github.com/dockprobe/dockprobe/probe/internal/hostfs"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// Handle is not available off Linux.
type Handle struct{}

// Open fails off Linux.
func Open(fsys *hostfs.FS, pid int) (*Handle, error) {
	return nil, fmt.Errorf("net namespace of pid %d: %w", pid, ErrUnsupported)
}

// Interfaces fails off Linux.
func (h *Handle) Interfaces() ([]*probev1.Interface, error) { return nil, ErrUnsupported }

// Routes fails off Linux.
func (h *Handle) Routes() ([]*probev1.Route, error) { return nil, ErrUnsupported }

// Close does nothing off Linux.
func (h *Handle) Close() {}
