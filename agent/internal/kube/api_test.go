package kube

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
)

// apiServer answers like kube-apiserver for the requests kube.API makes,
// and records them.
type apiServer struct {
	mu   sync.Mutex
	seen []string
}

func (s *apiServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.seen = append(s.seen, r.Method+" "+r.URL.RequestURI()+" "+strings.TrimSpace(string(body)))
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	write := func(v any) { _ = json.NewEncoder(w).Encode(v) }
	pod := corev1.Pod{TypeMeta: metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"}, ObjectMeta: metav1.ObjectMeta{Name: "p1", Namespace: "dockprobe"}}
	switch {
	case r.URL.Path == "/version":
		write(map[string]string{"major": "1", "minor": "35", "gitVersion": "v1.35.4", "platform": "linux/amd64"})
	case r.Method == http.MethodGet && r.URL.Path == "/api/v1/namespaces/dockprobe/pods/p1":
		write(pod)
	case r.Method == http.MethodGet && r.URL.Path == "/api/v1/namespaces/dockprobe/pods" && r.URL.Query().Get("watch") == "true":
		write(metav1.WatchEvent{Type: "MODIFIED", Object: rawObject(pod)})
	case r.Method == http.MethodGet && r.URL.Path == "/api/v1/namespaces/dockprobe/pods":
		write(corev1.PodList{TypeMeta: metav1.TypeMeta{Kind: "PodList", APIVersion: "v1"}, Items: []corev1.Pod{pod}})
	case r.Method == http.MethodPost && r.URL.Path == "/api/v1/namespaces/dockprobe/pods":
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(body)
	case r.Method == http.MethodDelete && r.URL.Path == "/api/v1/namespaces/dockprobe/pods/p1":
		write(metav1.Status{Status: "Success"})
	case r.URL.Path == "/api/v1/nodes":
		write(corev1.NodeList{TypeMeta: metav1.TypeMeta{Kind: "NodeList", APIVersion: "v1"}, Items: []corev1.Node{{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}}})
	case r.URL.Path == "/api/v1/nodes/n1":
		write(corev1.Node{TypeMeta: metav1.TypeMeta{Kind: "Node", APIVersion: "v1"}, ObjectMeta: metav1.ObjectMeta{Name: "n1"}})
	case r.URL.Path == "/api/v1/namespaces/dockprobe":
		write(corev1.Namespace{TypeMeta: metav1.TypeMeta{Kind: "Namespace", APIVersion: "v1"}, ObjectMeta: metav1.ObjectMeta{Name: "dockprobe"}})
	case r.URL.Path == "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews":
		var rev authorizationv1.SelfSubjectAccessReview
		_ = json.Unmarshal(body, &rev)
		rev.Status.Allowed = rev.Spec.ResourceAttributes.Verb == "get"
		w.WriteHeader(http.StatusCreated)
		write(rev)
	default:
		w.WriteHeader(http.StatusNotFound)
		write(metav1.Status{Status: "Failure", Reason: metav1.StatusReasonNotFound, Code: 404, Message: r.URL.Path + " not found"})
	}
}

func rawObject(v any) runtime.RawExtension {
	b, _ := json.Marshal(v)
	return runtime.RawExtension{Raw: b}
}

// TestClientsetRequests: every call of kube.API is the request
// kube-apiserver expects, and its answer decodes.
func TestClientsetRequests(t *testing.T) {
	srv := &apiServer{}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	cs, err := newClientset(&rest.Config{Host: hs.URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	v, err := cs.Discovery().ServerVersion(ctx)
	if err != nil || v.GitVersion != "v1.35.4" {
		t.Fatalf("ServerVersion = %v, %v", v, err)
	}
	pods := cs.CoreV1().Pods("dockprobe")
	if p, err := pods.Get(ctx, "p1", metav1.GetOptions{}); err != nil || p.Name != "p1" {
		t.Fatalf("Get = %v, %v", p, err)
	}
	if l, err := pods.List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/managed-by=dockprobe"}); err != nil || len(l.Items) != 1 {
		t.Fatalf("List = %v, %v", l, err)
	}
	w, err := pods.Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=p1"})
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	ev := <-w.ResultChan()
	w.Stop()
	if p, ok := ev.Object.(*corev1.Pod); !ok || ev.Type != "MODIFIED" || p.Name != "p1" {
		t.Fatalf("watch event %v %T", ev.Type, ev.Object)
	}
	created, err := pods.Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "new"}}, metav1.CreateOptions{})
	if err != nil || created.Name != "new" {
		t.Fatalf("Create = %v, %v", created, err)
	}
	grace := int64(0)
	if err := pods.Delete(ctx, "p1", metav1.DeleteOptions{GracePeriodSeconds: &grace}); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := pods.Get(ctx, "gone", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("Get of a missing pod: %v, want NotFound", err)
	}
	if l, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err != nil || len(l.Items) != 1 {
		t.Fatalf("nodes List = %v, %v", l, err)
	}
	if n, err := cs.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{}); err != nil || n.Name != "n1" {
		t.Fatalf("nodes Get = %v, %v", n, err)
	}
	if ns, err := cs.CoreV1().Namespaces().Get(ctx, "dockprobe", metav1.GetOptions{}); err != nil || ns.Name != "dockprobe" {
		t.Fatalf("namespaces Get = %v, %v", ns, err)
	}
	rev, err := cs.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
		Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "get", Resource: "nodes"}},
	}, metav1.CreateOptions{})
	if err != nil || !rev.Status.Allowed {
		t.Fatalf("access review = %v, %v", rev, err)
	}

	want := []string{
		"GET /version ",
		"GET /api/v1/namespaces/dockprobe/pods/p1 ",
		"GET /api/v1/namespaces/dockprobe/pods?labelSelector=app.kubernetes.io%2Fmanaged-by%3Ddockprobe ",
		"GET /api/v1/namespaces/dockprobe/pods?fieldSelector=metadata.name%3Dp1&watch=true ",
		"POST /api/v1/namespaces/dockprobe/pods ",
		`DELETE /api/v1/namespaces/dockprobe/pods/p1 {"kind":"DeleteOptions","apiVersion":"v1","gracePeriodSeconds":0}`,
		"GET /api/v1/namespaces/dockprobe/pods/gone ",
		"GET /api/v1/nodes ",
		"GET /api/v1/nodes/n1 ",
		"GET /api/v1/namespaces/dockprobe ",
		"POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews ",
	}
	if len(srv.seen) != len(want) {
		t.Fatalf("requests:\n%s", strings.Join(srv.seen, "\n"))
	}
	for i, w := range want {
		got := srv.seen[i]
		if strings.HasPrefix(w, "POST ") { // the body is the object, checked above
			got = got[:len(w)]
		}
		if got != w {
			t.Errorf("request %d = %q, want %q", i, got, w)
		}
	}
}
