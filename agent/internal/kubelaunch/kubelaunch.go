// Package kubelaunch is the Kubernetes runtime's launcher.Launcher: one
// per node. Start creates the node's probe pod (package kube: nodeName,
// hostPID, least privileges), waits for it to run and execs the probe's
// gRPC server in it over pods/exec; the exec stream is the Session's
// connection. A run over many nodes opens one Node per node and fans them
// out (kube.FanOut); the cluster report (package cluster) gathers them.
//
// It owns no Kubernetes mechanics (package kube does) and renders nothing.
package kubelaunch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/dockprobe/dockprobe/agent/internal/kube"
	"github.com/dockprobe/dockprobe/agent/internal/launcher"
	"github.com/dockprobe/dockprobe/agent/internal/probeclient"
	"github.com/dockprobe/dockprobe/agent/internal/reaper"
	"github.com/dockprobe/dockprobe/agent/internal/transport"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
	corev1 "k8s.io/api/core/v1"
)

// Runtime is the Kubernetes launcher's runtime name (--runtime kubernetes).
const Runtime = "kubernetes"

// ErrNoNode: Start was asked of the namespace's launcher, which has no
// node (a usage error: choose one with --node).
var ErrNoNode = errors.New("no node chosen: pass --node NAME")

// Node is the launcher of one node. Its methods may be called
// concurrently; the Runner is shared by every node of a run.
type Node struct {
	Runner *kube.Runner
	Node   kube.Node
	// starts counts the probes started here: a watch that lost its probe
	// starts another, whose pod needs a name of its own while the old
	// one may still be terminating.
	starts atomic.Int32
}

var _ launcher.Launcher = (*Node)(nil)

// New returns node's launcher.
func New(r *kube.Runner, node kube.Node) *Node { return &Node{Runner: r, Node: node} }

// Runtime implements launcher.Launcher.
func (n *Node) Runtime() string { return Runtime }

// PodName is the name of the pod this run creates on the node.
func (n *Node) PodName() string { return kube.PodName(n.Node.Name, n.Runner.RunID) }

// Facts implements launcher.Launcher: the node as its kubelet reported it
// to the API server (the probe reads the rest on the node itself). It asks
// nothing: the node was read when it was selected.
func (n *Node) Facts(context.Context) (*probev1.Engine, []*probev1.SectionError) {
	e := &probev1.Engine{Name: n.Node.Name, Host: n.Runner.Client.Config.Host, OsType: "linux"}
	if o := n.Node.Object; o != nil {
		ni := o.Status.NodeInfo
		e.Id = ni.SystemUUID
		e.ServerVersion = ni.KubeletVersion
		e.Os = ni.OSImage
		e.KernelVersion = ni.KernelVersion
		e.Architecture = ni.Architecture
		e.DefaultRuntime = ni.ContainerRuntimeVersion
	}
	return e, nil
}

// Start implements launcher.Launcher: the pod, then the exec'd probe. On
// error the pod is being deleted already.
func (n *Node) Start(ctx context.Context, o launcher.Options) (launcher.Session, error) {
	if n.Node.Name == "" {
		return nil, ErrNoNode
	}
	if n.Node.NotReady != nil {
		return nil, n.Node.NotReady
	}
	if o.Starting != nil {
		o.Starting()
	}
	if o.OnImage != nil {
		o.OnImage(n.Runner.Image)
	}
	name := o.Name
	if name == "" {
		name = kube.PodNameSeq(n.Node.Name, n.Runner.RunID, int(n.starts.Add(1)))
	}
	// The probe's own deadline: a run's (the node's), or a watch's hours.
	deadline := o.Deadline
	if deadline <= 0 {
		deadline = n.Runner.Deadline
	}
	o.Step("pod " + name)
	pod, err := n.Runner.Start(ctx, kube.PodStart{Node: n.Node.Name, Name: name, Deadline: deadline})
	if err != nil {
		return nil, err
	}
	o.Step("exec")
	conn, err := n.Runner.ExecDeadline(ctx, pod, deadline, o.Log())
	if err != nil {
		n.Runner.DeletePod(pod)
		return nil, fmt.Errorf("node %s: %w", n.Node.Name, err)
	}
	c, err := probeclient.Dial(transport.SingleUseDialer(conn))
	if err != nil {
		conn.Close()
		n.Runner.DeletePod(pod)
		return nil, err
	}
	return &session{n: n, pod: pod, conn: conn, c: c, version: o.Version}, nil
}

// Ping implements launcher.Launcher: the API server answers.
func (n *Node) Ping(ctx context.Context) error {
	_, err := n.Runner.Client.CS.Discovery().ServerVersion(ctx)
	return err
}

// Sweep implements launcher.Launcher: the stale probe pods of the
// namespace (finished, past their deadline, or whose agent on this host is
// gone), never a live run's (its agent runs and its deadline is ahead),
// never a pod without dockprobe's label.
func (n *Node) Sweep(ctx context.Context, now time.Time) ([]string, error) {
	return kube.Sweep(ctx, n.Runner.Client, kube.SweepOptions{
		Namespace: n.Runner.Namespace, Alive: Alive, Now: now,
	})
}

// Cleanup implements launcher.Launcher: every probe pod of the namespace,
// and only dockprobe's. warn hears of each pod that could not be deleted;
// the error is the listing's, or, when the user may delete no pod at all,
// that one refusal (one line naming the verb, its own exit code) instead
// of a warning per pod.
func (n *Node) Cleanup(ctx context.Context, warn func(name string, err error)) ([]string, error) {
	type failure struct {
		pod string
		err error
	}
	var failed []failure
	removed, err := kube.Sweep(ctx, n.Runner.Client, kube.SweepOptions{Namespace: n.Runner.Namespace, All: true,
		OnError: func(pod string, err error) { failed = append(failed, failure{pod, err}) }})
	if err != nil {
		return removed, err
	}
	if len(removed) == 0 && len(failed) > 0 && errors.Is(failed[0].err, kube.ErrForbidden) {
		return nil, failed[0].err
	}
	for _, f := range failed {
		warn(f.pod, f.err)
	}
	return removed, nil
}

// Usage implements launcher.Launcher: the API has no equivalent of
// Docker's /system/df for a node; the checks that need it skip.
func (n *Node) Usage(context.Context) *probev1.EngineUsage { return nil }

// ContainerNames implements launcher.Launcher; the node's containers are
// not the API's to name here.
func (n *Node) ContainerNames(context.Context) map[string]string { return nil }

// Answers implements launcher.Launcher: the Node object as the API server
// gave it.
func (n *Node) Answers(context.Context) []launcher.Answer {
	a := launcher.Answer{Name: "kubernetes/node", Producer: "Kubernetes API GET /api/v1/nodes/" + n.Node.Name}
	if n.Node.Object == nil {
		a.Err = errors.New("the node was not read")
	} else {
		a.JSON, a.Err = json.MarshalIndent(n.Node.Object, "", "  ")
		a.JSON = append(a.JSON, '\n')
	}
	return []launcher.Answer{a}
}

// Close implements launcher.Launcher.
func (n *Node) Close() error { return nil }

// Alive reports whether an agent that made a pod still runs, when it ran
// on this host; another host's agent cannot be known (only age decides).
func Alive(host string, pid int) bool {
	if h, err := os.Hostname(); err != nil || h != host {
		return true
	}
	return reaper.Alive(pid)
}

type session struct {
	n       *Node
	pod     *corev1.Pod
	conn    *kube.Conn
	c       *probeclient.Client
	version string
}

// explain: a refused exec (403, no such pod) shows to gRPC only as a
// transport that went away; the stream's own error says why.
func (s *session) explain(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		// Our own cancellation (Ctrl-C, a deadline): nothing to learn
		// from the stream, and no second to spare.
		return fmt.Errorf("node %s: %w", s.n.Node.Name, err)
	}
	t := time.NewTimer(time.Second)
	defer t.Stop()
	select {
	case <-s.conn.Done():
		if se := s.conn.Err(); se != nil {
			return fmt.Errorf("node %s: %w", s.n.Node.Name, se)
		}
	case <-t.C:
	}
	return fmt.Errorf("node %s: %w", s.n.Node.Name, err)
}

func (s *session) Handshake(ctx context.Context) (*probev1.HandshakeResponse, error) {
	h, err := s.c.Handshake(ctx, s.version)
	if err != nil {
		return nil, s.explain(ctx, err)
	}
	return h, nil
}

func (s *session) Collect(ctx context.Context, req *probev1.CollectRequest) (*probev1.Report, error) {
	rep, err := s.c.Collect(ctx, req)
	if err != nil {
		return nil, s.explain(ctx, err)
	}
	return rep, nil
}

func (s *session) Watch(ctx context.Context, req *probev1.WatchRequest) (probev1.Watch_WatchClient, error) {
	return s.c.Watch(ctx, req)
}

// Close hangs up (the exec'd probe exits on stdin EOF) and deletes the pod
// with a fresh context.
func (s *session) Close() error {
	s.c.Close()
	s.conn.Close()
	return s.n.Runner.DeletePod(s.pod)
}

// Abort ends a failed or interrupted run: the pod's deletion starts at
// once, beside the hang-up, instead of after the stream's drain (up to
// kube.Grace), so that an interrupted agent is not still waiting to
// delete its pod when the user presses Ctrl-C again (which exits at
// once).
func (s *session) Abort() {
	deleted := make(chan struct{})
	go func() {
		defer close(deleted)
		s.n.Runner.DeletePod(s.pod)
	}()
	s.c.Close()
	s.conn.Close()
	<-deleted
}
