package daemon

import (
	"fmt"
	"strings"

	"github.com/dockprobe/dockprobe/probe/internal/hostfs"
	"github.com/dockprobe/dockprobe/probe/internal/procs"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// MethodContainerdDaemon: no dockerd serves the engine, so the target is
// the containerd that started the probe's container (a containerd host
// driven by nerdctl: Rancher Desktop, Lima, Finch, colima).
const MethodContainerdDaemon = "containerd-daemon"

// Containerd is a containerd daemon the scan found, with its mount
// namespace: a socket path means something only within one.
type Containerd struct {
	Daemon *probev1.Daemon
	MntNS  string
}

// Shim is the probe's own containerd-shim: the address it was started
// with and its mount namespace.
type Shim struct {
	Address string
	MntNS   string
}

// ParentShim describes the containerd-shim that is the parent of process
// self, or returns the zero Shim when the parent is not a shim.
func ParentShim(fsys *hostfs.FS, self int, scanned []procs.Process) Shim {
	me, err := procs.Read(fsys, self)
	if err != nil || me.PPID <= 0 {
		return Shim{}
	}
	addr := ParentShimAddress(fsys, self, scanned)
	if addr == "" {
		return Shim{}
	}
	ns, _ := fsys.Readlink(me.PPID, "ns/mnt")
	return Shim{Address: addr, MntNS: ns}
}

// containerdChoice picks the containerd that started the probe: the one
// listening on the shim's address in the shim's mount namespace; failing
// that, the only containerd with that address, or the only containerd.
func containerdChoice(in Input) (*probev1.Daemon, string, bool) {
	if len(in.Containerds) == 0 {
		return nil, "", false
	}
	shim := socketPath(in.Shim.Address)
	var byAddr, byNS []Containerd
	for _, c := range in.Containerds {
		if shim == "" || !SamePath(socketPath(c.Daemon.GetContainerdAddress()), shim) {
			continue
		}
		byAddr = append(byAddr, c)
		if in.Shim.MntNS != "" && c.MntNS == in.Shim.MntNS {
			byNS = append(byNS, c)
		}
	}
	switch {
	case len(byNS) == 1:
		d := byNS[0].Daemon
		return d, fmt.Sprintf("containerd pid %d listens on %s in the mount namespace of the shim that started the probe's container", d.GetPid(), d.GetContainerdAddress()), true
	case len(byAddr) == 1:
		d := byAddr[0].Daemon
		return d, fmt.Sprintf("containerd pid %d listens on %s, the address of the shim that started the probe's container", d.GetPid(), d.GetContainerdAddress()), true
	case len(in.Containerds) == 1:
		d := in.Containerds[0].Daemon
		return d, fmt.Sprintf("containerd pid %d is the only containerd running", d.GetPid()), true
	}
	return nil, "", false
}

// withContainerd turns a choice that found no dockerd tied to the engine
// into the containerd that started the probe, when one can be told apart.
// A dockerd matched by data-root or containerd address always wins; the
// only dockerd loses to the probe's own containerd when the agent did not
// come through the Docker API (no DockerRootDir hint: nerdctl).
func withContainerd(in Input, c Choice) Choice {
	switch c.Method {
	case MethodPID1:
	case MethodOnlyDockerd:
		if in.DockerAPI || in.Hint.GetDockerRootDir() != "" {
			return c
		}
	default:
		return c
	}
	d, reason, ok := containerdChoice(in)
	if !ok {
		return c
	}
	switch {
	case len(in.Daemons) == 0:
		reason = "no dockerd is running; " + reason
	case c.Method == MethodOnlyDockerd:
		reason = fmt.Sprintf("dockerd pid %d runs, but the probe was not started through the Docker API; %s", c.Daemon.GetPid(), reason)
	default:
		reason = strings.TrimSuffix(c.Reason, ", so pid 1 is the target") + "; " + reason
	}
	return Choice{PID: int(d.GetPid()), Method: MethodContainerdDaemon, Reason: reason, Daemon: d}
}
