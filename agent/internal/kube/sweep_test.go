package kube_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	. "github.com/dockprobe/dockprobe/agent/internal/kube"
	"github.com/dockprobe/dockprobe/agent/internal/kube/kubetest"
)

var now = time.Unix(1780000000, 0)

func probePod(name, run string, created time.Time, phase corev1.PodPhase, host string, pid int) *corev1.Pod {
	p := BuildPod(PodOptions{Namespace: "dockprobe", Node: "n", RunID: run, Image: "i", AgentHost: host, AgentPID: pid, Created: created, Deadline: time.Minute})
	p.Name = name
	p.UID = types.UID("uid-" + name)
	p.Status.Phase = phase
	return p
}

func TestStale(t *testing.T) {
	foreign := probePod("theirs", "r", now.Add(-time.Hour), corev1.PodSucceeded, "h", 1)
	foreign.Labels[LabelManagedBy] = "kubectl-debug"
	noLabel := probePod("old-by-timestamp", "r", time.Time{}, corev1.PodRunning, "h", 1)
	noLabel.CreationTimestamp = metav1.Time{Time: now.Add(-time.Hour)}
	alive := func(host string, pid int) bool { return host == "me" && pid == 10 }
	for _, tc := range []struct {
		pod  *corev1.Pod
		o    SweepOptions
		want bool
	}{
		{foreign, SweepOptions{All: true, Now: now}, false},
		{probePod("mine", "cur", now.Add(-time.Hour), corev1.PodFailed, "me", 10), SweepOptions{KeepRun: "cur", All: true, Now: now}, false},
		{probePod("done", "r", now, corev1.PodSucceeded, "h", 1), SweepOptions{Now: now}, true},
		{probePod("failed", "r", now, corev1.PodFailed, "h", 1), SweepOptions{Now: now}, true},
		{probePod("young", "r", now.Add(-time.Minute), corev1.PodRunning, "h", 1), SweepOptions{Now: now}, false},
		// Minute deadline + 30 s grace + a minute's slack.
		{probePod("old", "r", now.Add(-3*time.Minute), corev1.PodRunning, "h", 1), SweepOptions{Now: now}, true},
		{probePod("live agent", "r", now, corev1.PodRunning, "me", 10), SweepOptions{Now: now, Alive: alive}, false},
		{probePod("dead agent", "r", now, corev1.PodRunning, "me", 11), SweepOptions{Now: now, Alive: alive}, true},
		{probePod("cleanup", "r", now, corev1.PodRunning, "me", 10), SweepOptions{All: true, Now: now}, true},
		{noLabel, SweepOptions{Now: now}, true},
	} {
		if got, why := Stale(tc.pod, tc.o); got != tc.want {
			t.Errorf("%s: %v (%s), want %v", tc.pod.Name, got, why, tc.want)
		}
	}
}

func TestSweepNeverTouchesOthersPods(t *testing.T) {
	theirs := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "node-debugger-n-abcde", Namespace: "dockprobe", Labels: map[string]string{LabelManagedBy: "kubectl-debug", LabelRun: "r"}}, Status: corev1.PodStatus{Phase: corev1.PodSucceeded}}
	cs := fake.NewSimpleClientset(
		probePod("stale", "old", now.Add(-time.Hour), corev1.PodRunning, "h", 1),
		probePod("finished", "old", now, corev1.PodSucceeded, "h", 1),
		probePod("current", "cur", now.Add(-time.Hour), corev1.PodSucceeded, "h", 1),
		probePod("fresh", "other", now, corev1.PodRunning, "h", 1),
		theirs,
	)
	c := &Client{CS: kubetest.API(cs)}
	deleted, err := Sweep(context.Background(), c, SweepOptions{Namespace: "dockprobe", KeepRun: "cur", Now: now})
	slices.Sort(deleted)
	if err != nil || strings.Join(deleted, ",") != "finished,stale" {
		t.Fatalf("deleted %v, %v", deleted, err)
	}
	deleted, err = Sweep(context.Background(), c, SweepOptions{Namespace: "dockprobe", KeepRun: "cur", All: true, Now: now})
	if err != nil || strings.Join(deleted, ",") != "fresh" {
		t.Fatalf("cleanup deleted %v, %v", deleted, err)
	}
	left, _ := cs.CoreV1().Pods("dockprobe").List(context.Background(), metav1.ListOptions{})
	var names []string
	for _, p := range left.Items {
		names = append(names, p.Name)
	}
	slices.Sort(names)
	if strings.Join(names, ",") != "current,node-debugger-n-abcde" {
		t.Errorf("left %v", names)
	}
}

func TestSelectNodes(t *testing.T) {
	ready := func(name, pool string, st corev1.ConditionStatus) *corev1.Node {
		return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"pool": pool}},
			Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: st, Reason: "KubeletNotReady", Message: "container runtime is down"}}}}
	}
	cs := fake.NewSimpleClientset(ready("b", "x", corev1.ConditionTrue), ready("a", "y", corev1.ConditionTrue), ready("c", "x", corev1.ConditionFalse), ready("d", "y", corev1.ConditionUnknown))
	ctx := context.Background()
	all, err := SelectNodes(ctx, kubetest.API(cs), Selection{All: true})
	if err != nil || len(all) != 4 || all[0].Name != "a" || all[2].NotReady == nil || all[3].NotReady == nil || all[0].NotReady != nil {
		t.Fatalf("%+v %v", all, err)
	}
	if !errors.Is(all[2].NotReady, ErrNodeNotReady) || !strings.Contains(all[2].NotReady.Error(), "container runtime is down") || !strings.Contains(all[3].NotReady.Error(), "unreachable") {
		t.Errorf("%v / %v", all[2].NotReady, all[3].NotReady)
	}
	x, err := SelectNodes(ctx, kubetest.API(cs), Selection{Selector: "pool=x"})
	if err != nil || len(x) != 2 || x[0].Name != "b" || x[1].Name != "c" {
		t.Errorf("selector: %+v %v", x, err)
	}
	if one, err := SelectNodes(ctx, kubetest.API(cs), Selection{Node: "a"}); err != nil || len(one) != 1 {
		t.Errorf("node: %+v %v", one, err)
	}
	if _, err := SelectNodes(ctx, kubetest.API(cs), Selection{Node: "zz"}); !errors.Is(err, ErrNoNodes) || !strings.Contains(err.Error(), "kubectl get nodes") {
		t.Errorf("missing node: %v", err)
	}
	if _, err := SelectNodes(ctx, kubetest.API(cs), Selection{Selector: "pool=none"}); !errors.Is(err, ErrNoNodes) {
		t.Errorf("empty selector: %v", err)
	}
	for _, bad := range []Selection{{}, {Node: "a", All: true}, {Selector: "a in ("}} {
		if _, err := SelectNodes(ctx, kubetest.API(cs), bad); !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: %v", bad, err)
		}
	}
}

func TestCheckAccess(t *testing.T) {
	cs := fake.NewSimpleClientset()
	var asked []string
	cs.PrependReactor("create", "selfsubjectaccessreviews", func(a k8stesting.Action) (bool, kruntime.Object, error) {
		r := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SelfSubjectAccessReview)
		ra := r.Spec.ResourceAttributes
		asked = append(asked, ra.Verb+" "+ra.Resource+"/"+ra.Subresource+"@"+ra.Namespace)
		r.Status.Allowed = !(ra.Resource == "pods" && ra.Subresource == "exec")
		return true, r, nil
	})
	err := CheckAccess(context.Background(), kubetest.API(cs), "dockprobe", Needed)
	var fe *ForbiddenError
	if !errors.As(err, &fe) || fe.Verb != "create" || fe.Resource != "pods/exec" || fe.Namespace != "dockprobe" {
		t.Fatalf("%v", err)
	}
	if asked[0] != "get nodes/@" || len(asked) != 8 {
		t.Errorf("asked %v", asked)
	}
}

func TestCheckNamespace(t *testing.T) {
	ns := func(name, level string) *corev1.Namespace {
		n := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{}}}
		if level != "" {
			n.Labels["pod-security.kubernetes.io/enforce"] = level
		}
		return n
	}
	cs := fake.NewSimpleClientset(ns("ok", "privileged"), ns("unlabelled", ""), ns("strict", "baseline"))
	ctx := context.Background()
	if err := CheckNamespace(ctx, kubetest.API(cs), "ok"); err != nil {
		t.Error(err)
	}
	if err := CheckNamespace(ctx, kubetest.API(cs), "unlabelled"); err != nil {
		t.Error(err)
	}
	if err := CheckNamespace(ctx, kubetest.API(cs), "strict"); !errors.Is(err, ErrPodSecurity) || !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "namespace strict pod-security.kubernetes.io/enforce=privileged") {
		t.Errorf("%v", err)
	}
	if err := CheckNamespace(ctx, kubetest.API(cs), "missing"); !errors.Is(err, ErrConfig) {
		t.Errorf("missing: %v", err)
	}
}
