package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/dockprobe/dockprobe/agent/internal/kube"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// TestKubeFlags: the Kubernetes flags are checked in the one place runtime
// flags are (runtimeOptions.validate), before anything is contacted.
func TestKubeFlags(t *testing.T) {
	for _, args := range [][]string{
		{"probe", "--kubeconfig", "/nope"},                                 // kube flag, other runtime
		{"probe", "--all-nodes"},                                           // idem
		{"probe", "--runtime", "kubernetes", "--namespace", "k8s.io"},      // nerdctl's flag
		{"probe", "--runtime", "kubernetes", "--node", "a", "--all-nodes"}, // two selections
		{"probe", "--runtime", "kubernetes"},                               // no selection
		{"probe", "--runtime", "kubernetes", "--all-nodes", "--concurrency", "0"},
		{"probe", "--runtime", "kubernetes", "--all-nodes", "--node-timeout", "0s"},
		{"--context", "desktop", "probe", "--runtime", "kubernetes", "--all-nodes"}, // docker's context
		{"probe", "--runtime", "kube"},
	} {
		err := Run(context.Background(), args)
		if ExitCode(err) != ExitUsage {
			t.Errorf("%v: %v (exit %d), want exit %d", args, err, ExitCode(err), ExitUsage)
		}
	}
}

// TestClusterExit: every node reported is 0; some failed is 14 (the
// report is printed); none reported is the first node's own code.
func TestClusterExit(t *testing.T) {
	ok := &probev1.NodeReport{Name: "a", Report: &probev1.Report{}}
	bad := &probev1.NodeReport{Name: "b", Error: &probev1.NodeError{Kind: "image-missing"}}
	missing := fmt.Errorf("%w: node b", kube.ErrImageMissing)
	forbidden := &kube.ForbiddenError{Verb: "create", Resource: "pods/exec", Namespace: "dockprobe"}
	for _, tt := range []struct {
		name  string
		nodes []*probev1.NodeReport
		errs  []error
		want  int
	}{
		{"all ok", []*probev1.NodeReport{ok}, nil, ExitOK},
		{"some failed", []*probev1.NodeReport{ok, bad}, []error{missing}, ExitNodesFailed},
		{"the only node lacks the image", []*probev1.NodeReport{bad}, []error{missing}, ExitProbeBlocked},
		{"every node forbidden", []*probev1.NodeReport{bad, bad}, []error{forbidden, forbidden}, ExitForbidden},
	} {
		if got := ExitCode(clusterError(tt.nodes, tt.errs)); got != tt.want {
			t.Errorf("%s: exit %d, want %d", tt.name, got, tt.want)
		}
	}
	if !errors.Is(clusterError([]*probev1.NodeReport{ok, bad}, []error{missing}), ErrNodesFailed) {
		t.Error("a partial run is not ErrNodesFailed")
	}
}

// TestClusterRedaction: the API server URL's credentials and every node's
// secrets never reach any output format.
func TestClusterRedaction(t *testing.T) {
	rep := &probev1.ClusterReport{
		SchemaVersion: 1,
		Cluster:       &probev1.Cluster{Server: "https://alice:hunter2@k8s.example:6443", Namespace: "dockprobe", Selection: "all nodes"},
		Nodes: []*probev1.NodeReport{
			{Name: "node-a", Report: &probev1.Report{
				SchemaVersion: 1,
				Engine:        &probev1.Engine{HttpProxy: "http://bob:s3cr3tpw@proxy.corp:3128"},
				Daemon:        &probev1.Daemon{Found: true, Flags: []*probev1.Flag{{Name: "token", Value: "t0psecretvalue", HasValue: true}}},
			}},
			{Name: "node-b", Error: &probev1.NodeError{Kind: "probe-failed", Message: "dial https://carol:pa55word@k8s.example:6443 refused"}},
		},
	}
	for _, format := range []string{"json", "yaml", "text", "html"} {
		var b bytes.Buffer
		if err := renderCluster(&b, rep, outputOptions{format: format}); err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		out := b.String()
		for _, secret := range []string{"hunter2", "s3cr3tpw", "t0psecretvalue", "pa55word"} {
			if strings.Contains(out, secret) {
				t.Errorf("%s output holds %q", format, secret)
			}
		}
		for _, want := range []string{"node-a", "node-b", "k8s.example"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s output lacks %q", format, want)
			}
		}
	}
	if rep.Cluster.Server != "https://alice:hunter2@k8s.example:6443" {
		t.Error("rendering changed the caller's report")
	}
}
