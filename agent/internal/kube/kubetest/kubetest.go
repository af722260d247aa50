// Package kubetest is a Kubernetes cluster in memory for the unit tests of
// the Kubernetes runtime's callers (kubelaunch, the cli's commands): a
// fake clientset with Ready nodes, a "kubelet" that reports each probe pod
// Running (or keeps it Pending, per node), an RBAC that allows everything,
// and a pods/exec whose "process" is a fake probe's gRPC server
// (Handshake, Collect, Watch) over the exec stream's stdin and stdout.
//
// Real clusters are the e2e suite's (e2e/k8s); this is only for what a
// fake can prove: flags, fan-out bounds, timeouts, cleanup of pods.
// Not for production code.
package kubetest

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/remotecommand"

	"github.com/dockprobe/dockprobe/agent/internal/kube"
	"github.com/dockprobe/dockprobe/agent/internal/launcher/launchertest"
	"github.com/dockprobe/dockprobe/agent/internal/transport"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// Cluster is a fake cluster. Set its fields before the first run.
type Cluster struct {
	CS *fake.Clientset
	// Stuck nodes' probe pods never leave ContainerCreating.
	Stuck map[string]bool
	// CollectDelay holds a node's Collect this long (or until the call's
	// context ends).
	CollectDelay map[string]time.Duration
	// Mounts are what a node's probe reports in its mount table.
	Mounts map[string][]*probev1.Mount

	mu    sync.Mutex
	execs int
}

// New returns a cluster with the named nodes, all Ready, and the probe
// pods' namespace (labelled privileged).
func New(nodes ...string) *Cluster {
	c := &Cluster{CS: fake.NewClientset(), Stuck: map[string]bool{}, CollectDelay: map[string]time.Duration{}, Mounts: map[string][]*probev1.Mount{}}
	ctx := context.Background()
	for _, name := range nodes {
		n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name},
			Status: corev1.NodeStatus{
				Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
				NodeInfo:   corev1.NodeSystemInfo{KubeletVersion: "v1.35.4", ContainerRuntimeVersion: "containerd://2.4.2", Architecture: "amd64"},
			}}
		if _, err := c.CS.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{}); err != nil {
			panic(err)
		}
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: kube.DefaultNamespace, Labels: kube.PodSecurityLabels}}
	if _, err := c.CS.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		panic(err)
	}
	c.CS.PrependReactor("create", "selfsubjectaccessreviews", func(a k8stesting.Action) (bool, kruntime.Object, error) {
		r := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SelfSubjectAccessReview).DeepCopy()
		r.Status.Allowed = true
		return true, r, nil
	})
	c.CS.PrependWatchReactor("pods", c.kubelet)
	return c
}

// kubelet answers a watch on one probe pod with its next state: Running,
// or ContainerCreating on a stuck node.
func (c *Cluster) kubelet(a k8stesting.Action) (bool, watch.Interface, error) {
	name, _ := a.(k8stesting.WatchActionImpl).GetWatchRestrictions().Fields.RequiresExactMatch("metadata.name")
	obj, err := c.CS.Tracker().Get(corev1.SchemeGroupVersion.WithResource("pods"), a.GetNamespace(), name)
	if err != nil {
		return true, nil, err
	}
	p := obj.(*corev1.Pod).DeepCopy()
	st := corev1.ContainerStatus{Name: kube.ContainerName, Image: p.Spec.Containers[0].Image}
	if c.Stuck[p.Spec.NodeName] {
		p.Status.Phase = corev1.PodPending
		st.State.Waiting = &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}
	} else {
		p.Status.Phase = corev1.PodRunning
		st.State.Running = &corev1.ContainerStateRunning{}
	}
	p.Status.ContainerStatuses = []corev1.ContainerStatus{st}
	w := watch.NewFakeWithChanSize(1, false)
	w.Modify(p)
	return true, w, nil
}

// Client is the cluster as kube.Connect would return it.
func (c *Cluster) Client() *kube.Client {
	return &kube.Client{Config: &rest.Config{Host: "https://k8s.example:6443"}, CS: API(c.CS)}
}

// Runner is a Runner on the cluster whose exec runs the fake probe.
func (c *Cluster) Runner() *kube.Runner {
	r := &kube.Runner{Client: c.Client(), Namespace: kube.DefaultNamespace, Image: "dockprobe/probe:test", RunID: kube.NewRunID(),
		AgentHost: "test", AgentPID: 1, Deadline: time.Minute, AppArmorField: true, Now: time.Now}
	c.Wire(r)
	return r
}

// Wire makes r's exec run the fake probe.
func (c *Cluster) Wire(r *kube.Runner) { r.NewExecutor = c.NewExecutor }

// Pods are the names of the probe pods the cluster holds, sorted.
func (c *Cluster) Pods() []string {
	list, err := c.CS.CoreV1().Pods(kube.DefaultNamespace).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		panic(err)
	}
	var names []string
	for _, p := range list.Items {
		names = append(names, p.Name)
	}
	sort.Strings(names)
	return names
}

// Execs is how many probes were exec'd.
func (c *Cluster) Execs() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.execs
}

// NewExecutor is a kube.Runner's NewExecutor: the exec'd "process" is the
// fake probe of the pod's node, serving until the agent hangs up.
func (c *Cluster) NewExecutor(u *url.URL) (remotecommand.Executor, error) {
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	// api/v1/namespaces/NS/pods/NAME/exec
	if len(parts) < 7 {
		return nil, fmt.Errorf("kubetest: exec path %q", u.Path)
	}
	obj, err := c.CS.Tracker().Get(corev1.SchemeGroupVersion.WithResource("pods"), parts[3], parts[5])
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.execs++
	c.mu.Unlock()
	return executor{c: c, node: obj.(*corev1.Pod).Spec.NodeName}, nil
}

type executor struct {
	c    *Cluster
	node string
}

func (e executor) Stream(o remotecommand.StreamOptions) error {
	return e.StreamWithContext(context.Background(), o)
}

func (e executor) StreamWithContext(ctx context.Context, o remotecommand.StreamOptions) error {
	sc := &stdioConn{Reader: o.Stdin, Writer: o.Stdout, Carrier: "pods/exec", closed: make(chan struct{})}
	l := launchertest.OneConn(sc)
	srv := grpc.NewServer()
	p := probe{c: e.c, node: e.node}
	probev1.RegisterProbeServer(srv, p)
	probev1.RegisterWatchServer(srv, p)
	go srv.Serve(l)
	select {
	case <-sc.closed: // the agent hung up
	case <-ctx.Done():
	}
	l.Close()
	srv.Stop()
	return nil
}

// probe answers like a probe of this agent's protocol on one node.
type probe struct {
	probev1.UnimplementedProbeServer
	probev1.UnimplementedWatchServer
	c    *Cluster
	node string
}

func (probe) Handshake(_ context.Context, req *probev1.HandshakeRequest) (*probev1.HandshakeResponse, error) {
	return &probev1.HandshakeResponse{ProbeVersion: req.GetAgentVersion(), ProtocolVersion: probev1.ProtocolVersion}, nil
}

func (p probe) Collect(ctx context.Context, req *probev1.CollectRequest) (*probev1.CollectResponse, error) {
	if d := p.c.CollectDelay[p.node]; d > 0 {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return &probev1.CollectResponse{Report: &probev1.Report{
		Target: &probev1.Target{Pid: max(req.GetTargetPid(), 1)},
		Mounts: p.c.Mounts[p.node],
	}}, nil
}

func (probe) Watch(req *probev1.WatchRequest, stream grpc.ServerStreamingServer[probev1.WatchEvent]) error {
	if err := stream.Send(&probev1.WatchEvent{Kind: "ready", TargetPid: max(req.GetTargetPid(), 1), ObservedUnixNano: time.Now().UnixNano(), Summary: "watching"}); err != nil {
		return err
	}
	<-stream.Context().Done()
	return nil
}

// stdioConn is the probe's stdin and stdout as a net.Conn.
type stdioConn struct {
	io.Reader
	io.Writer
	transport.Carrier
	once   sync.Once
	closed chan struct{}
}

func (c *stdioConn) Read(b []byte) (int, error) {
	n, err := c.Reader.Read(b)
	if err != nil {
		c.Close() // stdin EOF: the probe exits
	}
	return n, err
}

func (c *stdioConn) Close() error { c.once.Do(func() { close(c.closed) }); return nil }
