package collect

import (
	"github.com/dockprobe/dockprobe/probe/internal/containerd"
	"github.com/dockprobe/dockprobe/probe/internal/daemon"
	"github.com/dockprobe/dockprobe/probe/internal/procs"
)

// withContainerd adds what the target choice needs to fall back to
// containerd on a host where no dockerd serves the engine: every
// containerd daemon (inspected like a dockerd: flags, config.toml) with its
// mount namespace, and the probe's own shim.
func (c *collector) withContainerd(in daemon.Input, scanned []procs.Process) daemon.Input {
	for _, p := range scanned {
		if !containerd.IsContainerd(p) {
			continue
		}
		ns, _ := c.fsys.Readlink(p.PID, "ns/mnt")
		in.Containerds = append(in.Containerds, daemon.Containerd{Daemon: containerd.Inspect(c.fsys, p), MntNS: ns})
	}
	in.Shim = daemon.ParentShim(c.fsys, c.self, scanned)
	in.DaemonMntNS = map[int32]string{}
	for _, d := range in.Daemons {
		if ns, err := c.fsys.Readlink(int(d.GetPid()), "ns/mnt"); err == nil {
			in.DaemonMntNS[d.GetPid()] = ns
		}
	}
	return in
}
