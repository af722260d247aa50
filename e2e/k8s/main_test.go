package k8s

import (
	"fmt"
	"os"
	"testing"
)

var cluster *Cluster

func TestMain(m *testing.M) {
	if os.Getenv("DOCKPROBE_E2E") != "1" {
		fmt.Println("e2e/k8s: not enabled; run `make e2e-k8s` (DOCKPROBE_E2E=1, root)")
		os.Exit(0)
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "e2e/k8s needs root (it creates namespaces and runs kubelets)")
		os.Exit(1)
	}
	os.Exit(Main(m, func(c *Cluster) { cluster = c }))
}
