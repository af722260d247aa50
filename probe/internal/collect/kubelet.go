package collect

import (
	"github.com/dockprobe/dockprobe/probe/internal/containerd"
	"github.com/dockprobe/dockprobe/probe/internal/daemon"
	"github.com/dockprobe/dockprobe/probe/internal/kubelet"
	"github.com/dockprobe/dockprobe/probe/internal/procs"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// SectionKubelet is the node's kubelet, beside the runtime in daemon, and
// the runtime's CNI networks.
const SectionKubelet = "kubelet"

// kubelet inspects every kubelet among scanned and keeps the one that
// drives the chosen runtime (choice), or the only one; with a kubelet, it
// also reads the runtime's CNI configurations. None is not an error: most
// engines run without Kubernetes.
func (c *collector) kubelet(choice daemon.Choice, scanned []procs.Process) (*probev1.Daemon, []*probev1.Network, error) {
	var ks []kubelet.Kubelet
	for _, p := range scanned {
		if !kubelet.IsKubelet(p) {
			continue
		}
		ns, _ := c.fsys.Readlink(p.PID, "ns/mnt")
		ks = append(ks, kubelet.Kubelet{Daemon: kubelet.Inspect(c.fsys, p), MntNS: ns})
	}
	if len(ks) == 0 {
		return nil, nil, nil
	}
	runtimeNS, _ := c.fsys.Readlink(choice.PID, "ns/mnt")
	d, _, _ := kubelet.Choose(ks, choice.Daemon.GetContainerdAddress(), runtimeNS)
	nets, err := containerd.CNINetworks(c.fsys, choice.PID, kubelet.CNIConfDir(choice.Daemon.GetConfig()))
	return d, nets, err
}
