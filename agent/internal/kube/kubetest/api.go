package kubetest

import (
	"context"

	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/kubernetes"

	"github.com/dockprobe/dockprobe/agent/internal/kube"
)

// API is cs as a kube.API.
func API(cs kubernetes.Interface) kube.API { return api{cs} }

type api struct{ cs kubernetes.Interface }

func (a api) CoreV1() kube.CoreV1                   { return core{a.cs} }
func (a api) AuthorizationV1() kube.AuthorizationV1 { return authz{a.cs} }
func (a api) Discovery() kube.Discovery             { return disc{a.cs} }

type core struct{ cs kubernetes.Interface }

func (c core) Pods(ns string) kube.Pods    { return c.cs.CoreV1().Pods(ns) }
func (c core) Nodes() kube.Nodes           { return c.cs.CoreV1().Nodes() }
func (c core) Namespaces() kube.Namespaces { return c.cs.CoreV1().Namespaces() }

type authz struct{ cs kubernetes.Interface }

func (a authz) SelfSubjectAccessReviews() kube.AccessReviews {
	return a.cs.AuthorizationV1().SelfSubjectAccessReviews()
}

type disc struct{ cs kubernetes.Interface }

func (d disc) ServerVersion(context.Context) (*version.Info, error) {
	return d.cs.Discovery().ServerVersion()
}
