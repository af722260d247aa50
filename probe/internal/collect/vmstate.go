package collect

import (
	"github.com/dockprobe/dockprobe/probe/internal/daemon"
)

// SectionVMState is the VM's own state for the issue 13 checks (disk,
// forwarding, memory).
const SectionVMState = "vmState"

// containerdRoot is containerd's default root, the data-root of a
// containerd-only host (nerdctl).
const containerdRoot = "/var/lib/containerd"

// dataRoot is where the engine keeps its data in the target's mount
// namespace: dockerd's data-root (defaulted by package daemon), or
// containerd's root when containerd is the target.
func dataRoot(ch daemon.Choice) string {
	if r := ch.Daemon.GetDataRoot(); r != "" {
		return r
	}
	if ch.Method == daemon.MethodContainerdDaemon {
		return containerdRoot
	}
	return ""
}
