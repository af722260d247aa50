package kube

import (
	"context"
	"errors"
	"fmt"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Permission is one RBAC permission the agent needs.
type Permission struct {
	Verb, Resource, Subresource string
	Namespaced                  bool
}

func (p Permission) resource() string {
	if p.Subresource != "" {
		return p.Resource + "/" + p.Subresource
	}
	return p.Resource
}

// Needed is the least the agent needs: what deploy/kubernetes/rbac.yaml
// grants (a test keeps the two equal). `get` on pods/exec is what servers
// before 1.35 checked for the WebSocket upgrade (a GET); `create` is what
// SPDY and newer servers check.
var Needed = []Permission{
	{Verb: "get", Resource: "nodes"},
	{Verb: "list", Resource: "nodes"},
	{Verb: "create", Resource: "pods", Namespaced: true},
	{Verb: "get", Resource: "pods", Namespaced: true},
	{Verb: "list", Resource: "pods", Namespaced: true},
	{Verb: "watch", Resource: "pods", Namespaced: true},
	{Verb: "delete", Resource: "pods", Namespaced: true},
	{Verb: "create", Resource: "pods", Subresource: "exec", Namespaced: true},
	{Verb: "get", Resource: "pods", Subresource: "exec", Namespaced: true},
}

// CheckAccess asks the server (SelfSubjectAccessReview, which every
// authenticated user may create) whether this user has each permission a
// probe run uses, so that a missing one is one line naming it before any
// pod is made. It returns the first ForbiddenError; when the review itself
// cannot be made it returns nil and the real calls will say.
func CheckAccess(ctx context.Context, cs API, namespace string, perms []Permission) error {
	for _, p := range perms {
		ns := ""
		if p.Namespaced {
			ns = namespace
		}
		r, err := cs.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
			Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
				Namespace: ns, Verb: p.Verb, Resource: p.Resource, Subresource: p.Subresource,
			}},
		}, metav1.CreateOptions{})
		if err != nil {
			return nil
		}
		if !r.Status.Allowed {
			msg := r.Status.Reason
			if msg == "" {
				msg = fmt.Sprintf("%s %s denied", p.Verb, p.resource())
			}
			return &ForbiddenError{Verb: p.Verb, Resource: p.resource(), Namespace: ns, Message: msg}
		}
	}
	return nil
}

// PodSecurityLabels are the namespace labels the probe pod needs.
var PodSecurityLabels = map[string]string{
	"pod-security.kubernetes.io/enforce": "privileged",
	"pod-security.kubernetes.io/audit":   "privileged",
	"pod-security.kubernetes.io/warn":    "privileged",
}

// CheckNamespace reads the namespace's Pod Security enforce label and
// returns a configuration error naming the fix when it is set below
// privileged. A namespace the user may not read is not an error here (the
// least role does not grant it): creating the pod will say.
func CheckNamespace(ctx context.Context, cs API, namespace string) error {
	ns, err := cs.CoreV1().Namespaces().Get(ctx, namespace, metav1.GetOptions{})
	if err != nil {
		if e := apiError(err, "get", "namespaces", namespace); errors.Is(e, ErrConfig) {
			return e
		}
		return nil
	}
	const key = "pod-security.kubernetes.io/enforce"
	if level, ok := ns.Labels[key]; ok && level != "privileged" {
		return fmt.Errorf("%w: %w: namespace %s enforces Pod Security %q; the probe needs privileged (hostPID, SYS_ADMIN, SYS_PTRACE): `kubectl label --overwrite namespace %s pod-security.kubernetes.io/enforce=privileged pod-security.kubernetes.io/audit=privileged pod-security.kubernetes.io/warn=privileged`",
			ErrConfig, ErrPodSecurity, namespace, level, namespace)
	}
	return nil
}
