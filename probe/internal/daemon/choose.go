package daemon

import (
	"fmt"
	"strconv"
	"strings"

	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// How the target was chosen (Target.method).
const (
	MethodOverride    = "override"
	MethodDataRoot    = "data-root"
	MethodContainerd  = "containerd"
	MethodOnlyDockerd = "only-dockerd"
	MethodPID1        = "pid1"
)

// Input is what Choose weighs.
type Input struct {
	// Daemons are the records of every dockerd found, in pid order.
	Daemons []*probev1.Daemon
	Hint    *probev1.TargetHint
	// DockerAPI says the agent came through the Docker API even though
	// Hint carries no DockerRootDir yet (a prefetch, started before the
	// agent's request arrives): the only dockerd then still wins over
	// the probe's own containerd, as with a DockerRootDir.
	DockerAPI bool
	// TargetPID, when positive, overrides the choice of target.
	TargetPID int
	// ShimAddress is the containerd address of the probe's own
	// containerd-shim, "" when unknown.
	ShimAddress string
	// Containerds and Shim let a host without a dockerd serving the
	// engine target its containerd (containerd.go).
	Containerds []Containerd
	Shim        Shim
	// DaemonMntNS maps a dockerd's pid to its mount namespace ("mnt:[N]").
	// One socket path names different sockets in different mount
	// namespaces, so the shim's address matches a dockerd only in the
	// shim's mount namespace (when both are known).
	DaemonMntNS map[int32]string
}

// Choice is the target and the dockerd that serves the engine.
type Choice struct {
	PID    int
	Method string
	// Reason says why in one sentence, for people.
	Reason string
	// Daemon is the dockerd serving the engine, nil when none could be
	// told apart.
	Daemon *probev1.Daemon
}

// Choose picks the process whose view of the host the probe reports, in
// this order: an explicit pid; the dockerd whose data-root is the engine's
// DockerRootDir; the dockerd whose containerd is the one that started the
// probe's own container; the only dockerd; else pid 1. Several dockerd on
// one host are normal (CI runners, rootless next to rootful). When no
// dockerd is tied to the engine, the containerd that started the probe
// beats the last two (withContainerd).
func Choose(in Input) Choice {
	serving, method, reason := servingDaemon(in)
	if in.TargetPID > 0 {
		c := Choice{
			PID:    in.TargetPID,
			Method: MethodOverride,
			Reason: fmt.Sprintf("pid %d was given as the target", in.TargetPID),
			Daemon: serving,
		}
		for _, d := range in.Daemons {
			if int(d.GetPid()) == in.TargetPID {
				c.Daemon = d
			}
		}
		return c
	}
	if serving != nil {
		return withContainerd(in, Choice{PID: int(serving.GetPid()), Method: method, Reason: reason, Daemon: serving})
	}
	return withContainerd(in, Choice{PID: 1, Method: MethodPID1, Reason: reason})
}

// servingDaemon narrows the dockerd down to the one serving the engine. When
// there is none, reason says why pid 1 is the target instead.
func servingDaemon(in Input) (*probev1.Daemon, string, string) {
	candidates := in.Daemons
	root := in.Hint.GetDockerRootDir()
	if root != "" {
		var matched []*probev1.Daemon
		for _, d := range candidates {
			if SamePath(d.GetDataRoot(), root) {
				matched = append(matched, d)
			}
		}
		if len(matched) == 1 {
			d := matched[0]
			return d, MethodDataRoot, fmt.Sprintf("dockerd pid %d has data-root %s, the engine's DockerRootDir", d.GetPid(), d.GetDataRoot())
		}
		if len(matched) > 1 {
			candidates = matched
		}
	}
	shimAddr := in.ShimAddress
	if shimAddr == "" {
		shimAddr = in.Shim.Address
	}
	if shim := socketPath(shimAddr); shim != "" {
		var matched []*probev1.Daemon
		for _, d := range candidates {
			ns := in.DaemonMntNS[d.GetPid()]
			sameNS := in.Shim.MntNS == "" || ns == "" || ns == in.Shim.MntNS
			if sameNS && SamePath(socketPath(d.GetContainerdAddress()), shim) {
				matched = append(matched, d)
			}
		}
		if len(matched) == 1 {
			d := matched[0]
			return d, MethodContainerd, fmt.Sprintf("dockerd pid %d uses containerd at %s, which started the probe's own container", d.GetPid(), d.GetContainerdAddress())
		}
	}
	switch len(in.Daemons) {
	case 0:
		return nil, "", "no dockerd process is running, so pid 1 is the target"
	case 1:
		d := in.Daemons[0]
		reason := fmt.Sprintf("dockerd pid %d is the only dockerd running", d.GetPid())
		if root != "" {
			reason = fmt.Sprintf("dockerd pid %d is the only dockerd running, though its data-root %s is not the engine's DockerRootDir %s", d.GetPid(), d.GetDataRoot(), root)
		}
		return d, MethodOnlyDockerd, reason
	}
	pids := make([]string, len(in.Daemons))
	for i, d := range in.Daemons {
		pids[i] = strconv.Itoa(int(d.GetPid()))
	}
	return nil, "", fmt.Sprintf("%d dockerd processes run (pids %s) and none is tied to the engine by data-root or containerd address, so pid 1 is the target", len(in.Daemons), strings.Join(pids, ", "))
}
