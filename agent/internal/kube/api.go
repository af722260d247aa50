package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
)

// API is the part of the Kubernetes API the agent uses, shaped like
// client-go's typed clientset (CoreV1().Pods(ns).Get ...), so that code
// reads the same. Connect's implementation is client-go's REST client over
// a scheme of core/v1 and authorization/v1 only:
// client-go's full clientset registers every API group the server has,
// which was a fifth of the agent's binary and of the memory every agent
// run touched at start, Docker runs included (issue 12). Tests adapt
// client-go's fake clientset (package kubetest).
type API interface {
	CoreV1() CoreV1
	AuthorizationV1() AuthorizationV1
	Discovery() Discovery
}

// CoreV1 is the core group's resources the agent uses.
type CoreV1 interface {
	Pods(namespace string) Pods
	Nodes() Nodes
	Namespaces() Namespaces
}

// Pods are the calls the agent makes on pods (the probe's, by name or label).
type Pods interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (*corev1.Pod, error)
	List(ctx context.Context, opts metav1.ListOptions) (*corev1.PodList, error)
	Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)
	Create(ctx context.Context, pod *corev1.Pod, opts metav1.CreateOptions) (*corev1.Pod, error)
	Delete(ctx context.Context, name string, opts metav1.DeleteOptions) error
}

// Nodes are read only.
type Nodes interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (*corev1.Node, error)
	List(ctx context.Context, opts metav1.ListOptions) (*corev1.NodeList, error)
}

// Namespaces are read only.
type Namespaces interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (*corev1.Namespace, error)
}

// AuthorizationV1 is the access review the agent asks before it starts.
type AuthorizationV1 interface {
	SelfSubjectAccessReviews() AccessReviews
}

// AccessReviews creates SelfSubjectAccessReviews.
type AccessReviews interface {
	Create(ctx context.Context, r *authorizationv1.SelfSubjectAccessReview, opts metav1.CreateOptions) (*authorizationv1.SelfSubjectAccessReview, error)
}

// Discovery is the server's version.
type Discovery interface {
	ServerVersion(ctx context.Context) (*version.Info, error)
}

// codecs is the scheme of the two groups, built on first use (a Docker
// run never needs it).
var codecs = sync.OnceValue(func() struct {
	factory serializer.CodecFactory
	params  runtime.ParameterCodec
} {
	s := runtime.NewScheme()
	metav1.AddToGroupVersion(s, schema.GroupVersion{Version: "v1"})
	utilruntime.Must(corev1.AddToScheme(s))
	utilruntime.Must(authorizationv1.AddToScheme(s))
	return struct {
		factory serializer.CodecFactory
		params  runtime.ParameterCodec
	}{rest.CodecFactoryForGeneratedClient(s, serializer.NewCodecFactory(s)), runtime.NewParameterCodec(s)}
})

// groupConfig is cfg for one API group, as client-go's typed clients set
// it up.
func groupConfig(cfg *rest.Config, apiPath string, gv schema.GroupVersion) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.APIPath = apiPath
	c.GroupVersion = &gv
	c.NegotiatedSerializer = codecs().factory.WithoutConversion()
	if c.UserAgent == "" {
		c.UserAgent = rest.DefaultKubernetesUserAgent()
	}
	return c
}

// clientset is API over client-go's REST clients.
type clientset struct {
	core, authz rest.Interface
}

// newClientset builds the REST clients of cfg; it does not talk to the
// server.
func newClientset(cfg *rest.Config) (*clientset, error) {
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, err
	}
	core, err := rest.RESTClientForConfigAndClient(groupConfig(cfg, "/api", corev1.SchemeGroupVersion), httpClient)
	if err != nil {
		return nil, err
	}
	authz, err := rest.RESTClientForConfigAndClient(groupConfig(cfg, "/apis", authorizationv1.SchemeGroupVersion), httpClient)
	if err != nil {
		return nil, err
	}
	return &clientset{core: core, authz: authz}, nil
}

func (c *clientset) CoreV1() CoreV1                   { return coreV1{c.core} }
func (c *clientset) AuthorizationV1() AuthorizationV1 { return authzV1{c.authz} }
func (c *clientset) Discovery() Discovery             { return discovery{c.core} }

type coreV1 struct{ rc rest.Interface }

func (c coreV1) Pods(namespace string) Pods {
	return typed[*corev1.Pod, *corev1.PodList]{c.rc, "pods", namespace,
		func() *corev1.Pod { return &corev1.Pod{} }, func() *corev1.PodList { return &corev1.PodList{} }}
}

func (c coreV1) Nodes() Nodes {
	return typed[*corev1.Node, *corev1.NodeList]{c.rc, "nodes", "",
		func() *corev1.Node { return &corev1.Node{} }, func() *corev1.NodeList { return &corev1.NodeList{} }}
}

func (c coreV1) Namespaces() Namespaces {
	return typed[*corev1.Namespace, *corev1.NamespaceList]{c.rc, "namespaces", "",
		func() *corev1.Namespace { return &corev1.Namespace{} }, func() *corev1.NamespaceList { return &corev1.NamespaceList{} }}
}

type authzV1 struct{ rc rest.Interface }

func (a authzV1) SelfSubjectAccessReviews() AccessReviews {
	return typed[*authorizationv1.SelfSubjectAccessReview, *metav1.List]{a.rc, "selfsubjectaccessreviews", "",
		func() *authorizationv1.SelfSubjectAccessReview { return &authorizationv1.SelfSubjectAccessReview{} }, nil}
}

// typed is one resource's requests, as client-go's typed clients make
// them (its gentype package would do, but it carries client-go's testing
// package and with it the OpenAPI and managed-fields code: 3.5 MB).
type typed[T, L runtime.Object] struct {
	rc        rest.Interface
	name, ns  string
	newObject func() T
	newList   func() L
}

func (r typed[T, L]) Get(ctx context.Context, name string, opts metav1.GetOptions) (T, error) {
	out := r.newObject()
	err := r.rc.Get().NamespaceIfScoped(r.ns, r.ns != "").Resource(r.name).Name(name).
		VersionedParams(&opts, codecs().params).Do(ctx).Into(out)
	return out, err
}

func (r typed[T, L]) List(ctx context.Context, opts metav1.ListOptions) (L, error) {
	out := r.newList()
	err := r.rc.Get().NamespaceIfScoped(r.ns, r.ns != "").Resource(r.name).
		VersionedParams(&opts, codecs().params).Do(ctx).Into(out)
	return out, err
}

func (r typed[T, L]) Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
	opts.Watch = true
	return r.rc.Get().NamespaceIfScoped(r.ns, r.ns != "").Resource(r.name).
		VersionedParams(&opts, codecs().params).Watch(ctx)
}

func (r typed[T, L]) Create(ctx context.Context, obj T, opts metav1.CreateOptions) (T, error) {
	out := r.newObject()
	err := r.rc.Post().NamespaceIfScoped(r.ns, r.ns != "").Resource(r.name).
		VersionedParams(&opts, codecs().params).Body(obj).Do(ctx).Into(out)
	return out, err
}

func (r typed[T, L]) Delete(ctx context.Context, name string, opts metav1.DeleteOptions) error {
	return r.rc.Delete().NamespaceIfScoped(r.ns, r.ns != "").Resource(r.name).Name(name).
		Body(&opts).Do(ctx).Error()
}

type discovery struct{ rc rest.Interface }

// ServerVersion is GET /version, as client-go's discovery client asks it.
func (d discovery) ServerVersion(ctx context.Context) (*version.Info, error) {
	body, err := d.rc.Get().AbsPath("/version").Do(ctx).Raw()
	if err != nil {
		return nil, err
	}
	var info version.Info
	if err := json.Unmarshal(body, &info); err != nil {
		return nil, fmt.Errorf("unable to parse the server version: %w", err)
	}
	return &info, nil
}
