package cluster

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"testing"
	"time"

	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// TestClusterJSONGolden pins the proposed JSON shape of a cluster report:
// two nodes, one reported (its report shortened to the fields the cluster
// checks read) and one that failed, with the cluster findings.
func TestClusterJSONGolden(t *testing.T) {
	a := node("node-a", "10.244.0.0/24", routesTo("10.244.1.0/24"))
	a.Report.Interfaces, a.Report.Mounts, a.Report.CniNetworks = a.Report.Interfaces[1:2], nil, nil
	b := &probev1.NodeReport{Name: "node-b", Info: &probev1.NodeInfo{Ready: true, KernelVersion: "6.8.0-45-generic", PodCidrs: []string{"10.244.1.0/24"}},
		Error: &probev1.NodeError{Kind: KindImageMissing, Message: "node node-b does not have the probe image and the pod may not pull it: load it on the node: `agent image save -o probe.tar`, then ..."}}
	rep := Report(&probev1.Cluster{Server: "https://127.0.0.1:6443", Context: "kind-dev", Version: "v1.35.4", Platform: "linux/amd64", Namespace: "dockprobe", Selection: "all nodes"},
		&probev1.Tool{AgentVersion: "dev", ProbeVersion: "dev", ProtocolVersion: probev1.ProtocolVersion},
		[]*probev1.NodeReport{b, a}, time.Unix(1780000000, 0).UTC())
	got, err := MarshalJSON(rep)
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(got) {
		t.Fatal("invalid JSON")
	}
	const path = "testdata/cluster.golden.json"
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (run go test -update after checking the diff)\n%s", path, got)
	}
}
