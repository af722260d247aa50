package kubelaunch

import (
	"context"
	"errors"
	"os"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"

	"github.com/dockprobe/dockprobe/agent/internal/kube"
	"github.com/dockprobe/dockprobe/agent/internal/kube/kubetest"
	"github.com/dockprobe/dockprobe/agent/internal/launcher"
)

func runner() *kube.Runner {
	r, _ := runnerWithFake()
	return r
}

// runnerWithFake is runner and its fake clientset.
func runnerWithFake() (*kube.Runner, *fake.Clientset) {
	cs := fake.NewClientset()
	return &kube.Runner{Client: &kube.Client{Config: &rest.Config{Host: "https://k8s.example:6443"}, CS: kubetest.API(cs)}, Namespace: "dockprobe", RunID: "run1"}, cs
}

// Facts are the node as the API records it; no call is made.
func TestFacts(t *testing.T) {
	n := New(runner(), kube.Node{Name: "n1", Object: &corev1.Node{Status: corev1.NodeStatus{NodeInfo: corev1.NodeSystemInfo{
		KubeletVersion: "v1.35.4", ContainerRuntimeVersion: "containerd://2.4.2", KernelVersion: "6.6", Architecture: "amd64", OSImage: "Debian",
	}}}})
	e, errs := n.Facts(context.Background())
	if len(errs) != 0 || e.GetName() != "n1" || e.GetServerVersion() != "v1.35.4" || e.GetDefaultRuntime() != "containerd://2.4.2" || e.GetKernelVersion() != "6.6" {
		t.Errorf("facts %+v, errors %v", e, errs)
	}
	if n.Runtime() != Runtime {
		t.Errorf("runtime %q", n.Runtime())
	}
}

// The namespace's launcher (no node) refuses to start a probe with a
// usage error; a node that is not Ready gets its own error, no pod.
func TestStartWithoutNode(t *testing.T) {
	if _, err := New(runner(), kube.Node{}).Start(context.Background(), launcher.Options{}); !errors.Is(err, ErrNoNode) {
		t.Errorf("no node: %v, want ErrNoNode", err)
	}
	notReady := errors.Join(kube.ErrNodeNotReady)
	if _, err := New(runner(), kube.Node{Name: "n2", NotReady: notReady}).Start(context.Background(), launcher.Options{}); !errors.Is(err, kube.ErrNodeNotReady) {
		t.Errorf("not ready: %v", err)
	}
}

// Cleanup deletes dockprobe's pods and never another's.
func TestCleanup(t *testing.T) {
	r, cs := runnerWithFake()
	for _, p := range []*corev1.Pod{
		{ObjectMeta: metav1.ObjectMeta{Name: "probe", Namespace: "dockprobe", Labels: map[string]string{kube.LabelManagedBy: kube.ManagedBy, kube.LabelRun: "old"}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "foreign", Namespace: "dockprobe", Labels: map[string]string{"app": "x"}}},
	} {
		if _, err := cs.CoreV1().Pods("dockprobe").Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	removed, err := New(r, kube.Node{}).Cleanup(context.Background(), func(string, error) {})
	if err != nil || len(removed) != 1 || removed[0] != "probe" {
		t.Fatalf("removed %v, %v; want [probe]", removed, err)
	}
	if _, err := cs.CoreV1().Pods("dockprobe").Get(context.Background(), "foreign", metav1.GetOptions{}); err != nil {
		t.Errorf("the foreign pod is gone: %v", err)
	}
}

// Alive: an agent on another host cannot be known (alive); this process is.
func TestAlive(t *testing.T) {
	h, _ := os.Hostname()
	if !Alive(h, os.Getpid()) || !Alive("another-host", 1<<30) {
		t.Error("Alive")
	}
}
