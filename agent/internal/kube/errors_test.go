package kube

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/klog/v2"
)

func TestAPIErrorForbidden(t *testing.T) {
	// As the API server words an RBAC refusal of an exec.
	api := apierrors.NewForbidden(schema.GroupResource{Resource: "pods/exec"}, "dockprobe-worker-1-0a1b2c3d",
		errors.New(`User "alice" cannot create resource "pods/exec" in API group "" in the namespace "dockprobe"`))
	err := apiError(fmt.Errorf("upgrade: %w", api), "create", "pods/exec", "dockprobe")
	var fe *ForbiddenError
	if !errors.Is(err, ErrForbidden) || !errors.As(err, &fe) {
		t.Fatalf("%v is not a ForbiddenError", err)
	}
	for _, m := range []string{"create pods/exec in namespace dockprobe", "kubectl auth can-i create pods/exec -n dockprobe", "deploy/kubernetes/rbac.yaml"} {
		if !strings.Contains(err.Error(), m) {
			t.Errorf("%q does not mention %q", err, m)
		}
	}
	if strings.Contains(err.Error(), "\n") || errors.Is(err, ErrConfig) {
		t.Errorf("one line, and not a configuration error: %q", err)
	}
}

func TestAPIErrorPodSecurity(t *testing.T) {
	// As Pod Security admission words it for the probe pod under baseline.
	api := apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "dockprobe-worker-1-0a1b2c3d",
		errors.New(`violates PodSecurity "baseline:latest": host namespaces (hostPID=true), non-default capabilities (container "probe" must not include "SYS_ADMIN", "SYS_PTRACE" in securityContext.capabilities.add)`))
	err := apiError(api, "create", "pods", "team-a")
	if !errors.Is(err, ErrConfig) || !errors.Is(err, ErrPodSecurity) || errors.Is(err, ErrForbidden) {
		t.Fatalf("%v: want a Pod Security configuration error", err)
	}
	if !strings.Contains(err.Error(), "kubectl label --overwrite namespace team-a pod-security.kubernetes.io/enforce=privileged") {
		t.Errorf("%q does not name the label fix", err)
	}
}

func TestAPIErrorOther(t *testing.T) {
	if err := apiError(apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, "dockprobe"), "get", "namespaces", "dockprobe"); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "namespace.yaml") {
		t.Errorf("a missing namespace: %v", err)
	}
	base := errors.New("connection refused")
	if err := apiError(base, "list", "nodes", ""); !errors.Is(err, base) || !strings.HasPrefix(err.Error(), "list nodes: ") {
		t.Errorf("%v", err)
	}
	if apiError(nil, "x", "y", "z") != nil {
		t.Error("nil stays nil")
	}
}

const kubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: one
  cluster: {server: "https://127.0.0.1:6443", insecure-skip-tls-verify: true}
- name: two
  cluster: {server: "https://127.0.0.2:6443", insecure-skip-tls-verify: true}
users:
- name: u
  user: {token: secret-token}
contexts:
- name: a
  context: {cluster: one, user: u}
- name: b
  context: {cluster: two, user: u}
current-context: a
`

func TestRESTConfig(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config")
	if err := os.WriteFile(path, []byte(kubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	// No in-cluster configuration, no ~/.kube/config of the machine.
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	t.Setenv("HOME", dir)
	t.Setenv("USERPROFILE", dir)

	t.Setenv("KUBECONFIG", "")
	if _, err := RESTConfig(ConnOptions{}); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "--kubeconfig") {
		t.Errorf("no configuration at all: %v", err)
	}
	cfg, err := RESTConfig(ConnOptions{Kubeconfig: path})
	if err != nil || cfg.Host != "https://127.0.0.1:6443" || cfg.QPS != DefaultQPS || cfg.Burst != DefaultBurst || cfg.BearerToken != "secret-token" {
		t.Fatalf("--kubeconfig: %+v %v", cfg, err)
	}
	cfg, err = RESTConfig(ConnOptions{Kubeconfig: path, Context: "b", QPS: 7, Burst: 9})
	if err != nil || cfg.Host != "https://127.0.0.2:6443" || cfg.QPS != 7 || cfg.Burst != 9 {
		t.Fatalf("--kube-context b: %+v %v", cfg, err)
	}
	if _, err := RESTConfig(ConnOptions{Kubeconfig: path, Context: "nope"}); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("unknown context: %v", err)
	}
	t.Setenv("KUBECONFIG", filepath.Join(dir, "missing")+string(os.PathListSeparator)+path)
	if cfg, err := RESTConfig(ConnOptions{}); err != nil || cfg.Host != "https://127.0.0.1:6443" {
		t.Errorf("KUBECONFIG list: %+v %v", cfg, err)
	}
	if c, err := Connect(ConnOptions{Kubeconfig: path}); err != nil || c.CS == nil {
		t.Errorf("Connect: %v", err)
	}
}

func TestRouteLogs(t *testing.T) {
	var b strings.Builder
	RouteLogs(&b)
	defer RouteLogs(io.Discard)
	klog.Warning("client-side throttling")
	klog.Flush()
	if !strings.Contains(b.String(), "client-side throttling") {
		t.Errorf("klog went elsewhere: %q", b.String())
	}
}
