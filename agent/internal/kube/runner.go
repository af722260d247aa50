package kube

import (
	"context"
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
	Deadline      time.Duration
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
func (r *Runner) Pod(node string) *corev1.Pod {
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	return BuildPod(PodOptions{
		Namespace:     r.Namespace,
		Node:          node,
		RunID:         r.RunID,
		Image:         r.Image,
		PullPolicy:    r.PullPolicy,
		AgentHost:     r.AgentHost,
		AgentPID:      r.AgentPID,
		Created:       now(),
		Deadline:      r.Deadline,
		AppArmorField: r.AppArmorField,
	})
}

// StartPod creates node's probe pod and waits until the probe runs, within
// ctx (give it the node's deadline). On failure the pod is deleted again;
// on success the caller must call DeletePod.
func (r *Runner) StartPod(ctx context.Context, node string) (*corev1.Pod, error) {
	return r.StartPodNamed(ctx, node, "")
}

// StartPodNamed is StartPod with the pod's name chosen by the caller (a
// launcher.Options.Name); empty keeps PodName's.
func (r *Runner) StartPodNamed(ctx context.Context, node, name string) (*corev1.Pod, error) {
	want := r.Pod(node)
	if name != "" {
		want.Name = name
	}
	pods := r.Client.CS.CoreV1().Pods(r.Namespace)
	created, err := pods.Create(ctx, want, metav1.CreateOptions{FieldManager: ManagedBy})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", describeNode(node), apiError(err, "create", "pods", r.Namespace))
	}
	timeout := r.Deadline
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	running, err := WaitRunning(ctx, r.Client.CS, created, timeout)
	if err != nil {
		r.DeletePod(created)
		return nil, err
	}
	return running, nil
}

// Exec starts the probe's gRPC server in pod over pods/exec; stderr gets
// its log.
func (r *Runner) Exec(ctx context.Context, pod *corev1.Pod, stderr io.Writer) (*Conn, error) {
	if r.NewExecutor == nil {
		return Exec(ctx, r.Client.Config, ExecOptions{
			Namespace: r.Namespace,
			Pod:       pod.Name,
			Command:   ServeCommand(r.Deadline, r.Debug),
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
