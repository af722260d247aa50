// Package agentk8s runs the real agent against the real two-node cluster
// of e2e/k8s (`agent probe|bundle|diff|path|watch|cleanup --runtime
// kubernetes`): the product's own manifests (deploy/kubernetes) applied,
// the probe image loaded with `agent image save`, every node reported, a
// node made to fail, RBAC, a killed agent, a watch interrupted at every
// moment, path --check per node, --timeout, and cleanup.
package agentk8s

import (
	"fmt"
	"os"
	"testing"

	"github.com/dockprobe/dockprobe/e2e/k8s"
)

var cluster *k8s.Cluster

func TestMain(m *testing.M) {
	if os.Getenv("DOCKPROBE_E2E") != "1" {
		fmt.Println("e2e/k8s/agentk8s: not enabled; run `make e2e-k8s` (DOCKPROBE_E2E=1, root)")
		os.Exit(0)
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "e2e/k8s/agentk8s needs root (it runs kubelets)")
		os.Exit(1)
	}
	os.Exit(k8s.Main(m, func(c *k8s.Cluster) { cluster = c }))
}
