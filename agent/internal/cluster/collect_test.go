package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/streaming/pkg/httpstream"

	"github.com/dockprobe/dockprobe/agent/internal/kube"
	"github.com/dockprobe/dockprobe/agent/internal/kube/kubetest"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// stubProbe answers as the exec'd probe would, with a report naming its
// node in the kernel release.
type stubProbe struct {
	probev1.UnimplementedProbeServer
	node string
}

func (stubProbe) Handshake(context.Context, *probev1.HandshakeRequest) (*probev1.HandshakeResponse, error) {
	return &probev1.HandshakeResponse{ProbeVersion: "test", ProtocolVersion: probev1.ProtocolVersion}, nil
}

func (s stubProbe) Collect(context.Context, *probev1.CollectRequest) (*probev1.CollectResponse, error) {
	return &probev1.CollectResponse{Report: &probev1.Report{Target: &probev1.Target{KernelRelease: "6.8.0-" + s.node}}}, nil
}

// execProcess runs a gRPC server over the exec stream, as the probe does.
type execProcess struct {
	node   string
	forbid bool
}

func (e execProcess) Stream(o remotecommand.StreamOptions) error {
	return e.StreamWithContext(context.Background(), o)
}

func (e execProcess) StreamWithContext(ctx context.Context, o remotecommand.StreamOptions) error {
	if e.forbid {
		return &httpstream.UpgradeFailureError{Cause: apierrors.NewForbidden(schema.GroupResource{Resource: "pods/exec"}, "p", errors.New("denied"))}
	}
	c := &pipeConn{r: o.Stdin, w: o.Stdout, closed: make(chan struct{})}
	l := &oneListener{ch: make(chan net.Conn, 1), closed: make(chan struct{})}
	l.ch <- c
	srv := grpc.NewServer()
	probev1.RegisterProbeServer(srv, stubProbe{node: e.node})
	go srv.Serve(l)
	select {
	case <-c.closed:
	case <-ctx.Done():
	}
	srv.Stop()
	return nil
}

type pipeConn struct {
	r      io.Reader
	w      io.Writer
	once   sync.Once
	closed chan struct{}
}

func (c *pipeConn) Read(p []byte) (int, error)       { return c.r.Read(p) }
func (c *pipeConn) Write(p []byte) (int, error)      { return c.w.Write(p) }
func (c *pipeConn) Close() error                     { c.once.Do(func() { close(c.closed) }); return nil }
func (c *pipeConn) LocalAddr() net.Addr              { return &net.UnixAddr{} }
func (c *pipeConn) RemoteAddr() net.Addr             { return &net.UnixAddr{} }
func (c *pipeConn) SetDeadline(time.Time) error      { return nil }
func (c *pipeConn) SetReadDeadline(time.Time) error  { return nil }
func (c *pipeConn) SetWriteDeadline(time.Time) error { return nil }

type oneListener struct {
	ch     chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func (l *oneListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}
func (l *oneListener) Close() error   { l.once.Do(func() { close(l.closed) }); return nil }
func (l *oneListener) Addr() net.Addr { return &net.UnixAddr{} }

// TestCollect runs the whole per-node pipeline against client-go's fake
// clientset (a watch reactor plays the kubelet) and a fake exec'd probe:
// Ready nodes report, a NotReady node and a node whose exec is forbidden
// get their errors, and no probe pod is left.
func TestCollect(t *testing.T) {
	cs := fake.NewSimpleClientset()
	ready := corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionTrue}
	for _, n := range []struct {
		name string
		cond corev1.NodeCondition
	}{{"a", ready}, {"b", ready}, {"denied", ready}, {"down", corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionFalse, Reason: "KubeletNotReady"}}} {
		cs.CoreV1().Nodes().Create(context.Background(), &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n.name},
			Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{n.cond}, NodeInfo: corev1.NodeSystemInfo{KernelVersion: "6.8.0-" + n.name}}}, metav1.CreateOptions{})
	}
	cs.PrependWatchReactor("pods", func(a k8stesting.Action) (bool, watch.Interface, error) {
		name, _ := a.(k8stesting.WatchActionImpl).GetWatchRestrictions().Fields.RequiresExactMatch("metadata.name")
		obj, err := cs.Tracker().Get(corev1.SchemeGroupVersion.WithResource("pods"), a.GetNamespace(), name)
		if err != nil {
			return true, nil, err
		}
		p := obj.(*corev1.Pod).DeepCopy()
		p.Status.Phase = corev1.PodRunning
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: kube.ContainerName, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}
		w := watch.NewFakeWithChanSize(1, false)
		w.Modify(p)
		return true, w, nil
	})
	podNode := map[string]string{}
	var mu sync.Mutex
	r := &kube.Runner{Client: &kube.Client{CS: kubetest.API(cs)}, Namespace: "dockprobe", Image: "dockprobe/probe:test", RunID: "r1", Deadline: time.Minute, AppArmorField: true, Now: time.Now}
	r.NewExecutor = func(u *url.URL) (remotecommand.Executor, error) {
		pod := strings.Split(u.Path, "/")[6]
		mu.Lock()
		defer mu.Unlock()
		for node := range map[string]bool{"a": true, "b": true, "denied": true} {
			if kube.PodName(node, "r1") == pod {
				podNode[pod] = node
				return execProcess{node: node, forbid: node == "denied"}, nil
			}
		}
		return nil, fmt.Errorf("no node for pod %s", pod)
	}
	nodes, err := kube.SelectNodes(context.Background(), kubetest.API(cs), kube.Selection{All: true})
	if err != nil {
		t.Fatal(err)
	}
	got := Collect(context.Background(), nodes, CollectOptions{Runner: r, FanOut: kube.FanOutOptions{Concurrency: 2, NodeTimeout: time.Minute}, AgentVersion: "test"})
	if len(got) != 4 {
		t.Fatalf("%d node reports", len(got))
	}
	for _, n := range got {
		switch n.Name {
		case "a", "b":
			if n.Error != nil || n.Report.GetTarget().GetKernelRelease() != "6.8.0-"+n.Name || n.Pod != kube.PodName(n.Name, "r1") {
				t.Errorf("%s: %v %v", n.Name, n.Error, n.Report)
			}
		case "denied":
			if n.Error.GetKind() != KindForbidden || !strings.Contains(n.Error.GetMessage(), "create pods/exec in namespace dockprobe") {
				t.Errorf("denied: %v", n.Error)
			}
		case "down":
			if n.Error.GetKind() != KindNotReady || n.Pod != "" {
				t.Errorf("down: %v (pod %q)", n.Error, n.Pod)
			}
		}
	}
	if len(podNode) != 3 {
		t.Errorf("exec'd into %v; the NotReady node gets no pod", podNode)
	}
	left, _ := cs.CoreV1().Pods("dockprobe").List(context.Background(), metav1.ListOptions{})
	if len(left.Items) != 0 {
		t.Errorf("%d probe pods left", len(left.Items))
	}
	rep := Report(&probev1.Cluster{}, nil, got, time.Now())
	if f := byID(rep.Findings)[IDKernel]; f.GetStatus() != "warn" {
		t.Errorf("kernels differ by node: %v", f)
	}
}
