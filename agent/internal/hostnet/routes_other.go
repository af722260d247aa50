//go:build !linux && !darwin && !windows

package hostnet

import probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"

// Routes is not implemented on this OS.
func Routes() ([]*probev1.Route, error) { return nil, ErrUnsupported }
