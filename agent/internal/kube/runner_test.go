package kube_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	. "github.com/dockprobe/dockprobe/agent/internal/kube"
	"github.com/dockprobe/dockprobe/agent/internal/kube/kubetest"
)

func testRunner(cs *fake.Clientset) *Runner {
	return &Runner{Client: &Client{CS: kubetest.API(cs)}, Namespace: "dockprobe", Image: "dockprobe/probe:test", RunID: "run1",
		AgentHost: "h", AgentPID: 1, Deadline: time.Minute, AppArmorField: true, Now: time.Now}
}

func podsLeft(t *testing.T, cs *fake.Clientset) []string {
	t.Helper()
	list, err := cs.CoreV1().Pods("dockprobe").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range list.Items {
		names = append(names, p.Name)
	}
	return names
}

// An interrupt that lands while the create is in flight: the API server
// made the pod, the agent's request ended with its own cancellation. The
// pod must not stay behind (it did: the agent never learnt of it, and a
// watch's waited out its deadline).
func TestStartNeverLeavesAPodWhenInterruptedDuringCreate(t *testing.T) {
	for _, tc := range []struct {
		name string
		// answer is what the client sees of a create the server did.
		answer func(cancel context.CancelCauseFunc) error
	}{
		{"the request was cut short", func(cancel context.CancelCauseFunc) error {
			cancel(errors.New("interrupted (SIGINT)"))
			return context.Canceled // what client-go returns for a request whose context ended
		}},
		{"the answer came after the interrupt", func(cancel context.CancelCauseFunc) error {
			cancel(errors.New("interrupted (SIGINT)"))
			return nil
		}},
		{"the connection broke", func(context.CancelCauseFunc) error {
			return errors.New(`Post "https://k8s.example:6443/api/v1/namespaces/dockprobe/pods": unexpected EOF`)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs := fake.NewClientset()
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			cs.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, kruntime.Object, error) {
				pod := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod).DeepCopy()
				pod.UID = "uid-1"
				if err := cs.Tracker().Create(corev1.SchemeGroupVersion.WithResource("pods"), pod, pod.Namespace); err != nil {
					return true, nil, err
				}
				if err := tc.answer(cancel); err != nil {
					return true, nil, err
				}
				return true, pod, nil
			})
			kubeletWatch(cs, setState(corev1.PodRunning, corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}))
			pod, err := testRunner(cs).StartPod(ctx, "worker-1")
			if err == nil {
				t.Fatalf("started %s; want an error", pod.Name)
			}
			if !strings.Contains(err.Error(), "worker-1") {
				t.Errorf("error %q does not name the node", err)
			}
			if left := podsLeft(t, cs); len(left) != 0 {
				t.Errorf("pods left after the create was cut short: %v", left)
			}
		})
	}
}

// A create that failed without the server's answer deletes only this
// run's pod of that name, never a pod someone else made under it.
func TestStartSparesAnotherRunsPod(t *testing.T) {
	cs := fake.NewClientset()
	r := testRunner(cs)
	other := r.Pod("worker-1")
	other.Labels[LabelRun] = "another"
	other.UID = "uid-other"
	if err := cs.Tracker().Create(corev1.SchemeGroupVersion.WithResource("pods"), other, "dockprobe"); err != nil {
		t.Fatal(err)
	}
	cs.PrependReactor("create", "pods", func(k8stesting.Action) (bool, kruntime.Object, error) {
		return true, nil, errors.New("unexpected EOF")
	})
	if _, err := r.StartPod(context.Background(), "worker-1"); err == nil {
		t.Fatal("started")
	}
	if left := podsLeft(t, cs); len(left) != 1 {
		t.Errorf("pods %v; the other run's pod must stay", left)
	}
}

// A pod's own deadline (a watch's) reaches the waiting process, the exec'd
// server and activeDeadlineSeconds; the start is bounded by StartTimeout.
func TestStartDeadlineAndStartTimeout(t *testing.T) {
	cs := fake.NewClientset()
	kubeletWatch(cs, setState(corev1.PodPending, waiting("ContainerCreating", "")))
	r := testRunner(cs)
	r.StartTimeout = 50 * time.Millisecond
	t0 := time.Now()
	_, err := r.Start(context.Background(), PodStart{Node: "worker-1", Deadline: 24 * time.Hour})
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("err %v, want ErrTimeout after StartTimeout", err)
	}
	if took := time.Since(t0); took > 30*time.Second {
		t.Errorf("the start took %s; StartTimeout is 50ms", took)
	}
	p := r.PodFor(PodStart{Node: "worker-1", Deadline: 24 * time.Hour})
	if got := strings.Join(p.Spec.Containers[0].Args, " "); got != "--wait --deadline=24h0m0s --claim-within=8s" {
		t.Errorf("args %q", got)
	}
	if d := *p.Spec.ActiveDeadlineSeconds; d != 24*3600+30 {
		t.Errorf("activeDeadlineSeconds %d", d)
	}
	if left := podsLeft(t, cs); len(left) != 0 {
		t.Errorf("pods left after a failed start: %v", left)
	}
}
