package collect

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// startIsolated starts a sleep in fresh network and UTS namespaces with its
// own host name, like the probe's view of a VM it does not share, and
// returns its pid. Needs root.
func startIsolated(tb testing.TB) int {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("needs root to create namespaces")
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		tb.Skip("needs unshare(1)")
	}
	// ip_forward off in the new namespace only: the test's own stays as it
	// is, so reading the target's value proves the read happened there.
	cmd := exec.Command(unshare, "--net", "--uts", "sh", "-c", "hostname dockprobe-collect-test && echo 0 > /proc/sys/net/ipv4/ip_forward && exec sleep 60")
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	pid := cmd.Process.Pid
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm"); strings.TrimSpace(string(b)) == "sleep" {
			return pid
		}
	}
	tb.Fatalf("pid %d never exec'd sleep", pid)
	return 0
}

// TestCollectOtherNamespaces targets a process in its own network and UTS
// namespaces: the report must show that process's view (its host name, only
// its loopback), which exercises the setns paths end to end.
func TestCollectOtherNamespaces(t *testing.T) {
	pid := startIsolated(t)
	r := Collect(context.Background(), Options{TargetPID: int32(pid)})
	checkComplete(t, r)
	for _, e := range r.GetErrors() {
		t.Errorf("section error: %v", e)
	}
	if h := r.GetTarget().GetHostname(); h != "dockprobe-collect-test" {
		t.Errorf("target hostname = %q", h)
	}
	if ifs := r.GetInterfaces(); len(ifs) != 1 || ifs[0].GetName() != "lo" {
		t.Errorf("interfaces = %v, want only lo", ifs)
	}
	own, _ := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	if f := r.GetVmState().GetForwarding(); f.GetIpv4() != "0" || f.GetError() != "" {
		t.Errorf("forwarding = %v, want ip_forward 0 from the target's namespace (ours is %s)", f, strings.TrimSpace(string(own)))
	}
	if m := r.GetVmState().GetMemory(); m.GetTotalBytes() <= 0 || m.GetAvailableBytes() <= 0 || m.GetOomKills() < 0 {
		t.Errorf("memory = %v", m)
	}
	if own, _ := os.Hostname(); own == "dockprobe-collect-test" {
		t.Error("the test process's host name changed")
	}
}

// BenchmarkCollectOtherNamespaces is the probe's real cost: entering the
// target's network and UTS namespaces on throwaway threads.
func BenchmarkCollectOtherNamespaces(b *testing.B) {
	pid := startIsolated(b)
	b.ReportAllocs()
	for b.Loop() {
		r := Collect(context.Background(), Options{TargetPID: int32(pid), Hint: &probev1.TargetHint{DockerRootDir: "/var/lib/docker"}})
		if len(r.GetErrors()) > 0 {
			b.Fatal(r.GetErrors())
		}
	}
}

// TestCollectFixture runs the whole pipeline on a fixture /proc shaped like
// Docker Desktop's VM: two dockerd, the engine's data-root as the hint.
func TestCollectFixture(t *testing.T) {
	proc, selfRoot := fixture(t)
	r := Collect(context.Background(), Options{
		Proc:     proc,
		Hint:     &probev1.TargetHint{DockerRootDir: "/var/lib/docker"},
		SelfRoot: selfRoot,
		SelfPID:  905,
	})
	checkComplete(t, r)
	tg := r.GetTarget()
	if tg.GetPid() != 143 || tg.GetMethod() != "data-root" || tg.GetComm() != "dockerd" ||
		!strings.Contains(tg.GetReason(), "dockerd pid 143 has data-root /var/lib/docker") {
		t.Errorf("target = %v", tg)
	}
	if tg.GetNamespaces()["net"] != "net:[4026531992]" || tg.GetOsPrettyName() != "Docker Desktop" {
		t.Errorf("target namespaces %v, os %q", tg.GetNamespaces(), tg.GetOsPrettyName())
	}
	d := r.GetDaemon()
	if !d.GetFound() || d.GetPid() != 143 || d.GetContainerdAddress() != "/var/run/desktop-containerd/containerd.sock" ||
		d.GetConfig().GetStructValue().GetFields()["experimental"] == nil {
		t.Errorf("daemon = %v", d)
	}
	if len(r.GetMounts()) != 3 || r.GetMounts()[2].GetMountPoint() != "/run/desktop/mnt/host/c" {
		t.Errorf("mounts = %v", r.GetMounts())
	}
	var comms []string
	for _, p := range r.GetProcesses() {
		comms = append(comms, p.GetComm())
	}
	if want := []string{"containerd", "dockerd", "containerd-shim", "dockerd"}; !slices.Equal(comms, want) {
		t.Errorf("processes = %q, want %q", comms, want)
	}
	vs := r.GetVmState()
	if m := vs.GetMemory(); m.GetTotalBytes() != 8130860*1024 || m.GetAvailableBytes() != 4065430*1024 || m.GetOomKills() != 2 || m.GetError() != "" {
		t.Errorf("memory = %v", m)
	}
	if d := vs.GetDataRoot(); d.GetPath() != "/var/lib/docker" || d.GetTotalBytes() <= 0 || d.GetTotalInodes() <= 0 || d.GetError() != "" {
		t.Errorf("data root = %v", d)
	}
	var chain []string
	for _, s := range tg.GetAncestry() {
		chain = append(chain, fmt.Sprintf("%d %s %v %s", s.GetPid(), s.GetComm(), s.GetEnters(), s.GetError()))
	}
	if want := []string{"1 init [] ", "143 dockerd [] "}; !slices.Equal(chain, want) {
		t.Errorf("ancestry = %q, want %q", chain, want)
	}
	// The shim's child 905 shares the target's network namespace (as a
	// --network host container does, or `runc start` for a moment at
	// every start): its links are the VM's, not a container's.
	if l := r.GetContainerLinks(); len(l) != 0 {
		t.Errorf("container links = %v, want none (the only shim child is in the target's netns)", l)
	}
	if c := r.GetContainer(); len(c.GetEtcHosts()) != 2 || c.GetHostname() != "probe-1" {
		t.Errorf("container = %v", c)
	}
	// A fixture has no real namespaces to enter: the network sections and
	// the target's uname fail, alone.
	for _, e := range r.GetErrors() {
		uts := e.GetSection() == SectionTarget && strings.Contains(e.GetMessage(), "uts namespace of pid 143")
		fwd := e.GetSection() == SectionVMState && strings.HasPrefix(e.GetMessage(), "forwarding: open net namespace of pid 143")
		if e.GetSection() != SectionInterfaces && e.GetSection() != SectionRoutes && !uts && !fwd {
			t.Errorf("unexpected error %v", e)
		}
	}
}

// fixture writes a /proc tree and a probe root under a temp dir. Every
// process has a secret in its environ, as real ones do.
func fixture(t *testing.T) (proc, selfRoot string) {
	t.Helper()
	procs := []fakeProc{
		{1, 0, "init", []string{"/sbin/init"}},
		{131, 1, "containerd", []string{"/usr/local/bin/containerd"}},
		{143, 1, "dockerd", []string{"/usr/local/bin/dockerd", "--containerd", "/var/run/desktop-containerd/containerd.sock", "--pidfile", "/run/desktop/docker.pid"}},
		{880, 1, "containerd-shim", []string{"/usr/local/bin/containerd-shim-runc-v2", "-namespace", "moby", "-id", "3f1c", "-address", "/var/run/desktop-containerd/containerd.sock"}},
		{900, 1, "dockerd", []string{"dockerd", "--data-root", "/var/lib/docker-ci", "-H", "unix:///run/docker-ci.sock"}},
		{905, 880, "probe", []string{"/probe"}},
	}
	tree := newProcTree(t, procs)
	for _, p := range procs {
		tree.write(fmt.Sprintf("proc/%d/environ", p.pid), "SECRET=do-not-read\x00")
	}
	tree.write("proc/905/status", "Name:\tprobe\nCapEff:\t0000000000280000\n")
	tree.write("proc/143/mountinfo", `62 1 8:48 /distro / rw,relatime shared:1 - ext4 /dev/sdd rw
97 62 8:64 /data/docker /var/lib/docker rw,relatime shared:34 - ext4 /dev/sde rw
120 63 0:61 / /run/desktop/mnt/host/c rw,noatime shared:30 - 9p C:\134 rw,aname=drvfs;path=C:\
`)
	tree.write("proc/meminfo", "MemTotal:        8130860 kB\nMemFree:          123456 kB\nMemAvailable:    4065430 kB\n")
	tree.write("proc/vmstat", "nr_free_pages 30864\noom_kill 2\n")
	tree.write("proc/143/root/var/lib/docker/.keep", "")
	tree.write("proc/143/root/etc/os-release", "PRETTY_NAME=\"Docker Desktop\"\n")
	tree.write("proc/143/root/etc/docker/daemon.json", `{"experimental": false, "builder": {"gc": {"enabled": true}}}`)
	tree.write("self/etc/hosts", "127.0.0.1 localhost\n192.168.65.254 host.docker.internal\n")
	tree.write("self/etc/hostname", "probe-1\n")
	return tree.proc(), tree.selfRoot()
}
