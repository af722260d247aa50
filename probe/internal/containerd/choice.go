package containerd

import (
	"github.com/dockprobe/dockprobe/probe/internal/daemon"
	"github.com/dockprobe/dockprobe/probe/internal/hostfs"
	"github.com/dockprobe/dockprobe/probe/internal/procs"
)

// WithDaemons adds what the target choice needs to fall back to
// containerd on a host where no dockerd serves the engine: every
// containerd daemon (inspected like a dockerd: flags, config.toml) with its
// mount namespace, and the shim of the probe (pid self). Collect and Watch
// both choose with it, so that they choose the same target.
func WithDaemons(fsys *hostfs.FS, in daemon.Input, self int, scanned []procs.Process) daemon.Input {
	for _, p := range scanned {
		if !IsContainerd(p) {
			continue
		}
		ns, _ := fsys.Readlink(p.PID, "ns/mnt")
		in.Containerds = append(in.Containerds, daemon.Containerd{Daemon: Inspect(fsys, p), MntNS: ns})
	}
	in.Shim = daemon.ParentShim(fsys, self, scanned)
	in.DaemonMntNS = map[int32]string{}
	for _, d := range in.Daemons {
		if ns, err := fsys.Readlink(int(d.GetPid()), "ns/mnt"); err == nil {
			in.DaemonMntNS[d.GetPid()] = ns
		}
	}
	return in
}
