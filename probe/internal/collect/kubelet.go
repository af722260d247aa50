package collect

import (
	"github.com/dockprobe/dockprobe/probe/internal/daemon"
	"github.com/dockprobe/dockprobe/probe/internal/kubelet"
	"github.com/dockprobe/dockprobe/probe/internal/procs"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// SectionKubelet is the node's kubelet, beside the runtime in daemon.
const SectionKubelet = "kubelet"

// kubelet inspects every kubelet among scanned and keeps the one that
// drives the chosen runtime (choice), or the only one. None is not an
// error: most engines run without Kubernetes.
func (c *collector) kubelet(choice daemon.Choice, scanned []procs.Process) (*probev1.Daemon, error) {
	var ks []kubelet.Kubelet
	for _, p := range scanned {
		if !kubelet.IsKubelet(p) {
			continue
		}
		ns, _ := c.fsys.Readlink(p.PID, "ns/mnt")
		ks = append(ks, kubelet.Kubelet{Daemon: kubelet.Inspect(c.fsys, p), MntNS: ns})
	}
	if len(ks) == 0 {
		return nil, nil
	}
	runtimeNS, _ := c.fsys.Readlink(choice.PID, "ns/mnt")
	d, _, _ := kubelet.Choose(ks, choice.Daemon.GetContainerdAddress(), runtimeNS)
	return d, nil
}
