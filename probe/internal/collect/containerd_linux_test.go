package collect

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCollectContainerdOnly runs the pipeline on a fixture /proc shaped
// like Rancher Desktop in containerd mode: no dockerd, k3s's containerd
// (address /run/k3s/containerd/containerd.sock, config.toml) and the
// probe's shim; the agent came through nerdctl, so there is no hint.
func TestCollectContainerdOnly(t *testing.T) {
	dir := t.TempDir()
	proc := filepath.Join(dir, "proc")
	write := func(path, content string) {
		t.Helper()
		p := filepath.Join(dir, path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	argv := func(args ...string) string { return strings.Join(args, "\x00") + "\x00" }
	for _, p := range []struct {
		pid, ppid int
		comm      string
		cmdline   string
	}{
		{1, 0, "init", argv("/sbin/init")},
		{210, 1, "containerd", argv("containerd", "-c", "/etc/containerd/config.toml", "--address", "/run/k3s/containerd/containerd.sock")},
		{230, 1, "buildkitd", argv("/usr/local/bin/buildkitd", "--addr", "unix:///run/buildkit/buildkitd.sock")},
		{880, 1, "containerd-shim", argv("/usr/bin/containerd-shim-runc-v2", "-namespace", "default", "-id", "9a2b", "-address", "/run/k3s/containerd/containerd.sock")},
		{905, 880, "probe", argv("/probe")},
	} {
		base := fmt.Sprintf("proc/%d/", p.pid)
		write(base+"comm", p.comm+"\n")
		write(base+"cmdline", p.cmdline)
		write(base+"stat", fmt.Sprintf("%d (%s) S %d %d %d 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 100 0 0\n", p.pid, p.comm, p.ppid, p.pid, p.pid))
		if err := os.MkdirAll(filepath.Join(proc, fmt.Sprint(p.pid), "ns"), 0o755); err != nil {
			t.Fatal(err)
		}
		for kind, id := range map[string]string{"net": "4026531992", "mnt": "4026531841", "uts": "4026531838", "pid": "4026531836", "ipc": "4026531839", "user": "4026531837", "cgroup": "4026531835"} {
			if err := os.Symlink(kind+":["+id+"]", filepath.Join(proc, fmt.Sprint(p.pid), "ns", kind)); err != nil {
				t.Fatal(err)
			}
		}
	}
	write("proc/905/status", "Name:\tprobe\nCapEff:\t0000000000280000\n")
	write("proc/210/mountinfo", "62 1 8:48 / / rw,relatime shared:1 - ext4 /dev/vda rw\n")
	write("proc/210/root/etc/containerd/config.toml", "version = 2\nroot = \"/var/lib/containerd\"\n[grpc]\n  address = \"/run/k3s/containerd/containerd.sock\"\n")
	write("self/etc/hostname", "probe-1\n")

	r := Collect(context.Background(), Options{Proc: proc, SelfRoot: filepath.Join(dir, "self"), SelfPID: 905})
	checkComplete(t, r)
	tg := r.GetTarget()
	if tg.GetPid() != 210 || tg.GetMethod() != "containerd-daemon" || !strings.Contains(tg.GetReason(), "no dockerd is running") {
		t.Errorf("target = %v", tg)
	}
	d := r.GetDaemon()
	if !d.GetFound() || d.GetPid() != 210 || d.GetConfigFile() != "/etc/containerd/config.toml" ||
		d.GetContainerdAddress() != "/run/k3s/containerd/containerd.sock" || d.GetDataRoot() != "/var/lib/containerd" ||
		!strings.Contains(d.GetConfigRaw(), "[grpc]") || d.GetConfig().GetStructValue().GetFields()["grpc"] == nil {
		t.Errorf("daemon = %v", d)
	}
	found := false
	for _, p := range r.GetProcesses() {
		found = found || (p.GetComm() == "buildkitd" && len(p.GetArgv()) == 3)
	}
	if !found {
		t.Errorf("buildkitd not among the processes: %v", r.GetProcesses())
	}
}
