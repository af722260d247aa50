package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/remotecommand"
)

// Runner starts and ends probe pods for one agent run. Its fields are
// set once (NewRunner fills the defaults) and it is safe for concurrent
// use by the fan-out.
type Runner struct {
	Client    *Client
	Namespace string
	Image     string
	// PullPolicy is Never unless the user gave --image.
	PullPolicy corev1.PullPolicy
	RunID      string
	AgentHost  string
	AgentPID   int
	// Deadline bounds one node: the pod's start, the exec and the
	// collection (the probe's own deadlines derive from it).
	Deadline time.Duration
	// StartTimeout bounds the wait for a pod to run (Deadline when zero):
	// a watch's probe lives for hours, but its start gets no longer than
	// a probe run's.
	StartTimeout  time.Duration
	AppArmorField bool
	Now           func() time.Time
	// Debug passes --debug to the exec'd probe.
	Debug bool
	// NewExecutor makes the exec's executor (NewExecutor with Client.Config
	// when nil); tests put a fake process here.
	NewExecutor func(u *url.URL) (remotecommand.Executor, error)
}

// NewRunner returns a Runner for c with a fresh run ID, this process's
// host name and pid, and the server's AppArmor style (one discovery
// call; an unknown version gets the field).
func NewRunner(ctx context.Context, c *Client, namespace, image string) *Runner {
	host, _ := os.Hostname()
	r := &Runner{
		Client:        c,
		Namespace:     namespace,
		Image:         image,
		RunID:         NewRunID(),
		AgentHost:     host,
		AgentPID:      os.Getpid(),
		Deadline:      DefaultDeadline,
		AppArmorField: true,
		Now:           time.Now,
	}
	if r.Namespace == "" {
		r.Namespace = DefaultNamespace
	}
	if v, err := c.CS.Discovery().ServerVersion(ctx); err == nil {
		r.AppArmorField = AppArmorField(v)
	}
	return r
}

// Pod is the pod Runner would create on node.
func (r *Runner) Pod(node string) *corev1.Pod { return r.podFor(PodStart{Node: node}) }

func (r *Runner) podFor(s PodStart) *corev1.Pod {
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	pod := BuildPod(PodOptions{
		Namespace:     r.Namespace,
		Node:          s.Node,
		RunID:         r.RunID,
		Image:         r.Image,
		PullPolicy:    r.PullPolicy,
		AgentHost:     r.AgentHost,
		AgentPID:      r.AgentPID,
		Created:       now(),
		Deadline:      r.deadline(s),
		AppArmorField: r.AppArmorField,
	})
	if s.Name != "" {
		pod.Name = s.Name
	}
	return pod
}

// PodStart is one probe pod to start.
type PodStart struct {
	Node string
	// Name is the pod's name; empty keeps PodName's.
	Name string
	// Deadline is the probe's own deadline in this pod (the waiting main
	// process's and the exec'd server's; a watch's is hours); zero keeps
	// Runner.Deadline.
	Deadline time.Duration
}

func (r *Runner) deadline(s PodStart) time.Duration {
	if s.Deadline > 0 {
		return s.Deadline
	}
	return r.Deadline
}

// StartPod creates node's probe pod and waits until the probe runs, within
// ctx (give it the node's deadline). On failure the pod is deleted again;
// on success the caller must call DeletePod.
func (r *Runner) StartPod(ctx context.Context, node string) (*corev1.Pod, error) {
	return r.Start(ctx, PodStart{Node: node})
}

// StartPodNamed is StartPod with the pod's name chosen by the caller (a
// launcher.Options.Name); empty keeps PodName's.
func (r *Runner) StartPodNamed(ctx context.Context, node, name string) (*corev1.Pod, error) {
	return r.Start(ctx, PodStart{Node: node, Name: name})
}

// Start creates the pod s describes and waits until the probe runs, for
// at most StartTimeout (Deadline when zero) and within ctx. On failure,
// or when ctx ends meanwhile, the pod is deleted again (it is never left
// behind); on success the caller must call DeletePod.
func (r *Runner) Start(ctx context.Context, s PodStart) (*corev1.Pod, error) {
	created, err := r.create(ctx, r.podFor(s))
	if err != nil {
		return nil, err
	}
	timeout := r.StartTimeout
	if timeout <= 0 {
		timeout = r.Deadline
	}
	if d, ok := ctx.Deadline(); ok && time.Until(d) < timeout {
		timeout = time.Until(d)
	}
	running, err := WaitRunning(ctx, r.Client.CS, created, timeout)
	if err != nil {
		r.DeletePod(created)
		return nil, err
	}
	return running, nil
}

// CreateTimeout bounds one pod creation.
var CreateTimeout = 15 * time.Second

// create creates pod. The request is not tied to ctx: a create cut short
// in flight (Ctrl-C, a node's deadline) may still have made the pod on
// the server while the agent saw only its own cancellation, and nothing
// deleted that pod (a watch's waited out its deadline). So the request
// runs to its answer, within CreateTimeout; when ctx ended meanwhile the
// pod is deleted at once and ctx's cause returned. A create that failed
// without the server's answer (a timeout, a broken connection) may have
// happened all the same: the pod of that name is deleted if it is this
// run's.
func (r *Runner) create(ctx context.Context, want *corev1.Pod) (*corev1.Pod, error) {
	node := want.Spec.NodeName
	if ctx.Err() != nil {
		return nil, fmt.Errorf("%s: %w", describeNode(node), context.Cause(ctx))
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), CreateTimeout)
	defer cancel()
	created, err := r.Client.CS.CoreV1().Pods(r.Namespace).Create(cctx, want, metav1.CreateOptions{FieldManager: ManagedBy})
	var status apierrors.APIStatus
	if err != nil && !errors.As(err, &status) {
		r.deleteIfOurs(want)
	}
	if err == nil && ctx.Err() != nil {
		r.DeletePod(created)
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("%s: %w", describeNode(node), context.Cause(ctx))
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", describeNode(node), apiError(err, "create", "pods", r.Namespace))
	}
	return created, nil
}

// deleteIfOurs deletes the pod named like want when it carries this run's
// label (by its UID: never a pod someone else made under that name).
func (r *Runner) deleteIfOurs(want *corev1.Pod) {
	ctx, cancel := context.WithTimeout(context.Background(), DeleteTimeout)
	defer cancel()
	got, err := r.Client.CS.CoreV1().Pods(want.Namespace).Get(ctx, want.Name, metav1.GetOptions{})
	if err != nil || got.Labels[LabelManagedBy] != ManagedBy || got.Labels[LabelRun] != want.Labels[LabelRun] {
		return
	}
	deletePod(ctx, r.Client, got)
}

// Exec starts the probe's gRPC server in pod over pods/exec; stderr gets
// its log.
func (r *Runner) Exec(ctx context.Context, pod *corev1.Pod, stderr io.Writer) (*Conn, error) {
	return r.ExecDeadline(ctx, pod, r.Deadline, stderr)
}

// ExecDeadline is Exec with the exec'd server's own deadline (the pod's,
// PodStart.Deadline).
func (r *Runner) ExecDeadline(ctx context.Context, pod *corev1.Pod, deadline time.Duration, stderr io.Writer) (*Conn, error) {
	if deadline <= 0 {
		deadline = r.Deadline
	}
	if r.NewExecutor == nil {
		return Exec(ctx, r.Client.Config, ExecOptions{
			Namespace: r.Namespace,
			Pod:       pod.Name,
			Command:   ServeCommand(deadline, r.Debug),
			Stderr:    stderr,
		})
	}
	u := &url.URL{Path: "/api/v1/namespaces/" + r.Namespace + "/pods/" + pod.Name + "/exec"}
	ex, err := r.NewExecutor(u)
	if err != nil {
		return nil, err
	}
	return NewConn(ctx, ex, r.Namespace, stderr), nil
}

// DeleteTimeout bounds one deletion.
var DeleteTimeout = 10 * time.Second

// DeletePod deletes pod with a fresh context (the run's may be cancelled
// already: an interrupt must still clean up). Only that pod (by UID) is
// deleted; one already gone is fine.
func (r *Runner) DeletePod(pod *corev1.Pod) error {
	ctx, cancel := context.WithTimeout(context.Background(), DeleteTimeout)
	defer cancel()
	return deletePod(ctx, r.Client, pod)
}

func deletePod(ctx context.Context, c *Client, pod *corev1.Pod) error {
	grace := int64(1)
	opts := metav1.DeleteOptions{GracePeriodSeconds: &grace}
	if pod.UID != "" {
		uid := pod.UID
		opts.Preconditions = &metav1.Preconditions{UID: &uid}
	}
	err := c.CS.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, opts)
	if err == nil || apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	return apiError(err, "delete", "pods", pod.Namespace)
}
