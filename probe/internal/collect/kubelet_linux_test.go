package collect

import (
	"context"
	"testing"
)

// TestCollectKubeletOfTheProbesNode runs the pipeline on a /proc shaped
// like a two-node test cluster on one machine: two containerd daemons
// with their own sockets, two kubelets, and the probe started by the
// second containerd's shim. The report's kubelet is the second node's,
// with its flags and its --config file.
func TestCollectKubeletOfTheProbesNode(t *testing.T) {
	tree := newProcTree(t, []fakeProc{
		{1, 0, "init", []string{"/sbin/init"}},
		{210, 1, "containerd", []string{"containerd", "--config", "/etc/n1/containerd.toml", "--address", "/run/n1/containerd.sock"}},
		{220, 1, "containerd", []string{"containerd", "--config", "/etc/n2/containerd.toml", "--address", "/run/n2/containerd.sock"}},
		{310, 1, "kubelet", []string{"kubelet", "--config=/etc/n1/kubelet.yaml", "--container-runtime-endpoint=unix:///run/n1/containerd.sock", "--root-dir=/var/lib/n1/kubelet"}},
		{320, 1, "kubelet", []string{"kubelet", "--config=/etc/n2/kubelet.yaml", "--container-runtime-endpoint=unix:///run/n2/containerd.sock", "--root-dir=/var/lib/n2/kubelet", "--hostname-override=node2"}},
		{880, 1, "containerd-shim", []string{"/usr/bin/containerd-shim-runc-v2", "-namespace", "k8s.io", "-id", "9a2b", "-address", "/run/n2/containerd.sock"}},
		{905, 880, "probe", []string{"/probe"}},
	})
	tree.write("proc/905/status", "Name:\tprobe\nCapEff:\t0000000000280000\n")
	tree.write("proc/220/mountinfo", "62 1 8:48 / / rw,relatime shared:1 - ext4 /dev/vda rw\n")
	tree.write("proc/320/root/etc/n2/kubelet.yaml", "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\ncgroupDriver: cgroupfs\nfailSwapOn: false\n")
	tree.write("proc/220/root/etc/n2/containerd.toml", "version = 3\n[plugins.'io.containerd.cri.v1.runtime'.cni]\n  conf_dir = '/etc/n2/cni'\n")
	tree.write("proc/220/root/etc/n2/cni/10-bridge.conflist", `{"cniVersion": "1.0.0", "name": "n2-pods", "plugins": [{"type": "bridge", "bridge": "cni-n2", "mtu": 1450, "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.88.2.0/24"}]]}}]}`)
	tree.write("self/etc/hostname", "probe-1\n")

	r := Collect(context.Background(), Options{Proc: tree.proc(), SelfRoot: tree.selfRoot(), SelfPID: 905})
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
