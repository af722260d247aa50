package kube_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	. "github.com/dockprobe/dockprobe/agent/internal/kube"
	"github.com/dockprobe/dockprobe/agent/internal/kube/kubetest"
)

// fakeCluster is a fake clientset with n Ready nodes whose "kubelet"
// (a watch reactor) reports each probe pod Running at once, except on the
// nodes in missing (ErrImageNeverPull) and stuck (never leaves
// ContainerCreating). It counts the pods alive at once.
type fakeCluster struct {
	cs               *fake.Clientset
	nodes            []string
	alive, maxAlive  atomic.Int64
	missing, stuck   map[string]bool
	created, deleted atomic.Int64
}

func newFakeCluster(n int, missing, stuck []string) *fakeCluster {
	f := &fakeCluster{cs: fake.NewSimpleClientset(), missing: map[string]bool{}, stuck: map[string]bool{}}
	for _, m := range missing {
		f.missing[m] = true
	}
	for _, s := range stuck {
		f.stuck[s] = true
	}
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("node-%03d", i)
		f.nodes = append(f.nodes, name)
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"pool": []string{"a", "b"}[i%2]}},
			Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}}
		if _, err := f.cs.CoreV1().Nodes().Create(context.Background(), node, metav1.CreateOptions{}); err != nil {
			panic(err)
		}
	}
	f.cs.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, kruntime.Object, error) {
		if n := f.alive.Add(1); n > f.maxAlive.Load() {
			for m := f.maxAlive.Load(); n > m && !f.maxAlive.CompareAndSwap(m, n); m = f.maxAlive.Load() {
			}
		}
		f.created.Add(1)
		return false, nil, nil // the tracker stores it
	})
	f.cs.PrependReactor("delete", "pods", func(k8stesting.Action) (bool, kruntime.Object, error) {
		f.alive.Add(-1)
		f.deleted.Add(1)
		return false, nil, nil
	})
	f.cs.PrependWatchReactor("pods", func(a k8stesting.Action) (bool, watch.Interface, error) {
		name, _ := a.(k8stesting.WatchActionImpl).GetWatchRestrictions().Fields.RequiresExactMatch("metadata.name")
		obj, err := f.cs.Tracker().Get(corev1.SchemeGroupVersion.WithResource("pods"), a.GetNamespace(), name)
		if err != nil {
			return true, nil, err
		}
		p := obj.(*corev1.Pod).DeepCopy()
		w := watch.NewFakeWithChanSize(1, false)
		switch node := p.Spec.NodeName; {
		case f.stuck[node]:
			setState(corev1.PodPending, waiting("ContainerCreating", ""))(p)
		case f.missing[node]:
			setState(corev1.PodPending, waiting("ErrImageNeverPull", "not present with pull policy of Never"))(p)
		default:
			setState(corev1.PodRunning, corev1.ContainerState{Running: &corev1.ContainerStateRunning{}})(p)
		}
		w.Modify(p)
		return true, w, nil
	})
	return f
}

func (f *fakeCluster) runner() *Runner {
	return &Runner{Client: &Client{CS: kubetest.API(f.cs)}, Namespace: "dockprobe", Image: "dockprobe/probe:test", RunID: "run1", AgentHost: "h", AgentPID: 1, Deadline: time.Minute, AppArmorField: true, Now: time.Now}
}

// probeNode is what the launcher does per node, less the exec: start the
// pod, "collect", delete the pod.
func probeNode(r *Runner, inFlight, maxInFlight *atomic.Int64) func(ctx context.Context, node string) (string, error) {
	return func(ctx context.Context, node string) (string, error) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := maxInFlight.Load(); n > m && !maxInFlight.CompareAndSwap(m, n); m = maxInFlight.Load() {
		}
		pod, err := r.StartPod(ctx, node)
		if err != nil {
			return "", err
		}
		runtime.Gosched() // let the others in while this one "collects"
		defer r.DeletePod(pod)
		return pod.Name, nil
	}
}

func TestFanOut500Nodes(t *testing.T) {
	f := newFakeCluster(500, []string{"node-007", "node-333"}, []string{"node-499"})
	r := f.runner()
	nodes, err := SelectNodes(context.Background(), kubetest.API(f.cs), Selection{All: true})
	if err != nil || len(nodes) != 500 {
		t.Fatalf("%d nodes, %v", len(nodes), err)
	}
	names := make([]string, len(nodes))
	for i, n := range nodes {
		names[i] = n.Name
	}
	var inFlight, maxInFlight atomic.Int64
	res := FanOut(context.Background(), names, FanOutOptions{Concurrency: 8, NodeTimeout: 2 * time.Second}, probeNode(r, &inFlight, &maxInFlight))

	if len(res) != 500 {
		t.Fatalf("%d results", len(res))
	}
	if m := maxInFlight.Load(); m > 8 || m < 2 {
		t.Errorf("at most %d nodes in flight at once; want the bound 8 held (and more than one used)", m)
	}
	if m := f.maxAlive.Load(); m > 8 {
		t.Errorf("%d probe pods existed at once; the bound is 8", m)
	}
	var ok int
	for i, r := range res {
		if r.Node != names[i] {
			t.Fatalf("result %d is for %s, want %s (input order)", i, r.Node, names[i])
		}
		switch r.Node {
		case "node-007", "node-333":
			if !errors.Is(r.Err, ErrImageMissing) {
				t.Errorf("%s: %v, want ErrImageMissing", r.Node, r.Err)
			}
		case "node-499":
			if !errors.Is(r.Err, ErrTimeout) {
				t.Errorf("%s: %v, want ErrTimeout", r.Node, r.Err)
			}
		default:
			if r.Err != nil || r.Value != PodName(r.Node, "run1") {
				t.Errorf("%s: %q %v", r.Node, r.Value, r.Err)
			}
			ok++
		}
	}
	if ok != 497 {
		t.Errorf("%d nodes answered, want 497", ok)
	}
	// Every pod made was deleted again, the failed ones too.
	if c, d := f.created.Load(), f.deleted.Load(); c != 500 || d != 500 {
		t.Errorf("created %d pods, deleted %d", c, d)
	}
	left, _ := f.cs.CoreV1().Pods("dockprobe").List(context.Background(), metav1.ListOptions{})
	if len(left.Items) != 0 {
		t.Errorf("%d pods left", len(left.Items))
	}
}

// TestFanOutMemoryIsLinear compares the bytes allocated by a 100-node and a
// 500-node run: five times the nodes may cost at most about five times the
// memory (a quadratic cost, such as every wait listing every pod, would be
// 25 times).
func TestFanOutMemoryIsLinear(t *testing.T) {
	measure := func(n int) uint64 {
		f := newFakeCluster(n, nil, nil)
		r := f.runner()
		var a, b atomic.Int64
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		res := FanOut(context.Background(), f.nodes, FanOutOptions{Concurrency: 8, NodeTimeout: time.Minute}, probeNode(r, &a, &b))
		runtime.ReadMemStats(&after)
		for _, r := range res {
			if r.Err != nil {
				t.Fatal(r.Err)
			}
		}
		return after.TotalAlloc - before.TotalAlloc
	}
	measure(50) // warm up lazily built state (schemes, codecs)
	small, large := measure(100), measure(500)
	ratio := float64(large) / float64(small)
	t.Logf("100 nodes: %d KiB, 500 nodes: %d KiB, ratio %.2f", small>>10, large>>10, ratio)
	if ratio > 7.5 {
		t.Errorf("500 nodes cost %.1f times what 100 do; linear is 5", ratio)
	}
}

// TestFanOutDoesNotWaitOnTheSlowestNode: one node's work ignores its
// context and never returns on its own; the fan-out still ends, with a
// timeout entry for it, while that work is provably still blocked.
func TestFanOutDoesNotWaitOnTheSlowestNode(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	var stillBlocked atomic.Bool
	nodes := []string{"a", "b", "stuck", "c", "d"}
	done := make(chan []Result[int], 1)
	go func() {
		done <- FanOut(context.Background(), nodes, FanOutOptions{Concurrency: 2, NodeTimeout: 100 * time.Millisecond, CleanupGrace: 10 * time.Millisecond}, func(ctx context.Context, node string) (int, error) {
			if node == "stuck" {
				stillBlocked.Store(true)
				<-release // ignores ctx
				stillBlocked.Store(false)
				return 0, nil
			}
			return len(node), nil
		})
	}()
	var res []Result[int]
	select {
	case res = <-done:
	case <-time.After(time.Minute): // a guard against a hang, not a measurement
		t.Fatal("the fan-out waited on a node past its deadline")
	}
	if !stillBlocked.Load() {
		t.Fatal("the stuck node's work should still be blocked")
	}
	for _, r := range res {
		if r.Node == "stuck" {
			if !errors.Is(r.Err, ErrTimeout) {
				t.Errorf("stuck: %v", r.Err)
			}
		} else if r.Err != nil || r.Value != len(r.Node) {
			t.Errorf("%s: %d %v", r.Node, r.Value, r.Err)
		}
	}
}

func TestFanOutCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	ran := 0
	res := FanOut(ctx, []string{"a", "b", "c", "d"}, FanOutOptions{Concurrency: 1}, func(ctx context.Context, node string) (bool, error) {
		mu.Lock()
		ran++
		mu.Unlock()
		cancel() // an interrupt during the first node
		<-ctx.Done()
		return false, ctx.Err()
	})
	if ran != 1 {
		t.Errorf("%d nodes started after the interrupt", ran)
	}
	for _, r := range res {
		if !errors.Is(r.Err, context.Canceled) {
			t.Errorf("%s: %v", r.Node, r.Err)
		}
	}
}

func TestFanOutPanicIsOneNodesError(t *testing.T) {
	res := FanOut(context.Background(), []string{"a", "b"}, FanOutOptions{}, func(ctx context.Context, node string) (int, error) {
		if node == "a" {
			panic("boom")
		}
		return 1, nil
	})
	if res[0].Err == nil || res[1].Err != nil || res[1].Value != 1 {
		t.Errorf("%+v", res)
	}
}
