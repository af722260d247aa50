//go:build !linux

package mounts

import (
	"errors"
	"fmt"
	"io"

	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// ErrUnsupported is returned by Parse off Linux, where moby/sys/mountinfo
// has no reader-based parser.
var ErrUnsupported = fmt.Errorf("mountinfo parsing is linux-only: %w", errors.ErrUnsupported)

// Parse is not available off Linux.
func Parse(r io.Reader) ([]*probev1.Mount, error) {
	return nil, ErrUnsupported
}
