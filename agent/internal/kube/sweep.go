package kube

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// SweepOptions say which probe pods a sweep deletes. Only pods labelled
// app.kubernetes.io/managed-by=dockprobe are ever considered.
type SweepOptions struct {
	Namespace string
	// KeepRun is the current run's ID: its pods are never swept.
	KeepRun string
	// All deletes every probe pod but KeepRun's (`agent cleanup
	// --runtime kubernetes`); otherwise only stale ones (the start of a
	// run).
	All bool
	// Alive reports whether the agent that made a pod still runs, when
	// that can be known (same host name as this agent); nil means it
	// cannot be known, and only age and phase decide.
	Alive func(host string, pid int) bool
	Now   time.Time
	// OnError, when set, hears of each pod that could not be deleted
	// (`agent cleanup` warns of each); the sweep's error then is the
	// listing's alone.
	OnError func(pod string, err error)
}

// Stale says whether a probe pod should go, and why. A pod is stale when
// it has finished (Succeeded, Failed), when its agent is known to be gone,
// or when it has outlived its own activeDeadlineSeconds (its creation
// label, or its creation time, plus that deadline plus a minute).
func Stale(pod *corev1.Pod, o SweepOptions) (bool, string) {
	l := pod.Labels
	if l[LabelManagedBy] != ManagedBy {
		return false, "not a dockprobe pod"
	}
	if o.KeepRun != "" && l[LabelRun] == o.KeepRun {
		return false, "this run's pod"
	}
	if o.All {
		return true, "cleanup removes every probe pod"
	}
	switch pod.Status.Phase {
	case corev1.PodSucceeded, corev1.PodFailed:
		return true, "finished (" + string(pod.Status.Phase) + ")"
	}
	if o.Alive != nil {
		if pid, err := strconv.Atoi(l[LabelAgentPID]); err == nil && pid > 0 && !o.Alive(l[LabelAgentHost], pid) {
			return true, fmt.Sprintf("its agent (pid %d) is gone", pid)
		}
	}
	created := pod.CreationTimestamp.Time
	if s, err := strconv.ParseInt(l[LabelCreated], 10, 64); err == nil {
		created = time.Unix(s, 0)
	}
	if created.IsZero() {
		return false, "age unknown"
	}
	limit := time.Duration(DefaultDeadline + deadlineGrace)
	if d := pod.Spec.ActiveDeadlineSeconds; d != nil {
		limit = time.Duration(*d) * time.Second
	}
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	if age := now.Sub(created); age > limit+time.Minute {
		return true, fmt.Sprintf("created %s ago, past its deadline of %s", age.Round(time.Second), limit)
	}
	return false, "still within its deadline"
}

// Sweep deletes the probe pods SweepOptions choose in the namespace and
// returns their names. Each deletion names the pod's UID, so a pod
// recreated under the same name is untouched; one failing deletion does
// not stop the others (their errors are joined).
func Sweep(ctx context.Context, c *Client, o SweepOptions) ([]string, error) {
	sel := labels.SelectorFromSet(labels.Set{LabelManagedBy: ManagedBy}).String()
	list, err := c.CS.CoreV1().Pods(o.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil, apiError(err, "list", "pods", o.Namespace)
	}
	var deleted []string
	var errs []error
	for i := range list.Items {
		p := &list.Items[i]
		if ok, _ := Stale(p, o); !ok {
			continue
		}
		if err := deletePod(ctx, c, p); err != nil {
			if o.OnError != nil {
				o.OnError(p.Name, err)
				continue
			}
			errs = append(errs, fmt.Errorf("pod %s: %w", p.Name, err))
			continue
		}
		deleted = append(deleted, p.Name)
	}
	return deleted, errors.Join(errs...)
}
