package k8s

import (
	"context"
	"fmt"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// An image loaded onto some nodes only is what makes one node of a fan-out
// fail: a pod needing it on another node waits with ErrImageNeverPull.
func TestImageOnSomeNodesOnly(t *testing.T) {
	if len(cluster.Nodes) < 2 {
		t.Fatalf("needs 2 nodes, cluster has %d", len(cluster.Nodes))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tag := randomHex(t, 4)
	image := "dockprobe.local/e2e-partial:" + tag
	archive := filepath.Join(t.TempDir(), "partial.tar")
	if err := cluster.BuildImage(ctx, image, archive); err != nil {
		t.Fatal(err)
	}
	have, lack := cluster.Nodes[0], cluster.Nodes[1]
	if err := cluster.LoadImage(ctx, archive, have.Name, lack.Name); err != nil {
		t.Fatal(err)
	}
	if err := cluster.RemoveImage(ctx, image, lack.Name); err != nil {
		t.Fatal(err)
	}
	if err := cluster.LoadImage(ctx, archive, "no-such-node"); err == nil || !strings.Contains(err.Error(), "no node named") {
		t.Fatalf("load onto an unknown node: %v, want 'no node named'", err)
	}

	name := "partial-" + tag
	manifest := fmt.Sprintf(`{"apiVersion": "v1", "kind": "Pod",
  "metadata": {"name": %q},
  "spec": {"nodeName": %q, "restartPolicy": "Never", "automountServiceAccountToken": false,
    "containers": [{"name": "tool", "image": %q, "imagePullPolicy": "Never"}]}}`, name, lack.Name, image)
	if err := cluster.Apply(ctx, manifest); err != nil {
		t.Fatal(err)
	}
	defer cluster.Kubectl(context.Background(), "delete", "pod", name, "--grace-period=0", "--force", "--wait=false")
	deadline := time.Now().Add(60 * time.Second)
	for {
		reason, err := cluster.Kubectl(ctx, "get", "pod", name, "-o", "jsonpath={.status.containerStatuses[0].state.waiting.reason}")
		if err != nil {
			t.Fatal(err)
		}
		if reason == "ErrImageNeverPull" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod on %s waits with %q, want ErrImageNeverPull", lack.Name, reason)
		}
		time.Sleep(250 * time.Millisecond)
	}
	out, err := osexec.CommandContext(ctx, "ctr", "--address", have.ContainerdSock, "-n", "k8s.io", "images", "ls", "-q").CombinedOutput()
	if err != nil || !strings.Contains(string(out), image) {
		t.Fatalf("%s lost the image: %v\n%s", have.Name, err, out)
	}
}
