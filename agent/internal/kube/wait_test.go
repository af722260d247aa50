package kube_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	. "github.com/dockprobe/dockprobe/agent/internal/kube"
	"github.com/dockprobe/dockprobe/agent/internal/kube/kubetest"
)

func podWith(phase corev1.PodPhase, state corev1.ContainerState) *corev1.Pod {
	p := BuildPod(TestPodOptions())
	p.Status.Phase = phase
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: ContainerName, Image: "dockprobe/probe:v1.2.3", State: state}}
	return p
}

func waiting(reason, msg string) corev1.ContainerState {
	return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: msg}}
}

func TestPodState(t *testing.T) {
	running := corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	deleting := podWith(corev1.PodRunning, running)
	deleting.DeletionTimestamp = &metav1.Time{Time: time.Unix(1, 0)}
	apparmor := podWith(corev1.PodFailed, corev1.ContainerState{})
	// The kubelet's admission refusal, as it writes it.
	apparmor.Status.Reason, apparmor.Status.Message = "AppArmor", "Cannot enforce AppArmor: AppArmor is not enabled on the host"
	deadline := podWith(corev1.PodFailed, corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 137, Reason: "Error"}})
	deadline.Status.Reason, deadline.Status.Message = "DeadlineExceeded", "Pod was active on the node longer than the specified deadline"

	for _, tc := range []struct {
		name    string
		pod     *corev1.Pod
		ok      bool
		want    error
		mention []string
	}{
		{"no status yet", podWith("", corev1.ContainerState{}), false, nil, nil},
		{"creating", podWith(corev1.PodPending, waiting("ContainerCreating", "")), false, nil, nil},
		{"running", podWith(corev1.PodRunning, running), true, nil, nil},
		{"never pull", podWith(corev1.PodPending, waiting("ErrImageNeverPull", `Container image "dockprobe/probe:v1.2.3" is not present with pull policy of Never`)),
			false, ErrImageMissing, []string{"agent image save -o probe.tar", "ctr -n k8s.io images import", "docker load", "agent image push", "node worker-1"}},
		{"pull backoff", podWith(corev1.PodPending, waiting("ImagePullBackOff", `Back-off pulling image "registry.example/probe:1"`)),
			false, ErrImageMissing, []string{"could not pull", "ImagePullBackOff", "--image"}},
		{"pull error", podWith(corev1.PodPending, waiting("ErrImagePull", "failed to pull and unpack image\nsecond line")), false, ErrImageMissing, []string{"failed to pull and unpack image"}},
		{"create config", podWith(corev1.PodPending, waiting("CreateContainerConfigError", "secret \"x\" not found")), false, ErrPodFailed, []string{"CreateContainerConfigError"}},
		{"create", podWith(corev1.PodPending, waiting("CreateContainerError", "failed to create containerd container: mount denied")), false, ErrPodFailed, []string{"mount denied"}},
		{"run", podWith(corev1.PodPending, waiting("RunContainerError", "runc create failed")), false, ErrPodFailed, []string{"runc create failed"}},
		{"apparmor refusal", apparmor, false, ErrPodFailed, []string{"AppArmor is not enabled"}},
		{"deadline", deadline, false, ErrPodFailed, []string{"DeadlineExceeded", "exit code 137"}},
		{"exited", podWith(corev1.PodRunning, corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 2, Message: "usage"}}), false, ErrPodFailed, []string{"exit code 2"}},
		{"succeeded", podWith(corev1.PodSucceeded, corev1.ContainerState{}), false, ErrPodFailed, []string{"ended before"}},
		{"deleting", deleting, false, ErrPodFailed, []string{"being deleted"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, _, err := PodState(tc.pod)
			if ok != tc.ok || !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("ok %v err %v; want ok %v err %v", ok, err, tc.ok, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
			for _, m := range tc.mention {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
		})
	}
}

// kubeletWatch answers every pod watch with the given states of the
// watched pod, one event each, then leaves the watch open.
func kubeletWatch(cs *fake.Clientset, states ...func(*corev1.Pod)) {
	cs.PrependWatchReactor("pods", func(a k8stesting.Action) (bool, watch.Interface, error) {
		name, _ := a.(k8stesting.WatchActionImpl).GetWatchRestrictions().Fields.RequiresExactMatch("metadata.name")
		w := watch.NewFakeWithChanSize(len(states)+1, false)
		obj, err := cs.Tracker().Get(corev1.SchemeGroupVersion.WithResource("pods"), a.GetNamespace(), name)
		if err != nil {
			return true, nil, err
		}
		for _, st := range states {
			p := obj.(*corev1.Pod).DeepCopy()
			st(p)
			if p.Status.Phase == "deleted" {
				w.Delete(p)
				continue
			}
			w.Modify(p)
		}
		return true, w, nil
	})
}

func setState(phase corev1.PodPhase, s corev1.ContainerState) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Status.Phase = phase
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: ContainerName, Image: p.Spec.Containers[0].Image, State: s}}
	}
}

func TestWaitRunning(t *testing.T) {
	run := corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	for _, tc := range []struct {
		name   string
		states []func(*corev1.Pod)
		want   error
	}{
		{"creating then running", []func(*corev1.Pod){setState(corev1.PodPending, waiting("ContainerCreating", "")), setState(corev1.PodRunning, run)}, nil},
		{"missing image", []func(*corev1.Pod){setState(corev1.PodPending, waiting("ContainerCreating", "")), setState(corev1.PodPending, waiting("ErrImageNeverPull", "not present"))}, ErrImageMissing},
		{"deleted", []func(*corev1.Pod){func(p *corev1.Pod) { p.Status.Phase = "deleted" }}, ErrPodFailed},
		{"never starts", []func(*corev1.Pod){setState(corev1.PodPending, waiting("ContainerCreating", ""))}, ErrTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs := fake.NewClientset()
			kubeletWatch(cs, tc.states...)
			created, err := cs.CoreV1().Pods("dockprobe").Create(context.Background(), BuildPod(TestPodOptions()), metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			timeout := time.Minute
			if tc.want == ErrTimeout {
				timeout = 50 * time.Millisecond
			}
			p, err := WaitRunning(context.Background(), kubetest.API(cs), created, timeout)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			if tc.want == nil && p.Status.Phase != corev1.PodRunning {
				t.Errorf("returned pod in phase %q", p.Status.Phase)
			}
			if tc.want == ErrTimeout && !strings.Contains(err.Error(), "ContainerCreating") {
				t.Errorf("a timeout says what the pod was doing: %v", err)
			}
		})
	}
}

func TestWaitRunningRewatchesWhenTheServerClosesTheWatch(t *testing.T) {
	cs := fake.NewClientset()
	calls := 0
	cs.PrependWatchReactor("pods", func(a k8stesting.Action) (bool, watch.Interface, error) {
		calls++
		w := watch.NewFakeWithChanSize(1, false)
		if calls == 1 {
			w.Stop() // closed at once, as an API server does after its timeout
			return true, w, nil
		}
		p := BuildPod(TestPodOptions())
		setState(corev1.PodRunning, corev1.ContainerState{Running: &corev1.ContainerStateRunning{}})(p)
		w.Modify(p)
		return true, w, nil
	})
	created, _ := cs.CoreV1().Pods("dockprobe").Create(context.Background(), BuildPod(TestPodOptions()), metav1.CreateOptions{})
	if _, err := WaitRunning(context.Background(), kubetest.API(cs), created, time.Minute); err != nil || calls != 2 {
		t.Fatalf("err %v after %d watches", err, calls)
	}
}

var _ runtime.Object = (*corev1.Pod)(nil)
