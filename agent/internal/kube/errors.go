package kube

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/streaming/pkg/httpstream"
)

// Errors the CLI maps to exit codes.
var (
	// ErrConfig: no usable kubeconfig, an unknown context, a namespace
	// that refuses the probe (Pod Security). The CLI's configuration exit
	// code (2).
	ErrConfig = errors.New("kubernetes configuration error")
	// ErrForbidden: the user lacks an RBAC permission; its own exit code.
	ErrForbidden = errors.New("forbidden")
	// ErrPodSecurity: Pod Security admission refused the pod. It is also
	// an ErrConfig.
	ErrPodSecurity = errors.New("pod security admission refused the probe pod")
	// ErrImageMissing: the node does not have the probe image and may not
	// pull it.
	ErrImageMissing = errors.New("probe image missing on the node")
	// ErrPodFailed: the pod failed, was refused by the kubelet, or was
	// deleted while the agent waited for it.
	ErrPodFailed = errors.New("probe pod failed")
	// ErrNodeNotReady: the node is not Ready (not probed).
	ErrNodeNotReady = errors.New("node not ready")
	// ErrNoNodes: the selection matched no node.
	ErrNoNodes = errors.New("no node matches")
)

// ForbiddenError names the permission that was refused, as kubectl's
// `auth can-i` would ask for it.
type ForbiddenError struct {
	Verb, Resource, Namespace string
	// Message is the API server's own message (it names the user).
	Message string
}

func (e *ForbiddenError) Error() string {
	where := ""
	if e.Namespace != "" {
		where = " in namespace " + e.Namespace
	}
	return fmt.Sprintf("forbidden: this user may not %s %s%s; ask for the dockprobe role (deploy/kubernetes/rbac.yaml) or check with `kubectl auth can-i %s %s%s`",
		e.Verb, e.Resource, where, e.Verb, e.Resource, nsFlag(e.Namespace))
}

func nsFlag(ns string) string {
	if ns == "" {
		return ""
	}
	return " -n " + ns
}

// Is makes errors.Is(err, ErrForbidden) true.
func (e *ForbiddenError) Is(target error) bool { return target == ErrForbidden }

// apiError turns an API error for verb on resource into one the user can
// act on: 403 becomes a ForbiddenError (or a Pod Security configuration
// error); others are wrapped with what was being done.
func apiError(err error, verb, resource, namespace string) error {
	if err == nil {
		return nil
	}
	var se apierrors.APIStatus
	// The upgrade failure of an exec carries the server's status in a
	// Cause that it does not unwrap.
	if !errors.As(err, &se) {
		var uf *httpstream.UpgradeFailureError
		if errors.As(err, &uf) && uf.Cause != nil {
			errors.As(uf.Cause, &se)
		}
	}
	if se == nil {
		return fmt.Errorf("%s %s: %w", verb, resource, err)
	}
	st := se.Status()
	if st.Reason == metav1.StatusReasonForbidden || st.Code == http.StatusForbidden {
		msg := st.Message
		if strings.Contains(msg, "violates PodSecurity") {
			return fmt.Errorf("%w: %w: namespace %s enforces a Pod Security level below privileged (the probe needs hostPID, SYS_ADMIN and SYS_PTRACE); label it: `kubectl label --overwrite namespace %s pod-security.kubernetes.io/enforce=privileged pod-security.kubernetes.io/audit=privileged pod-security.kubernetes.io/warn=privileged` (deploy/kubernetes/namespace.yaml)",
				ErrConfig, ErrPodSecurity, namespace, namespace)
		}
		if strings.Contains(msg, "error looking up service account") {
			// Admission, not RBAC: a namespace made without a controller
			// manager has no default ServiceAccount.
			return fmt.Errorf("%w: namespace %s has no default ServiceAccount, which admission requires of every pod: `kubectl create serviceaccount default -n %s` (%s)", ErrConfig, namespace, namespace, msg)
		}
		return &ForbiddenError{Verb: verb, Resource: resource, Namespace: namespace, Message: msg}
	}
	if (st.Reason == metav1.StatusReasonNotFound || st.Code == http.StatusNotFound) && resource == "namespaces" {
		return fmt.Errorf("%w: namespace %s does not exist; create it with `kubectl apply -f deploy/kubernetes/namespace.yaml`", ErrConfig, namespace)
	}
	return fmt.Errorf("%s %s: %w", verb, resource, err)
}
