//go:build !windows

package hostproxy

import probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"

// internetSettings exists on Windows only.
func internetSettings() *probev1.ProxySetting { return nil }
