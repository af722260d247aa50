package k8s

import (
	"context"
	"strings"
	"testing"
	"time"
)

// A user from UserWithRole may do exactly what its Role allows, in its
// namespace only: the helper the RBAC tests of the Kubernetes runtime bind
// to deploy/kubernetes's role.
func TestUserWithRoleGetsExactlyTheRole(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ns := "rbac-" + randomHex(t, 3)
	if err := cluster.Namespace(ctx, ns, map[string]string{"pod-security.kubernetes.io/enforce": "privileged"}); err != nil {
		t.Fatal(err)
	}
	if _, err := cluster.Kubectl(ctx, "-n", ns, "create", "role", "pod-reader", "--verb=get,list", "--resource=pods"); err != nil {
		t.Fatal(err)
	}
	user := "e2e-" + randomHex(t, 3)
	kc, err := cluster.UserWithRole(ctx, user, ns, "pod-reader")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := cluster.KubectlAs(ctx, kc, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"); err != nil || out != user {
		t.Fatalf("whoami = %q, %v; want %q", out, err, user)
	}
	if _, err := cluster.KubectlAs(ctx, kc, "-n", ns, "get", "pods"); err != nil {
		t.Fatalf("list pods in %s, which the role allows: %v", ns, err)
	}
	for _, args := range [][]string{
		{"-n", "default", "get", "pods"},          // another namespace
		{"get", "nodes"},                          // cluster-scoped, not in the role
		{"-n", ns, "delete", "pod", "x", "--now"}, // a verb the role lacks
	} {
		_, err := cluster.KubectlAs(ctx, kc, args...)
		if err == nil || !strings.Contains(err.Error(), "Forbidden") && !strings.Contains(err.Error(), "forbidden") {
			t.Errorf("kubectl %v as %s: %v, want forbidden", args, user, err)
		}
	}
	nodeReader := "node-reader-" + user
	if _, err := cluster.Kubectl(ctx, "create", "clusterrole", nodeReader, "--verb=get,list", "--resource=nodes"); err != nil {
		t.Fatal(err)
	}
	if err := cluster.BindClusterRole(ctx, user, nodeReader); err != nil {
		t.Fatal(err)
	}
	if _, err := cluster.KubectlAs(ctx, kc, "get", "nodes"); err != nil {
		t.Fatalf("get nodes after binding %s: %v", nodeReader, err)
	}
}
