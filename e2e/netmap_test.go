package e2e

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestNextSubnetPrediction checks net.next-subnet against what the engine
// really does. It lets dockerd allocate subnets from its pools, which moves
// dockerd's round-robin index for the rest of its life, so it lives in a
// file that sorts after linuxkit_test.go (whose new network must get
// 172.18.0.0/16).
//
// The prediction assumes the highest pool subnet in use is the last one
// dockerd handed out. Right after a create that is true whatever happened
// before, so: create A, predict, create B, compare.
func TestNextSubnetPrediction(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *engineEnv) {
		stamp := time.Now().UnixNano() % 1e6
		a, b := fmt.Sprintf("know-a-%d", stamp), fmt.Sprintf("know-b-%d", stamp)
		docker(t, e.Host, "network", "create", a)
		t.Cleanup(func() { exec.Command("docker", "-H", e.Host, "network", "rm", a).Run() })
		subnetA := docker(t, e.Host, "network", "inspect", "-f", "{{(index .IPAM.Config 0).Subnet}}", a)

		d := doctor(t, e, nil, "", 0)
		predicted := d.Knowledge.NextNetworkSubnet
		f := d.finding(t, "net.next-subnet")
		if !strings.Contains(f.Summary, predicted) || !strings.Contains(strings.Join(f.Evidence, "\n"), "in use "+subnetA) {
			t.Errorf("finding %+v", f)
		}

		docker(t, e.Host, "network", "create", b)
		t.Cleanup(func() { exec.Command("docker", "-H", e.Host, "network", "rm", b).Run() })
		subnetB := docker(t, e.Host, "network", "inspect", "-f", "{{(index .IPAM.Config 0).Subnet}}", b)
		if predicted != subnetB {
			t.Errorf("predicted %s after %s, the engine gave %s", predicted, subnetA, subnetB)
		}
		t.Logf("A got %s; predicted %s; B got %s", subnetA, predicted, subnetB)
	})
}
