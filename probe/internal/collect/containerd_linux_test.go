package collect

import (
	"context"
	"strings"
	"testing"
)

// TestCollectContainerdOnly runs the pipeline on a fixture /proc shaped
// like Rancher Desktop in containerd mode: no dockerd, k3s's containerd
// (address /run/k3s/containerd/containerd.sock, config.toml) and the
// probe's shim; the agent came through nerdctl, so there is no hint.
func TestCollectContainerdOnly(t *testing.T) {
	tree := newProcTree(t, []fakeProc{
		{1, 0, "init", []string{"/sbin/init"}},
		{210, 1, "containerd", []string{"containerd", "-c", "/etc/containerd/config.toml", "--address", "/run/k3s/containerd/containerd.sock"}},
		{230, 1, "buildkitd", []string{"/usr/local/bin/buildkitd", "--addr", "unix:///run/buildkit/buildkitd.sock"}},
		{880, 1, "containerd-shim", []string{"/usr/bin/containerd-shim-runc-v2", "-namespace", "default", "-id", "9a2b", "-address", "/run/k3s/containerd/containerd.sock"}},
		{905, 880, "probe", []string{"/probe"}},
	})
	tree.write("proc/905/status", "Name:\tprobe\nCapEff:\t0000000000280000\n")
	tree.write("proc/210/mountinfo", "62 1 8:48 / / rw,relatime shared:1 - ext4 /dev/vda rw\n")
	tree.write("proc/210/root/etc/containerd/config.toml", "version = 2\nroot = \"/var/lib/containerd\"\n[grpc]\n  address = \"/run/k3s/containerd/containerd.sock\"\n")
	tree.write("self/etc/hostname", "probe-1\n")

	r := Collect(context.Background(), Options{Proc: tree.proc(), SelfRoot: tree.selfRoot(), SelfPID: 905})
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
