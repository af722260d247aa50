package daemon

import (
	"os"
	"strings"
	"testing"

	"github.com/dockprobe/dockprobe/probe/internal/hostfs"
	"github.com/dockprobe/dockprobe/probe/internal/procs"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

func readArgv(t *testing.T, name string) []string {
	t.Helper()
	b, err := os.ReadFile("testdata/cmdline/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return procs.ParseCmdline(b)
}

func TestIsDockerd(t *testing.T) {
	for _, tt := range []struct {
		p    procs.Process
		want bool
	}{
		{procs.Process{Comm: "dockerd", Argv: []string{"dockerd"}}, true},
		// A zombie dockerd (no command line) is not a candidate: counting
		// it with the default data-root would match /var/lib/docker.
		{procs.Process{Comm: "dockerd"}, false},
		{procs.Process{Comm: "exe", Argv: []string{"/usr/bin/dockerd", "-H", "fd://"}}, true},
		{procs.Process{Comm: "docker", Argv: []string{"docker", "ps"}}, false},
		{procs.Process{Comm: "containerd"}, false},
	} {
		if got := IsDockerd(tt.p); got != tt.want {
			t.Errorf("IsDockerd(%+v) = %v", tt.p, got)
		}
	}
}

func TestShimAddress(t *testing.T) {
	for _, tt := range []struct {
		argv []string
		want string
	}{
		{[]string{"/usr/bin/containerd-shim-runc-v2", "-namespace", "moby", "-id", "3f1c", "-address", "/run/containerd/containerd.sock"}, "/run/containerd/containerd.sock"},
		{[]string{"containerd-shim-runc-v2", "--address=/var/run/docker/containerd/containerd.sock"}, "/var/run/docker/containerd/containerd.sock"},
		{[]string{"containerd-shim-runc-v2", "-namespace", "moby"}, ""},
		{[]string{"containerd-shim-runc-v2", "-address"}, ""},
		{nil, ""},
	} {
		if got := ShimAddress(tt.argv); got != tt.want {
			t.Errorf("ShimAddress(%q) = %q, want %q", tt.argv, got, tt.want)
		}
	}
}

func TestParentShimAddress(t *testing.T) {
	// The procs fixture has the probe (905) under a containerd-shim (880).
	fsys := hostfs.New("../procs/testdata/proc")
	scanned, err := procs.Scan(fsys, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := ParentShimAddress(fsys, 905, scanned); got != "/var/run/desktop-containerd/containerd.sock" {
		t.Errorf("ParentShimAddress(905) = %q", got)
	}
	if got := ParentShimAddress(fsys, 143, scanned); got != "" {
		t.Errorf("ParentShimAddress(dockerd) = %q, want none", got)
	}
}

func daemonRec(pid int32, dataRoot, containerd string) *probev1.Daemon {
	return &probev1.Daemon{Found: true, Pid: pid, DataRoot: dataRoot, ContainerdAddress: containerd}
}

func TestChoose(t *testing.T) {
	desktop := daemonRec(143, "/var/lib/docker", "/var/run/desktop-containerd/containerd.sock")
	ci := daemonRec(900, "/var/lib/docker-ci", "/run/docker-ci/containerd/containerd.sock")
	relative := daemonRec(950, "var/lib/docker", "/run/containerd/containerd.sock")
	hint := func(root string) *probev1.TargetHint { return &probev1.TargetHint{DockerRootDir: root} }

	tests := []struct {
		name      string
		in        Input
		pid       int
		method    string
		daemon    *probev1.Daemon
		reasonHas string
	}{
		{
			name: "data-root picks one of two", in: Input{Daemons: []*probev1.Daemon{desktop, ci}, Hint: hint("/var/lib/docker-ci/")},
			pid: 900, method: MethodDataRoot, daemon: ci,
			reasonHas: "dockerd pid 900 has data-root /var/lib/docker-ci, the engine's DockerRootDir",
		},
		{
			name: "data-root with unclean hint", in: Input{Daemons: []*probev1.Daemon{desktop, ci}, Hint: hint("/var/lib/../lib/docker")},
			pid: 143, method: MethodDataRoot, daemon: desktop,
		},
		{
			name: "relative data-root never matches", in: Input{Daemons: []*probev1.Daemon{relative, ci}, Hint: hint("/var/lib/docker")},
			pid: 1, method: MethodPID1, reasonHas: "2 dockerd processes run (pids 950, 900)",
		},
		{
			name: "containerd when data-root is unknown",
			in:   Input{Daemons: []*probev1.Daemon{desktop, ci}, ShimAddress: "unix:///var/run/docker-ci/containerd/containerd.sock"},
			pid:  900, method: MethodContainerd, daemon: ci, reasonHas: "uses containerd at /run/docker-ci/containerd/containerd.sock",
		},
		{
			name: "containerd when data-root matches nothing",
			in:   Input{Daemons: []*probev1.Daemon{desktop, ci}, Hint: hint("/mnt/elsewhere"), ShimAddress: "/var/run/desktop-containerd/containerd.sock"},
			pid:  143, method: MethodContainerd, daemon: desktop,
		},
		{
			name: "only dockerd", in: Input{Daemons: []*probev1.Daemon{desktop}},
			pid: 143, method: MethodOnlyDockerd, daemon: desktop, reasonHas: "dockerd pid 143 is the only dockerd running",
		},
		{
			name: "only dockerd with a mismatched hint", in: Input{Daemons: []*probev1.Daemon{desktop}, Hint: hint("/data/docker")},
			pid: 143, method: MethodOnlyDockerd, daemon: desktop, reasonHas: "is not the engine's DockerRootDir /data/docker",
		},
		{
			name: "no dockerd", in: Input{Hint: hint("/var/lib/docker")},
			pid: 1, method: MethodPID1, reasonHas: "no dockerd process is running",
		},
		{
			name: "two dockerd, nothing to tell them apart", in: Input{Daemons: []*probev1.Daemon{desktop, ci}},
			pid: 1, method: MethodPID1, reasonHas: "none is tied to the engine",
		},
		{
			name: "override on a dockerd", in: Input{Daemons: []*probev1.Daemon{desktop, ci}, Hint: hint("/var/lib/docker"), TargetPID: 900},
			pid: 900, method: MethodOverride, daemon: ci, reasonHas: "pid 900 was given as the target",
		},
		{
			name: "override elsewhere keeps the serving dockerd", in: Input{Daemons: []*probev1.Daemon{desktop, ci}, Hint: hint("/var/lib/docker"), TargetPID: 77},
			pid: 77, method: MethodOverride, daemon: desktop,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Choose(tt.in)
			if c.PID != tt.pid || c.Method != tt.method || c.Daemon != tt.daemon {
				t.Errorf("Choose = pid %d method %q daemon %v; want pid %d method %q daemon %v", c.PID, c.Method, c.Daemon.GetPid(), tt.pid, tt.method, tt.daemon.GetPid())
			}
			if !strings.Contains(c.Reason, tt.reasonHas) {
				t.Errorf("reason %q does not contain %q", c.Reason, tt.reasonHas)
			}
			if strings.Count(strings.TrimSuffix(c.Reason, "."), ". ") > 0 {
				t.Errorf("reason %q is more than one sentence", c.Reason)
			}
		})
	}
}

func TestSamePath(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want bool
	}{
		{"/var/lib/docker", "/var/lib/docker/", true},
		{"/var/lib//docker", "/var/lib/./docker", true},
		{"/var/run/docker.sock", "/run/docker.sock", true},
		{"/var/runner", "/runner", false},
		{"var/lib/docker", "/var/lib/docker", false},
		{"", "", false},
	} {
		if got := SamePath(tt.a, tt.b); got != tt.want {
			t.Errorf("SamePath(%q, %q) = %v", tt.a, tt.b, got)
		}
	}
}

// TestShimAddressMatchesOnlyInItsMountNamespace: two engines whose
// containerd sockets have the same path in different mount namespaces (a
// LinuxKit-shaped VM next to a containerd-only one): the shim's address
// names the dockerd of its own mount namespace only.
func TestShimAddressMatchesOnlyInItsMountNamespace(t *testing.T) {
	vm := &probev1.Daemon{Pid: 143, ContainerdAddress: "/run/containerd/containerd.sock", DataRoot: "/var/lib/docker"}
	other := &probev1.Daemon{Pid: 900, ContainerdAddress: "/run/containerd/containerd.sock", DataRoot: "/srv/docker"}
	ns := map[int32]string{143: "mnt:[1]", 900: "mnt:[2]"}
	in := Input{Daemons: []*probev1.Daemon{vm, other}, Shim: Shim{Address: "/run/containerd/containerd.sock", MntNS: "mnt:[2]"}, DaemonMntNS: ns}
	if c := Choose(in); c.PID != 900 || c.Method != MethodContainerd {
		t.Errorf("Choose() = pid %d by %s (%s), want 900 by containerd", c.PID, c.Method, c.Reason)
	}
	in.Shim.MntNS = "mnt:[3]" // a containerd-only engine's shim: neither dockerd
	if c := Choose(in); c.PID == 143 || c.PID == 900 {
		t.Errorf("Choose() = pid %d by %s, want no dockerd of another mount namespace", c.PID, c.Method)
	}
}
