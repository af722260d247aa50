package kubelaunch

import (
	"context"
	"os"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/dockprobe/dockprobe/agent/internal/kube"
	"github.com/dockprobe/dockprobe/agent/internal/launcher"
	"github.com/dockprobe/dockprobe/agent/internal/launcher/launchertest"
)

// TestConformance runs the launcher suite against one node of a real
// cluster: DOCKPROBE_KUBECONFIG, DOCKPROBE_KUBE_NODE, DOCKPROBE_KUBE_NAMESPACE
// (a namespace of the test's own, labelled privileged, with the probe image
// on the node) and DOCKPROBE_KUBE_IMAGE. e2e/k8s/agentk8s runs it against
// the real two-node cluster; without them it skips.
func TestConformance(t *testing.T) {
	kc, node, ns, image := os.Getenv("DOCKPROBE_KUBECONFIG"), os.Getenv("DOCKPROBE_KUBE_NODE"), os.Getenv("DOCKPROBE_KUBE_NAMESPACE"), os.Getenv("DOCKPROBE_KUBE_IMAGE")
	if kc == "" || node == "" || ns == "" || image == "" {
		t.Skip("no cluster: e2e/k8s/agentk8s sets DOCKPROBE_KUBECONFIG, DOCKPROBE_KUBE_NODE, DOCKPROBE_KUBE_NAMESPACE and DOCKPROBE_KUBE_IMAGE")
	}
	c, err := kube.Connect(kube.ConnOptions{Kubeconfig: kc})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nodes, err := kube.SelectNodes(ctx, c.CS, kube.Selection{Node: node})
	if err != nil {
		t.Fatal(err)
	}
	launchertest.Run(t, launchertest.Harness{
		New: func(t *testing.T) launcher.Launcher {
			r := kube.NewRunner(t.Context(), c, ns, image)
			r.Deadline = time.Minute
			return New(r, nodes[0])
		},
		Exists: func(t *testing.T, name string) bool {
			_, err := c.CS.CoreV1().Pods(ns).Get(t.Context(), name, metav1.GetOptions{})
			if err != nil && !apierrors.IsNotFound(err) {
				t.Fatalf("get pod %s: %v", name, err)
			}
			return err == nil
		},
		Exclusive: true, // the namespace is the test's own
		Version:   "conformance",
	})
}
