package kube

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
)

// ErrTimeout: the pod was not running within the node's deadline.
var ErrTimeout = errors.New("timed out")

// MissingImageFix says how to put the probe image on a node.
func MissingImageFix(image string) string {
	return fmt.Sprintf("load it on the node: `agent image save -o probe.tar`, then on the node `ctr -n k8s.io images import probe.tar` (containerd) or `docker load -i probe.tar` (dockerd); or push it to a registry you control with `agent image push REF` and pass --image REF (image %s)", image)
}

// PodState says whether the probe container is running yet (ok), or why it
// never will (err, one line naming the fix); neither means keep waiting.
// detail says what the pod is doing meanwhile ("Pending: ContainerCreating"),
// for a timeout's message.
func PodState(pod *corev1.Pod) (ok bool, detail string, err error) {
	node := pod.Spec.NodeName
	if pod.DeletionTimestamp != nil {
		return false, "", fmt.Errorf("%w: %s: the probe pod %s is being deleted (by someone else, or the node is going away)", ErrPodFailed, describeNode(node), pod.Name)
	}
	switch pod.Status.Phase {
	case corev1.PodFailed:
		// The kubelet's admission refusals (AppArmor on a node without
		// it, a node that cannot run the pod) and activeDeadlineSeconds
		// end here, with a reason and message.
		why := joinNonEmpty(": ", pod.Status.Reason, pod.Status.Message)
		if strings.Contains(why, "AppArmor") {
			return false, "", fmt.Errorf("%w: %s refused the probe pod: %s (the pod asks for AppArmor unconfined; a node without AppArmor must not be given a profile)", ErrPodFailed, describeNode(node), why)
		}
		if why == "" {
			why = "no reason given"
		}
		if t := terminated(pod); t != "" {
			why += "; " + t
		}
		return false, "", fmt.Errorf("%w: %s: the probe pod failed: %s", ErrPodFailed, describeNode(node), why)
	case corev1.PodSucceeded:
		return false, "", fmt.Errorf("%w: %s: the probe pod ended before the agent reached it (its deadline passed, or its stdin was closed)", ErrPodFailed, describeNode(node))
	}
	detail = string(pod.Status.Phase)
	if detail == "" {
		detail = "Pending"
	}
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.Name != ContainerName {
			continue
		}
		switch {
		case cs.State.Running != nil:
			return true, "Running", nil
		case cs.State.Terminated != nil:
			return false, "", fmt.Errorf("%w: %s: the probe exited before the agent reached it: %s", ErrPodFailed, describeNode(node), terminated(pod))
		case cs.State.Waiting != nil:
			w := cs.State.Waiting
			detail += ": " + w.Reason
			if err := waitingError(node, cs.Image, w); err != nil {
				return false, detail, err
			}
		}
	}
	return false, detail, nil
}

// waitingError turns the waiting reasons that never heal into errors.
func waitingError(node, image string, w *corev1.ContainerStateWaiting) error {
	msg := firstLine(w.Message)
	switch w.Reason {
	case "ErrImageNeverPull":
		return fmt.Errorf("%w: %s does not have the probe image and the pod may not pull it: %s", ErrImageMissing, describeNode(node), MissingImageFix(image))
	case "ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ImageInspectError", "RegistryUnavailable", "SignatureValidationFailed":
		return fmt.Errorf("%w: %s could not pull %s (%s: %s): check the reference and that the node can reach that registry, or load the image on the node instead: %s", ErrImageMissing, describeNode(node), image, w.Reason, msg, MissingImageFix(image))
	}
	if strings.HasPrefix(w.Reason, "CreateContainer") || w.Reason == "RunContainerError" || w.Reason == "PreCreateHookError" || w.Reason == "PreStartHookError" {
		return fmt.Errorf("%w: %s: the runtime could not start the probe (%s): %s", ErrPodFailed, describeNode(node), w.Reason, msg)
	}
	if strings.Contains(w.Message, "AppArmor") {
		return fmt.Errorf("%w: %s refused the probe pod: %s", ErrPodFailed, describeNode(node), msg)
	}
	return nil
}

func terminated(pod *corev1.Pod) string {
	for _, cs := range pod.Status.ContainerStatuses {
		if t := cs.State.Terminated; cs.Name == ContainerName && t != nil {
			return joinNonEmpty(": ", fmt.Sprintf("exit code %d", t.ExitCode), t.Reason, firstLine(t.Message))
		}
	}
	return ""
}

func joinNonEmpty(sep string, parts ...string) string {
	var out []string
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, sep)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// WaitRunning waits until the probe container of pod (as created) runs,
// with a watch on that one pod and a deadline of timeout. It fails fast
// on what never heals (PodState) and on the pod's deletion.
func WaitRunning(ctx context.Context, cs API, pod *corev1.Pod, timeout time.Duration) (*corev1.Pod, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ns, name, node := pod.Namespace, pod.Name, pod.Spec.NodeName
	detail := "Pending"
	timedOut := func() error {
		if errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
			return fmt.Errorf("%w: %s: the probe pod was not running after %s (last seen %s); is the node Ready and its kubelet running?", ErrTimeout, describeNode(node), timeout, detail)
		}
		return context.Cause(ctx)
	}
	check := func(p *corev1.Pod) (bool, error) {
		ok, d, err := PodState(p)
		if d != "" {
			detail = d
		}
		return ok, err
	}
	if ok, err := check(pod); ok || err != nil {
		return pod, err
	}
	rv := pod.ResourceVersion
	sel := fields.OneTermEqualSelector("metadata.name", name).String()
	for {
		w, err := cs.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{FieldSelector: sel, ResourceVersion: rv, AllowWatchBookmarks: true})
		if err != nil {
			if ctx.Err() != nil {
				return nil, timedOut()
			}
			if apierrors.IsGone(err) || apierrors.IsResourceExpired(err) {
				p, gerr := cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
				if gerr != nil {
					return nil, getError(gerr, ns, node, ctx, timedOut)
				}
				if ok, err := check(p); ok || err != nil {
					return p, err
				}
				rv = p.ResourceVersion
				continue
			}
			return nil, apiError(err, "watch", "pods", ns)
		}
		p, done, err := drain(ctx, w, name, &rv, check)
		w.Stop()
		if done || err != nil {
			return p, err
		}
		if ctx.Err() != nil {
			return nil, timedOut()
		}
		// The server closed the watch (it does every few minutes): go on
		// from the last version seen.
	}
}

func getError(err error, ns, node string, ctx context.Context, timedOut func() error) error {
	if ctx.Err() != nil {
		return timedOut()
	}
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("%w: %s: the probe pod was deleted while the agent waited for it", ErrPodFailed, describeNode(node))
	}
	return apiError(err, "get", "pods", ns)
}

// drain reads one watch until the pod runs (done), fails, or the watch
// ends (neither: watch again).
func drain(ctx context.Context, w watch.Interface, name string, rv *string, check func(*corev1.Pod) (bool, error)) (*corev1.Pod, bool, error) {
	for {
		select {
		case <-ctx.Done():
			return nil, false, nil
		case ev, open := <-w.ResultChan():
			if !open {
				return nil, false, nil
			}
			switch ev.Type {
			case watch.Error:
				err := apierrors.FromObject(ev.Object)
				if apierrors.IsGone(err) || apierrors.IsResourceExpired(err) {
					*rv = "" // from the current state
					return nil, false, nil
				}
				return nil, false, fmt.Errorf("watch pods: %w", err)
			case watch.Bookmark:
				if m, ok := ev.Object.(metav1.Object); ok {
					*rv = m.GetResourceVersion()
				}
				continue
			}
			p, ok := ev.Object.(*corev1.Pod)
			if !ok || p.Name != name {
				continue
			}
			*rv = p.ResourceVersion
			if ev.Type == watch.Deleted {
				return nil, false, fmt.Errorf("%w: %s: the probe pod was deleted while the agent waited for it", ErrPodFailed, describeNode(p.Spec.NodeName))
			}
			ok, err := check(p)
			if ok || err != nil {
				return p, ok, err
			}
		}
	}
}
