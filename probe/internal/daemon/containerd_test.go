package daemon

import (
	"strings"
	"testing"

	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

func ctrd(pid int32, addr, mntns string) Containerd {
	return Containerd{Daemon: &probev1.Daemon{Found: true, Pid: pid, ContainerdAddress: addr}, MntNS: mntns}
}

func TestChooseContainerd(t *testing.T) {
	const sock = "/run/containerd/containerd.sock"
	lk := ctrd(300, sock, "mnt:[3]")
	sys := ctrd(100, sock, "mnt:[1]")
	k3s := ctrd(200, "/run/k3s/containerd/containerd.sock", "mnt:[1]")
	dockerd := func(pid int32, root, ctr string) *probev1.Daemon {
		return &probev1.Daemon{Found: true, Pid: pid, DataRoot: root, ContainerdAddress: ctr}
	}
	for _, tt := range []struct {
		name       string
		in         Input
		wantPID    int
		wantMethod string
		reason     string
	}{
		{
			name:    "containerd only (Rancher Desktop, Lima)",
			in:      Input{Containerds: []Containerd{k3s}, Shim: Shim{Address: k3s.Daemon.ContainerdAddress, MntNS: "mnt:[1]"}},
			wantPID: 200, wantMethod: MethodContainerdDaemon, reason: "no dockerd is running; containerd pid 200 listens on",
		},
		{
			name:    "same socket path in two mount namespaces: the shim's namespace decides",
			in:      Input{Containerds: []Containerd{sys, lk}, Shim: Shim{Address: "unix://" + sock, MntNS: "mnt:[3]"}},
			wantPID: 300, wantMethod: MethodContainerdDaemon, reason: "mount namespace of the shim",
		},
		{
			name:    "address alone",
			in:      Input{Containerds: []Containerd{sys, k3s}, Shim: Shim{Address: sock}},
			wantPID: 100, wantMethod: MethodContainerdDaemon, reason: "the address of the shim",
		},
		{
			name:    "only containerd, shim unknown",
			in:      Input{Containerds: []Containerd{k3s}},
			wantPID: 200, wantMethod: MethodContainerdDaemon, reason: "only containerd",
		},
		{
			name:    "two containerd and nothing to tell them apart: pid 1",
			in:      Input{Containerds: []Containerd{sys, k3s}},
			wantPID: 1, wantMethod: MethodPID1,
		},
		{
			name: "several dockerd, none tied: the probe's containerd",
			in: Input{
				Daemons:     []*probev1.Daemon{dockerd(10, "/a", sock), dockerd(11, "/b", sock)},
				Containerds: []Containerd{sys, lk}, ShimAddress: sock, Shim: Shim{Address: sock, MntNS: "mnt:[3]"},
			},
			wantPID: 300, wantMethod: MethodContainerdDaemon, reason: "none is tied to the engine",
		},
		{
			name: "the only dockerd, launched through nerdctl: the probe's containerd",
			in: Input{
				Daemons:     []*probev1.Daemon{dockerd(10, "/var/lib/docker", "/run/other.sock")},
				Containerds: []Containerd{k3s}, Shim: Shim{Address: k3s.Daemon.ContainerdAddress},
			},
			wantPID: 200, wantMethod: MethodContainerdDaemon, reason: "not started through the Docker API",
		},
		{
			name: "the only dockerd, launched through Docker: dockerd",
			in: Input{
				Daemons:     []*probev1.Daemon{dockerd(10, "/var/lib/docker", "/run/other.sock")},
				Hint:        &probev1.TargetHint{DockerRootDir: "/elsewhere"},
				Containerds: []Containerd{k3s}, Shim: Shim{Address: k3s.Daemon.ContainerdAddress},
			},
			wantPID: 10, wantMethod: MethodOnlyDockerd,
		},
		{
			name: "the only dockerd, prefetched for the Docker API (no root yet): dockerd",
			in: Input{
				Daemons:     []*probev1.Daemon{dockerd(10, "/var/lib/docker", "/run/other.sock")},
				DockerAPI:   true,
				Containerds: []Containerd{k3s}, Shim: Shim{Address: k3s.Daemon.ContainerdAddress},
			},
			wantPID: 10, wantMethod: MethodOnlyDockerd,
		},
		{
			name: "dockerd tied by data-root wins",
			in: Input{
				Daemons:     []*probev1.Daemon{dockerd(10, "/var/lib/docker", sock)},
				Hint:        &probev1.TargetHint{DockerRootDir: "/var/lib/docker"},
				Containerds: []Containerd{sys}, Shim: Shim{Address: sock},
			},
			wantPID: 10, wantMethod: MethodDataRoot,
		},
		{
			name: "dockerd tied by containerd address wins",
			in: Input{
				Daemons:     []*probev1.Daemon{dockerd(10, "/var/lib/docker", sock), dockerd(11, "/x", "/run/x.sock")},
				Containerds: []Containerd{sys}, ShimAddress: sock, Shim: Shim{Address: sock},
			},
			wantPID: 10, wantMethod: MethodContainerd,
		},
		{
			name:    "override wins",
			in:      Input{TargetPID: 77, Containerds: []Containerd{k3s}, Shim: Shim{Address: k3s.Daemon.ContainerdAddress}},
			wantPID: 77, wantMethod: MethodOverride,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := Choose(tt.in)
			if c.PID != tt.wantPID || c.Method != tt.wantMethod {
				t.Fatalf("got pid %d method %s (%s); want pid %d method %s", c.PID, c.Method, c.Reason, tt.wantPID, tt.wantMethod)
			}
			if !strings.Contains(c.Reason, tt.reason) {
				t.Errorf("reason %q lacks %q", c.Reason, tt.reason)
			}
			if c.Method == MethodContainerdDaemon && int(c.Daemon.GetPid()) != c.PID {
				t.Errorf("daemon %v is not the target", c.Daemon)
			}
		})
	}
}
