package diff

import (
	"testing"

	"google.golang.org/protobuf/encoding/protojson"

	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// TestCompareClusters: node by node: a node gone, a node now failing, and
// a change inside a node's report, each under its node.
func TestCompareClusters(t *testing.T) {
	rep := func(mtu int32) *probev1.Report {
		return &probev1.Report{Interfaces: []*probev1.Interface{{Name: "eth0", Mtu: mtu}}}
	}
	a := &probev1.ClusterReport{Cluster: &probev1.Cluster{}, Nodes: []*probev1.NodeReport{
		{Name: "n1", Report: rep(1500)},
		{Name: "n2", Report: rep(1500)},
		{Name: "n3", Report: rep(1500)},
	}}
	b := &probev1.ClusterReport{Cluster: &probev1.Cluster{}, Nodes: []*probev1.NodeReport{
		{Name: "n1", Report: rep(1400)},
		{Name: "n2", Error: &probev1.NodeError{Kind: "image-missing"}},
	}}
	got := map[string][]Change{}
	for _, c := range CompareClusters(a, b) {
		got[c.Node] = append(got[c.Node], c)
	}
	if cs := got["n1"]; len(cs) == 0 || cs[0].Section != "interfaces" {
		t.Errorf("n1: %+v, want its interface's MTU change", cs)
	}
	if cs := got["n2"]; len(cs) != 1 || cs[0].Key != "state" || cs[0].After != "error: image-missing" {
		t.Errorf("n2: %+v, want its state change", cs)
	}
	if cs := got["n3"]; len(cs) != 1 || cs[0].Change != "removed" {
		t.Errorf("n3: %+v, want removed", cs)
	}
	// A node's kubelet (flags and config) and CNI networks are its own
	// sections.
	kub := func(maxPods, subnet string) *probev1.Report {
		return &probev1.Report{
			Kubelet:     &probev1.Daemon{Found: true, ConfigFile: "/var/lib/kubelet/config.yaml", Flags: []*probev1.Flag{{Name: "max-pods", Value: maxPods, HasValue: true}}},
			CniNetworks: []*probev1.Network{{Name: "cbr0", Driver: "bridge", Subnets: []*probev1.Subnet{{Subnet: subnet}}}},
		}
	}
	ka := &probev1.ClusterReport{Nodes: []*probev1.NodeReport{{Name: "n1", Report: kub("110", "10.244.0.0/24")}}}
	kb := &probev1.ClusterReport{Nodes: []*probev1.NodeReport{{Name: "n1", Report: kub("250", "10.88.0.0/16")}}}
	sections := map[string]bool{}
	for _, c := range CompareClusters(ka, kb) {
		sections[c.Section] = true
	}
	if !sections["kubelet-flags"] || !sections["cni"] || len(sections) != 2 {
		t.Errorf("kubelet flag and CNI changes: sections %v, want kubelet-flags and cni", sections)
	}
	if len(CompareClusters(a, a)) != 0 {
		t.Error("a cluster differs from itself")
	}
	// LoadCluster tells a cluster report from a single one.
	j, _ := protojson.Marshal(a)
	if _, ok, err := LoadCluster(j); !ok || err != nil {
		t.Errorf("LoadCluster(cluster) = %v, %v", ok, err)
	}
	j, _ = protojson.Marshal(rep(1500))
	if _, ok, _ := LoadCluster(j); ok {
		t.Error("LoadCluster took a single report for a cluster")
	}
}
