package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/dockprobe/dockprobe/agent/internal/kube"
	"github.com/dockprobe/dockprobe/agent/internal/kube/kubetest"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// withCluster points the Kubernetes runtime at a cluster in memory for
// the test.
func withCluster(t *testing.T, nodes ...string) *kubetest.Cluster {
	t.Helper()
	c := kubetest.New(nodes...)
	oldConnect, oldWire := kubeConnect, kubeWire
	kubeConnect = func(kube.ConnOptions) (*kube.Client, error) { return c.Client(), nil }
	kubeWire = c.Wire
	t.Cleanup(func() { kubeConnect, kubeWire = oldConnect, oldWire })
	return c
}

// kubeRun runs the agent in-process against the cluster (the probe image
// named, so that no embedded probe is needed).
func kubeRun(t *testing.T, ctx context.Context, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	oldOut, oldErr := Stdout, Stderr
	Stdout, Stderr = &out, &errb
	defer func() { Stdout, Stderr = oldOut, oldErr }()
	err = Run(ctx, append(args, "--runtime", "kubernetes", "--image", "dockprobe/probe:test"))
	return out.String(), errb.String(), err
}

func noPodsLeft(t *testing.T, c *kubetest.Cluster) {
	t.Helper()
	if left := c.Pods(); len(left) != 0 {
		t.Errorf("probe pods left after the run: %v", left)
	}
}

var shareMounts = []*probev1.Mount{
	{MountPoint: "/run/desktop/mnt/host/c", Propagation: "shared"},
	{MountPoint: "/mnt/host/c", Propagation: "private"},
}

// path --check --runtime kubernetes asks every node by default and says
// it per node; --node asks one.
func TestKubePathCheck(t *testing.T) {
	c := withCluster(t, "desktop-control-plane", "desktop-worker")
	c.Mounts["desktop-control-plane"] = shareMounts
	out, _, err := kubeRun(t, t.Context(), "path", "--check", `C:\temp\app`)
	if err != nil {
		t.Fatalf("path --check: %v", err)
	}
	for _, want := range []string{
		"On node desktop-control-plane: /run/desktop/mnt/host/c is mounted (propagation shared): Kubernetes hostPath /run/desktop/mnt/host/c/temp/app works",
		"On node desktop-worker:",
		"/run/desktop/mnt/host/c is not mounted on node desktop-worker",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "In the VM") {
		t.Errorf("a node is not a VM:\n%s", out)
	}
	out, _, err = kubeRun(t, t.Context(), "path", "--check", "-o", "json", "--node", "desktop-worker", `C:\temp\app`)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		HostPath string `json:"hostPath"`
		InVM     any    `json:"inVM"`
		Nodes    []struct {
			Node    string
			Mounted bool
			Share   string
			Error   *struct{ Kind, Message string }
		}
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if doc.InVM != nil || len(doc.Nodes) != 1 || doc.Nodes[0].Node != "desktop-worker" || doc.Nodes[0].Mounted || doc.Nodes[0].Share != "/run/desktop/mnt/host/c" {
		t.Errorf("json: %+v\n%s", doc, out)
	}
	noPodsLeft(t, c)
}

// A node that cannot be probed gets its own line; the others are answered
// and the exit code says some failed (14).
func TestKubePathCheckOneNodeFails(t *testing.T) {
	c := withCluster(t, "a", "b")
	c.Mounts["a"] = shareMounts
	c.Stuck["b"] = true
	out, _, err := kubeRun(t, t.Context(), "path", "--check", "--node-timeout", "300ms", `C:\temp\app`)
	if ExitCode(err) != ExitNodesFailed {
		t.Fatalf("exit %d (%v), want %d", ExitCode(err), err, ExitNodesFailed)
	}
	if !strings.Contains(out, "On node a:") || !strings.Contains(out, "is mounted") || !strings.Contains(out, "On node b:") || !strings.Contains(out, "no answer: timed out") {
		t.Errorf("output:\n%s", out)
	}
	noPodsLeft(t, c)
}

// --timeout bounds the whole Kubernetes run: a node still busy when it
// passes gets a timeout error, the others' reports are printed, and the
// exit code and message are the Docker runtime's timeout (6).
func TestKubeTimeoutBoundsTheFanOut(t *testing.T) {
	for _, tc := range []struct {
		name string
		slow func(c *kubetest.Cluster)
	}{
		{"a probe that does not answer", func(c *kubetest.Cluster) { c.CollectDelay["c"] = time.Hour }},
		{"a pod that never runs", func(c *kubetest.Cluster) { c.Stuck["c"] = true }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := withCluster(t, "a", "b", "c")
			tc.slow(c)
			t0 := time.Now()
			out, stderr, err := kubeRun(t, t.Context(), "probe", "--all-nodes", "-o", "json", "--timeout", "1s")
			took := time.Since(t0)
			if ExitCode(err) != ExitTimeout {
				t.Fatalf("exit %d (%v), want %d\nstderr: %s", ExitCode(err), err, ExitTimeout, stderr)
			}
			if msg := err.Error(); !strings.Contains(msg, "within --timeout 1s") || !strings.Contains(msg, "(c)") || strings.Contains(msg, "\n") {
				t.Errorf("error %q: want one line naming the node and --timeout", msg)
			}
			// The node's deadline (--node-timeout 90s) is far off: only
			// --timeout (plus the deletion grace) ends the run.
			if took > 15*time.Second {
				t.Errorf("the run took %s with --timeout 1s", took)
			}
			var rep struct {
				Nodes []struct {
					Name   string
					Error  *struct{ Kind, Message string }
					Report any
				}
			}
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("no cluster report printed: %v\n%s", err, out)
			}
			for _, n := range rep.Nodes {
				switch n.Name {
				case "c":
					if n.Error == nil || n.Error.Kind != "timeout" || !strings.Contains(n.Error.Message, "--timeout") {
						t.Errorf("node c: %+v, want a timeout naming --timeout", n.Error)
					}
				default:
					if n.Error != nil || n.Report == nil {
						t.Errorf("node %s: %+v; it answered in time", n.Name, n.Error)
					}
				}
			}
			noPodsLeft(t, c)
		})
	}
}

// Nodes not yet started when --timeout passes are reported as not probed,
// and doctor, bundle and path --check keep the same limit.
func TestKubeTimeoutOtherCommands(t *testing.T) {
	c := withCluster(t, "a", "b", "c")
	c.CollectDelay["a"] = time.Hour
	// One node at a time: a holds the only slot past --timeout.
	_, _, err := kubeRun(t, t.Context(), "doctor", "--all-nodes", "--concurrency", "1", "--timeout", "1s", "-o", "json")
	if ExitCode(err) != ExitTimeout || !strings.Contains(err.Error(), "3 of 3 node(s)") {
		t.Errorf("doctor: exit %d (%v), want %d for every node", ExitCode(err), err, ExitTimeout)
	}
	zip := t.TempDir() + "/c.zip"
	if _, _, err := kubeRun(t, t.Context(), "bundle", "--all-nodes", "--timeout", "1s", "-o", zip); ExitCode(err) != ExitTimeout {
		t.Errorf("bundle: exit %d (%v), want %d", ExitCode(err), err, ExitTimeout)
	}
	if _, err := os.Stat(zip); err != nil {
		t.Errorf("bundle: no zip after the timeout (the others' reports belong in it): %v", err)
	}
	if _, _, err := kubeRun(t, t.Context(), "path", "--check", "--timeout", "1s", `C:\x`); ExitCode(err) != ExitTimeout {
		t.Errorf("path --check: exit %d (%v), want %d", ExitCode(err), err, ExitTimeout)
	}
	noPodsLeft(t, c)
	// Without --timeout a slow node has its --node-timeout alone.
	c.CollectDelay["a"] = 2 * time.Second
	if _, _, err := kubeRun(t, t.Context(), "probe", "--all-nodes", "-o", "json"); err != nil {
		t.Errorf("probe without --timeout: %v; the default must not bound a Kubernetes run", err)
	}
}

// cleanup says pods, and the namespace, for Kubernetes; node flags do not
// apply to it.
func TestKubeCleanupWording(t *testing.T) {
	c := withCluster(t, "a")
	for _, name := range []string{"dockprobe-a-old1", "dockprobe-a-old2"} {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: kube.DefaultNamespace, Labels: map[string]string{kube.LabelManagedBy: kube.ManagedBy, kube.LabelRun: "old"}}}
		if _, err := c.CS.CoreV1().Pods(kube.DefaultNamespace).Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	out, stderr, err := kubeRun(t, t.Context(), "cleanup")
	if err != nil {
		t.Fatal(err)
	}
	if out != "removed 2 probe pod(s) from namespace dockprobe\n" || strings.Contains(out+stderr, "container") {
		t.Errorf("stdout %q stderr %q", out, stderr)
	}
	noPodsLeft(t, c)
	if _, _, err := kubeRun(t, t.Context(), "cleanup", "--node", "a"); ExitCode(err) != ExitUsage || !strings.Contains(err.Error(), "--node does not apply") {
		t.Errorf("cleanup --node: %v (exit %d)", err, ExitCode(err))
	}
	var b bytes.Buffer
	writeCleanup(&b, cleanupWords(runtimeOptions{runtime: RuntimeDocker}), 1)
	if b.String() != "removed 1 probe container(s)\n" {
		t.Errorf("docker: %q", b.String())
	}
}

// watch follows one node: --node, or the cluster's only one; with several
// and no --node it is a usage error naming them. Its --for ends it
// normally; Ctrl-C ends it as an interrupt; no pod is left either way.
func TestKubeWatch(t *testing.T) {
	c := withCluster(t, "solo")
	out, stderr, err := kubeRun(t, t.Context(), "watch", "-o", "json", "--for", "1s")
	if err != nil {
		t.Fatalf("watch --for 1s on the only node: %v\n%s", err, stderr)
	}
	var e struct{ Kind string }
	if first, _, _ := strings.Cut(out, "\n"); json.Unmarshal([]byte(first), &e) != nil || e.Kind != "ready" {
		t.Errorf("first event %q, want ready", first)
	}
	noPodsLeft(t, c)

	// Ctrl-C after the first event.
	ctx, cancel := context.WithCancelCause(t.Context())
	go func() {
		for len(c.Pods()) == 0 || c.Execs() == 0 {
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(200 * time.Millisecond)
		cancel(&Interrupted{Signal: os.Interrupt})
	}()
	_, _, err = kubeRun(t, ctx, "watch", "-o", "json")
	var in *Interrupted
	if !errors.As(err, &in) {
		t.Errorf("watch after Ctrl-C: %v, want the interrupt (exit 130)", err)
	}
	noPodsLeft(t, c)

	c2 := withCluster(t, "a", "b")
	_, _, err = kubeRun(t, t.Context(), "watch", "--for", "1s")
	if ExitCode(err) != ExitUsage || !strings.Contains(err.Error(), "choose one with --node NAME") || !strings.Contains(err.Error(), "a, b") {
		t.Errorf("two nodes, no --node: %v (exit %d)", err, ExitCode(err))
	}
	if _, _, err := kubeRun(t, t.Context(), "watch", "--all-nodes"); ExitCode(err) != ExitUsage {
		t.Errorf("watch --all-nodes: %v", err)
	}
	if _, _, err := kubeRun(t, t.Context(), "watch", "--node", "b", "--for", "1s"); err != nil {
		t.Errorf("watch --node b: %v", err)
	}
	noPodsLeft(t, c2)
}

// The probe flags that assume Docker are usage errors on Kubernetes.
func TestKubeDockerOnlyFlags(t *testing.T) {
	withCluster(t, "a", "b")
	for _, args := range [][]string{
		{"probe", "--all-nodes", "--privileged"},
		{"doctor", "--all-nodes", "--privileged"},
		{"bundle", "--all-nodes", "--privileged", "-o", t.TempDir() + "/x.zip"},
		{"watch", "--node", "a", "--privileged"},
		{"probe", "--all-nodes", "--target-pid", "42"},
	} {
		if _, _, err := kubeRun(t, t.Context(), args...); ExitCode(err) != ExitUsage {
			t.Errorf("%v: %v (exit %d), want a usage error", args, err, ExitCode(err))
		}
	}
}
