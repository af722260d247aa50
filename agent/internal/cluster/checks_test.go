package cluster

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/structpb"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/dockprobe/dockprobe/agent/internal/checks"
	"github.com/dockprobe/dockprobe/agent/internal/kube"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// node is a probed node shaped like a kubeadm worker on containerd with
// flannel: the facts the checks read, each overridable by a test.
func node(name, podCIDR string, edit ...func(*probev1.NodeReport)) *probev1.NodeReport {
	cfg, _ := structpb.NewValue(map[string]any{"cgroupDriver": "systemd", "maxPods": 110.0, "staticPodPath": "/etc/kubernetes/manifests", "clusterDNS": []any{"10.96.0.10"}})
	n := &probev1.NodeReport{
		Name: name,
		Info: &probev1.NodeInfo{Ready: true, KernelVersion: "6.8.0-45-generic", ContainerRuntimeVersion: "containerd://2.4.2", KubeletVersion: "v1.35.4", PodCidrs: []string{podCIDR}},
		Report: &probev1.Report{
			Target: &probev1.Target{KernelRelease: "6.8.0-45-generic"},
			Daemon: &probev1.Daemon{Found: true, Flags: []*probev1.Flag{{Name: "config", Value: "/etc/containerd/config.toml", HasValue: true}, {Name: "log-level", Value: "info", HasValue: true}}},
			Kubelet: &probev1.Daemon{Found: true, Config: cfg, Flags: []*probev1.Flag{
				{Name: "config", Value: "/var/lib/kubelet/config.yaml", HasValue: true},
				{Name: "node-ip", Value: "10.0.0." + name[len(name)-1:], HasValue: true},
				{Name: "container-runtime-endpoint", Value: "unix:///run/containerd/containerd.sock", HasValue: true},
			}},
			CniNetworks: []*probev1.Network{{Name: "cbr0", Driver: "flannel", Options: map[string]string{"cni.plugins": "flannel,portmap", "cni.version": "0.3.1", "cni.file": "/etc/cni/net.d/10-flannel.conflist"}}},
			Interfaces: []*probev1.Interface{
				{Name: "lo", Kind: "loopback", Mtu: 65536},
				{Name: "eth0", Kind: "device", Mtu: 1500},
				{Name: "flannel.1", Kind: "vxlan", Mtu: 1450},
				{Name: "cni0", Kind: "bridge", Mtu: 1450},
			},
			Routes: []*probev1.Route{
				{Family: "inet", Destination: "default", Gateway: "10.0.0.1", Device: "eth0", Table: 254},
				{Family: "inet", Destination: podCIDR, Device: "cni0", Table: 254},
			},
			Mounts: []*probev1.Mount{{MountPoint: "/"}, {MountPoint: "/run/desktop/mnt/host/c", FsType: "9p", Propagation: "shared"}},
		},
	}
	for _, e := range edit {
		e(n)
	}
	return n
}

// routesTo adds the flannel routes to other nodes' pod CIDRs.
func routesTo(cidrs ...string) func(*probev1.NodeReport) {
	return func(n *probev1.NodeReport) {
		for _, c := range cidrs {
			n.Report.Routes = append(n.Report.Routes, &probev1.Route{Family: "inet", Destination: c, Gateway: strings.TrimSuffix(c, "/24"), Device: "flannel.1", Table: 254})
		}
	}
}

// healthy is three nodes that agree on everything and route to each other.
func healthy(edits map[string]func(*probev1.NodeReport)) []*probev1.NodeReport {
	e := func(name string) []func(*probev1.NodeReport) {
		if f, ok := edits[name]; ok {
			return []func(*probev1.NodeReport){f}
		}
		return nil
	}
	return []*probev1.NodeReport{
		node("node-a", "10.244.0.0/24", append([]func(*probev1.NodeReport){routesTo("10.244.1.0/24", "10.244.2.0/24")}, e("node-a")...)...),
		node("node-b", "10.244.1.0/24", append([]func(*probev1.NodeReport){routesTo("10.244.0.0/24", "10.244.2.0/24")}, e("node-b")...)...),
		node("node-c", "10.244.2.0/24", append([]func(*probev1.NodeReport){routesTo("10.244.0.0/24", "10.244.1.0/24")}, e("node-c")...)...),
	}
}

func byID(fs []*probev1.Finding) map[string]*probev1.Finding {
	m := map[string]*probev1.Finding{}
	for _, f := range fs {
		m[f.Id] = f
	}
	return m
}

func TestHealthyClusterPasses(t *testing.T) {
	fs := Checks(healthy(nil))
	if len(fs) != len(all()) {
		t.Fatalf("%d findings for %d checks", len(fs), len(all()))
	}
	for _, f := range fs {
		if f.Status != checks.Pass {
			t.Errorf("%s: %s %s %v", f.Id, f.Status, f.Summary, f.Evidence)
		}
	}
}

func TestClusterChecks(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edits map[string]func(*probev1.NodeReport)
		id    string
		want  string // the status
		ev    string // a line of evidence that must be there
	}{
		{"kernel", map[string]func(*probev1.NodeReport){"node-b": func(n *probev1.NodeReport) { n.Report.Target.KernelRelease = "5.15.0-1" }},
			IDKernel, checks.Warn, "5.15.0-1 on node-b; 6.8.0-45-generic on node-a, node-c"},
		{"kernel from the API when the probe failed", map[string]func(*probev1.NodeReport){"node-c": func(n *probev1.NodeReport) {
			n.Report, n.Error, n.Info.KernelVersion = nil, &probev1.NodeError{Kind: KindImageMissing, Message: "x"}, "6.1.0"
		}}, IDKernel, checks.Warn, "6.1.0 on node-c"},
		{"runtime version", map[string]func(*probev1.NodeReport){"node-a": func(n *probev1.NodeReport) { n.Info.ContainerRuntimeVersion = "containerd://1.7.27" }},
			IDRuntimeVersion, checks.Warn, "containerd://1.7.27 on node-a"},
		{"runtime flag", map[string]func(*probev1.NodeReport){"node-c": func(n *probev1.NodeReport) { n.Report.Daemon.Flags[1].Value = "debug" }},
			IDRuntimeFlags, checks.Warn, "--log-level: debug on node-c; info on node-a, node-b"},
		{"runtime paths are per node", map[string]func(*probev1.NodeReport){"node-c": func(n *probev1.NodeReport) { n.Report.Daemon.Flags[0].Value = "/etc/n3/config.toml" }},
			IDRuntimeFlags, checks.Pass, ""},
		{"kubelet config", map[string]func(*probev1.NodeReport){"node-b": func(n *probev1.NodeReport) {
			n.Report.Kubelet.Config.GetStructValue().Fields["cgroupDriver"] = structpb.NewStringValue("cgroupfs")
		}}, IDKubelet, checks.Warn, `config cgroupDriver: "cgroupfs" on node-b; "systemd" on node-a, node-c`},
		{"kubelet flag only on one node", map[string]func(*probev1.NodeReport){"node-a": func(n *probev1.NodeReport) {
			n.Report.Kubelet.Flags = append(n.Report.Kubelet.Flags, &probev1.Flag{Name: "fail-swap-on", Value: "false", HasValue: true})
		}}, IDKubelet, checks.Warn, "--fail-swap-on: (absent) on node-b, node-c; false on node-a"},
		{"node identity is not a difference", nil, IDKubelet, checks.Pass, ""},
		{"cni", map[string]func(*probev1.NodeReport){"node-c": func(n *probev1.NodeReport) { n.Report.CniNetworks[0].Options["cni.plugins"] = "flannel" }},
			IDCNI, checks.Warn, "network cbr0: type flannel, plugins flannel, cniVersion 0.3.1"},
		{"cni missing on a node", map[string]func(*probev1.NodeReport){"node-b": func(n *probev1.NodeReport) { n.Report.CniNetworks = nil }},
			IDCNI, checks.Warn, "(absent) on node-b"},
		{"mtu", map[string]func(*probev1.NodeReport){"node-a": func(n *probev1.NodeReport) { n.Report.Interfaces[1].Mtu = 1400 }},
			IDMTU, checks.Warn, "default route's interface: 1400 on node-a; 1500 on node-b, node-c"},
		{"pod routes", map[string]func(*probev1.NodeReport){"node-b": func(n *probev1.NodeReport) { n.Report.Routes = n.Report.Routes[:2] }},
			IDPodRoutes, checks.Warn, "node-b has no route to node-a's pod CIDR 10.244.0.0/24"},
		{"a wider route covers", map[string]func(*probev1.NodeReport){"node-b": func(n *probev1.NodeReport) {
			n.Report.Routes = append(n.Report.Routes[:2], &probev1.Route{Family: "inet", Destination: "10.244.0.0/16", Device: "tunl0"})
		}}, IDPodRoutes, checks.Pass, ""},
		{"share on some nodes only", map[string]func(*probev1.NodeReport){"node-c": func(n *probev1.NodeReport) { n.Report.Mounts = n.Report.Mounts[:1] }},
			IDHostShares, checks.Warn, "/run/desktop/mnt/host/c: (absent) on node-c; 9p shared on node-a, node-b"},
		{"share propagation", map[string]func(*probev1.NodeReport){"node-a": func(n *probev1.NodeReport) { n.Report.Mounts[1].Propagation = "private" }},
			IDHostShares, checks.Warn, "9p private on node-a"},
		{"failed node", map[string]func(*probev1.NodeReport){"node-b": func(n *probev1.NodeReport) {
			n.Report, n.Error = nil, &probev1.NodeError{Kind: KindTimeout, Message: "node node-b: no answer within its deadline of 1m0s"}
		}}, IDNodesProbed, checks.Warn, "node-b: timeout: node node-b: no answer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := byID(Checks(healthy(tc.edits)))[tc.id]
			if f.Status != tc.want {
				t.Fatalf("%s: %s (%s) %v, want %s", tc.id, f.Status, f.Summary, f.Evidence, tc.want)
			}
			if tc.ev != "" && !strings.Contains(strings.Join(f.Evidence, "\n"), tc.ev) {
				t.Errorf("evidence %q lacks %q", f.Evidence, tc.ev)
			}
			if tc.want == checks.Warn && f.Fix == "" {
				t.Error("a warning says what to do")
			}
		})
	}
}

func TestClusterChecksSkip(t *testing.T) {
	one := Checks([]*probev1.NodeReport{node("solo", "10.244.0.0/24")})
	for _, f := range one {
		if f.Id != IDNodesProbed && f.Status != checks.Skip {
			t.Errorf("one node: %s %s", f.Id, f.Status)
		}
	}
	noShares := healthy(map[string]func(*probev1.NodeReport){})
	for _, n := range noShares {
		n.Report.Mounts = n.Report.Mounts[:1]
	}
	if f := byID(Checks(noShares))[IDHostShares]; f.Status != checks.Skip {
		t.Errorf("no shares anywhere: %s", f.Status)
	}
	allFailed := []*probev1.NodeReport{{Name: "a", Error: &probev1.NodeError{Kind: KindForbidden}}, {Name: "b", Error: &probev1.NodeError{Kind: KindForbidden}}}
	if f := byID(Checks(allFailed))[IDNodesProbed]; f.Status != checks.Fail {
		t.Errorf("all failed: %s", f.Status)
	}
	if fs := Checks(allFailed); fs[0].Id != IDNodesProbed {
		t.Errorf("most severe first: %s", fs[0].Id)
	}
}

func TestErrorKind(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("x: %w", kube.ErrImageMissing), KindImageMissing},
		{&kube.ForbiddenError{Verb: "create", Resource: "pods"}, KindForbidden},
		{fmt.Errorf("%w: %w: y", kube.ErrConfig, kube.ErrPodSecurity), KindPodSecurity},
		{fmt.Errorf("%w: z", kube.ErrTimeout), KindTimeout},
		{kube.ErrNodeNotReady, KindNotReady},
		{kube.ErrPodFailed, KindPodFailed},
		{errors.New("handshake: probe gone"), KindProbeFailed},
	} {
		if got := ErrorKind(tc.err); got != tc.want {
			t.Errorf("%v: %s, want %s", tc.err, got, tc.want)
		}
	}
}

func TestNodeAndReport(t *testing.T) {
	obj := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "cp", Labels: map[string]string{"node-role.kubernetes.io/control-plane": "", "kubernetes.io/arch": "amd64"}},
		Spec:       corev1.NodeSpec{PodCIDR: "10.244.0.0/24"},
		Status: corev1.NodeStatus{
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
			Addresses:  []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.0.0.1"}, {Type: corev1.NodeHostName, Address: "cp"}},
			NodeInfo:   corev1.NodeSystemInfo{KernelVersion: "6.8.0", ContainerRuntimeVersion: "containerd://2.4.2", KubeletVersion: "v1.35.4", Architecture: "amd64", OSImage: "Debian GNU/Linux 13"},
		},
	}
	ok := Node(kube.Node{Name: "cp", Object: obj}, &probev1.Report{}, nil, 1500*time.Millisecond, "dockprobe-cp-1")
	if ok.Report == nil || ok.Error != nil || ok.DurationMs != 1500 || !ok.Info.Ready || ok.Info.Roles[0] != "control-plane" ||
		ok.Info.PodCidrs[0] != "10.244.0.0/24" || ok.Info.InternalIps[0] != "10.0.0.1" || ok.Info.ContainerRuntimeVersion != "containerd://2.4.2" {
		t.Errorf("%+v", ok)
	}
	nr := Node(kube.Node{Name: "w", NotReady: fmt.Errorf("%w: node w is NotReady", kube.ErrNodeNotReady)}, nil, nil, 0, "")
	if nr.Report != nil || nr.Error.GetKind() != KindNotReady {
		t.Errorf("%+v", nr)
	}
	rep := Report(&probev1.Cluster{Server: "https://127.0.0.1:6443", Version: "v1.35.4"}, nil, []*probev1.NodeReport{nr, ok}, time.Unix(1, 0))
	if rep.Nodes[0].Name != "cp" || len(rep.Findings) != len(all()) || rep.SchemaVersion != 1 {
		t.Errorf("%v", rep)
	}
}

// docs/findings.md documents every cluster check ID.
func TestFindingsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../../docs/findings.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range all() {
		if !strings.Contains(string(doc), "`"+c.id+"`") {
			t.Errorf("docs/findings.md does not document %s", c.id)
		}
	}
}
