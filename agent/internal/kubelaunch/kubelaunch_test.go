package kubelaunch

import (
	"context"
	"errors"
	"os"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"

	"github.com/dockprobe/dockprobe/agent/internal/kube"
	"github.com/dockprobe/dockprobe/agent/internal/kube/kubetest"
	"github.com/dockprobe/dockprobe/agent/internal/launcher"
	"github.com/dockprobe/dockprobe/agent/internal/launcher/launchertest"
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

// The launcher conformance suite against a cluster in memory (the same
// suite runs against a real node in e2e/k8s/agentk8s).
func TestConformanceFake(t *testing.T) {
	c := kubetest.New("n1")
	nodes, err := kube.SelectNodes(context.Background(), kubetest.API(c.CS), kube.Selection{Node: "n1"})
	if err != nil {
		t.Fatal(err)
	}
	launchertest.Run(t, launchertest.Harness{
		New: func(t *testing.T) launcher.Launcher { return New(c.Runner(), nodes[0]) },
		Exists: func(t *testing.T, name string) bool {
			return slices.Contains(c.Pods(), name)
		},
		Exclusive: true,
		Version:   "conformance",
	})
}

// A watch that lost its probe starts another on the same node: the new
// pod has a name of its own (the old one may still be terminating) and
// the watch's deadline, not a probe run's.
func TestStartAgainOnTheSameNode(t *testing.T) {
	c := kubetest.New("n1")
	r := c.Runner()
	n := New(r, kube.Node{Name: "n1"})
	ctx := context.Background()
	first, err := n.Start(ctx, launcher.Options{Version: "t", Deadline: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	second, err := n.Start(ctx, launcher.Options{Version: "t", Deadline: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	pods := c.Pods()
	want := []string{kube.PodName("n1", r.RunID), kube.PodNameSeq("n1", r.RunID, 2)}
	if !slices.Equal(pods, want) {
		t.Errorf("pods %v, want %v", pods, want)
	}
	p, err := c.CS.CoreV1().Pods("dockprobe").Get(ctx, want[1], metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(p.Spec.Containers[0].Args, "--deadline=24h0m0s") {
		t.Errorf("the watch's pod waits %v; want its own deadline", p.Spec.Containers[0].Args)
	}
	first.Close()
	second.Abort()
	if left := c.Pods(); len(left) != 0 {
		t.Errorf("pods left: %v", left)
	}
}

// cleanup warns of each pod it could not delete and goes on; a user who
// may delete no pod gets the one refusal (exit 13), not a warning per pod.
func TestCleanupFailures(t *testing.T) {
	for _, tc := range []struct {
		name        string
		fail        func(name string) error
		wantRemoved int
		wantWarned  []string
		wantErr     error
	}{
		{"one pod fails", func(name string) error {
			if name == "p2" {
				return errors.New("etcdserver: request timed out")
			}
			return nil
		}, 1, []string{"p2"}, nil},
		{"delete forbidden", func(name string) error {
			return apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, name, errors.New(`User "carol" cannot delete resource "pods"`))
		}, 0, nil, kube.ErrForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, cs := runnerWithFake()
			for _, name := range []string{"p1", "p2"} {
				p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "dockprobe", Labels: map[string]string{kube.LabelManagedBy: kube.ManagedBy, kube.LabelRun: "old"}}}
				if _, err := cs.CoreV1().Pods("dockprobe").Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			cs.PrependReactor("delete", "pods", func(a k8stesting.Action) (bool, kruntime.Object, error) {
				if err := tc.fail(a.(k8stesting.DeleteAction).GetName()); err != nil {
					return true, nil, err
				}
				return false, nil, nil
			})
			var warned []string
			removed, err := New(r, kube.Node{}).Cleanup(context.Background(), func(name string, err error) { warned = append(warned, name) })
			if len(removed) != tc.wantRemoved || !slices.Equal(warned, tc.wantWarned) || !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Errorf("removed %v, warned %v, err %v; want %d removed, warned %v, err %v", removed, warned, err, tc.wantRemoved, tc.wantWarned, tc.wantErr)
			}
		})
	}
}
