package collect

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCollectKubeletOfTheProbesNode runs the pipeline on a /proc shaped
// like a two-node test cluster on one machine: two containerd daemons
// with their own sockets, two kubelets, and the probe started by the
// second containerd's shim. The report's kubelet is the second node's,
// with its flags and its --config file.
func TestCollectKubeletOfTheProbesNode(t *testing.T) {
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
		{210, 1, "containerd", argv("containerd", "--config", "/etc/n1/containerd.toml", "--address", "/run/n1/containerd.sock")},
		{220, 1, "containerd", argv("containerd", "--config", "/etc/n2/containerd.toml", "--address", "/run/n2/containerd.sock")},
		{310, 1, "kubelet", argv("kubelet", "--config=/etc/n1/kubelet.yaml", "--container-runtime-endpoint=unix:///run/n1/containerd.sock", "--root-dir=/var/lib/n1/kubelet")},
		{320, 1, "kubelet", argv("kubelet", "--config=/etc/n2/kubelet.yaml", "--container-runtime-endpoint=unix:///run/n2/containerd.sock", "--root-dir=/var/lib/n2/kubelet", "--hostname-override=node2")},
		{880, 1, "containerd-shim", argv("/usr/bin/containerd-shim-runc-v2", "-namespace", "k8s.io", "-id", "9a2b", "-address", "/run/n2/containerd.sock")},
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
	write("proc/220/mountinfo", "62 1 8:48 / / rw,relatime shared:1 - ext4 /dev/vda rw\n")
	write("proc/320/root/etc/n2/kubelet.yaml", "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\ncgroupDriver: cgroupfs\nfailSwapOn: false\n")
	write("proc/220/root/etc/n2/containerd.toml", "version = 3\n[plugins.'io.containerd.cri.v1.runtime'.cni]\n  conf_dir = '/etc/n2/cni'\n")
	write("proc/220/root/etc/n2/cni/10-bridge.conflist", `{"cniVersion": "1.0.0", "name": "n2-pods", "plugins": [{"type": "bridge", "bridge": "cni-n2", "mtu": 1450, "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.88.2.0/24"}]]}}]}`)
	write("self/etc/hostname", "probe-1\n")

	r := Collect(context.Background(), Options{Proc: proc, SelfRoot: filepath.Join(dir, "self"), SelfPID: 905})
	checkComplete(t, r)
	if d := r.GetDaemon(); d.GetPid() != 220 {
		t.Fatalf("runtime = pid %d, want the second containerd", d.GetPid())
	}
	k := r.GetKubelet()
	if k.GetPid() != 320 || k.GetDataRoot() != "/var/lib/n2/kubelet" || k.GetContainerdAddress() != "unix:///run/n2/containerd.sock" ||
		k.GetConfigFile() != "/etc/n2/kubelet.yaml" || k.GetConfig().GetStructValue().GetFields()["cgroupDriver"].GetStringValue() != "cgroupfs" {
		t.Errorf("kubelet = %v", k)
	}
	if n := r.GetCniNetworks(); len(n) != 1 || n[0].GetName() != "n2-pods" {
		t.Errorf("cni networks = %v, want the second node's runtime's conf_dir", n)
	}
}
