package k8s

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The cluster is what the Kubernetes e2e tests need: every node Ready, a
// hostPID pod pinned to each node runs from an imported image that is never
// pulled, `kubectl exec -i` carries stdin and stdout both ways, and a deleted
// pod leaves nothing running on its node.
func TestClusterRunsHostPIDPodOnEveryNode(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if len(cluster.Nodes) < 2 && os.Getenv("K8S_NODES") != "1" {
		t.Fatalf("cluster has %d nodes, want 2", len(cluster.Nodes))
	}

	var nodes struct {
		Items []struct {
			Metadata struct{ Name string }
			Status   struct {
				Addresses  []struct{ Type, Address string }
				Conditions []struct{ Type, Status string }
				NodeInfo   struct{ KubeletVersion, ContainerRuntimeVersion string }
			}
		}
	}
	out, err := cluster.Kubectl(ctx, "get", "nodes", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(out), &nodes); err != nil {
		t.Fatal(err)
	}
	if len(nodes.Items) != len(cluster.Nodes) {
		t.Fatalf("API has %d nodes, harness %d", len(nodes.Items), len(cluster.Nodes))
	}
	for i, n := range nodes.Items {
		want := cluster.Nodes[i]
		if n.Metadata.Name != want.Name {
			t.Errorf("node %d is %q, want %q", i, n.Metadata.Name, want.Name)
		}
		ready := false
		for _, c := range n.Status.Conditions {
			ready = ready || c.Type == "Ready" && c.Status == "True"
		}
		if !ready {
			t.Errorf("node %s is not Ready: %+v", n.Metadata.Name, n.Status.Conditions)
		}
		if got := n.Status.NodeInfo; got.KubeletVersion != cluster.Version || !strings.HasPrefix(got.ContainerRuntimeVersion, "containerd://2.") {
			t.Errorf("node %s runs kubelet %q and %q, want %s and containerd 2", n.Metadata.Name, got.KubeletVersion, got.ContainerRuntimeVersion, cluster.Version)
		}
		internal := ""
		for _, a := range n.Status.Addresses {
			if a.Type == "InternalIP" {
				internal = a.Address
			}
		}
		if internal != want.IP {
			t.Errorf("node %s InternalIP %q, want %q", n.Metadata.Name, internal, want.IP)
		}
	}

	tag := randomHex(t, 4)
	image := "dockprobe.local/e2e-tool:" + tag
	archive := filepath.Join(t.TempDir(), "tool.tar")
	if err := cluster.BuildImage(ctx, image, archive); err != nil {
		t.Fatal(err)
	}
	if err := cluster.LoadImage(ctx, archive); err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	for _, n := range cluster.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.Run(n.Name, func(t *testing.T) { podOnNode(ctx, t, n, image, "smoke-"+tag) })
		}()
	}
	wg.Wait()
}

func podOnNode(ctx context.Context, t *testing.T, n Node, image, run string) {
	name := run + "-" + strings.TrimPrefix(n.Name, cluster.ID+"-")
	manifest := fmt.Sprintf(`{
  "apiVersion": "v1", "kind": "Pod",
  "metadata": {"name": %q, "namespace": "default", "labels": {"dockprobe-e2e": %q}},
  "spec": {
    "nodeName": %q,
    "hostPID": true,
    "restartPolicy": "Never",
    "automountServiceAccountToken": false,
    "terminationGracePeriodSeconds": 5,
    "tolerations": [{"operator": "Exists"}],
    "containers": [{
      "name": "tool", "image": %q, "imagePullPolicy": "Never",
      "securityContext": {"readOnlyRootFilesystem": true, "allowPrivilegeEscalation": false}
    }]
  }
}`, name, run, n.Name, image)
	if err := cluster.Apply(ctx, manifest); err != nil {
		t.Fatal(err)
	}
	deleted := false
	defer func() {
		if !deleted {
			cluster.Kubectl(context.Background(), "delete", "pod", name, "--grace-period=0", "--force", "--wait=false")
		}
	}()
	if out, err := cluster.Kubectl(ctx, "wait", "--for=condition=Ready", "pod/"+name, "--timeout=90s"); err != nil {
		desc, _ := cluster.Kubectl(ctx, "describe", "pod", name)
		t.Fatalf("%v %s\n%s", err, out, desc)
	}
	var pod struct {
		Spec   struct{ NodeName string }
		Status struct{ HostIP, Phase string }
	}
	out, err := cluster.Kubectl(ctx, "get", "pod", name, "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(out), &pod); err != nil {
		t.Fatal(err)
	}
	if pod.Spec.NodeName != n.Name || pod.Status.HostIP != n.IP || pod.Status.Phase != "Running" {
		t.Fatalf("pod on %q (hostIP %q) phase %q, want Running on %s (%s)", pod.Spec.NodeName, pod.Status.HostIP, pod.Status.Phase, n.Name, n.IP)
	}

	// stdin and stdout both ways: binary-ish bytes go in, come back, and
	// stdin's EOF ends the remote process (else kubectl would never return).
	payload := randomHex(t, 64*1024) + "\n\x00\xff end"
	var stdout, stderr bytes.Buffer
	if err := cluster.KubectlIO(ctx, "", strings.NewReader(payload), &stdout, &stderr, "exec", "-i", name, "--", "/pause", "echo"); err != nil {
		t.Fatalf("kubectl exec -i: %v: %s", err, stderr.String())
	}
	if stdout.String() != payload {
		t.Fatalf("exec -i echoed %d bytes, want the %d sent", stdout.Len(), len(payload))
	}

	// hostPID: the pod sees this node's kubelet process.
	out, err = cluster.Kubectl(ctx, "exec", name, "--", "/pause", "comm", strconv.Itoa(n.KubeletPID))
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(out) != "kubelet" {
		t.Fatalf("pid %d in the pod is %q, want kubelet (hostPID)", n.KubeletPID, out)
	}

	// The pod's process runs in this node's cgroup tree, under its kubelet.
	uid, err := cluster.Kubectl(ctx, "get", "pod", name, "-o", "jsonpath={.metadata.uid}")
	if err != nil {
		t.Fatal(err)
	}
	if pids := podPIDs(n, uid); len(pids) == 0 {
		t.Fatalf("no process of pod %s (uid %s) in cgroup %s", name, uid, n.Cgroup)
	}

	if _, err := cluster.Kubectl(ctx, "delete", "pod", name, "--timeout=60s"); err != nil {
		t.Fatal(err)
	}
	deleted = true
	if out, err := cluster.Kubectl(ctx, "get", "pod", name, "--ignore-not-found", "-o", "name"); err != nil || out != "" {
		t.Fatalf("pod still there after delete: %q %v", out, err)
	}
	// Nothing left running on the node: no process of the pod, no task in
	// the node's containerd.
	deadline := time.Now().Add(30 * time.Second)
	for {
		pids, tasks := podPIDs(n, uid), runningTasks(t, n, uid)
		if len(pids) == 0 && len(tasks) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("30 s after delete: pod processes %v, running tasks %v", pids, tasks)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// podPIDs lists the processes in the pod's cgroups on node n
// (ROOT/kubepods[/QOS]/podUID[/CONTAINER], in the pids hierarchy on cgroup v1).
func podPIDs(n Node, uid string) []string {
	var pids []string
	root := filepath.Join("/sys/fs/cgroup/pids", n.Cgroup)
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		root = filepath.Join("/sys/fs/cgroup", n.Cgroup)
	}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "cgroup.procs" || !strings.Contains(p, "pod"+uid) {
			return nil
		}
		b, _ := os.ReadFile(p)
		pids = append(pids, strings.Fields(string(b))...)
		return nil
	})
	return pids
}

// runningTasks lists the node's running containerd tasks (k8s.io) that
// belong to the pod with uid: its sandbox and its containers.
func runningTasks(t *testing.T, n Node, uid string) []string {
	ctr := func(args ...string) string {
		out, err := exec.Command("ctr", append([]string{"--address", n.ContainerdSock, "-n", "k8s.io"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("ctr %v on %s: %v\n%s", args, n.Name, err, out)
		}
		return string(out)
	}
	ours := map[string]bool{}
	for _, id := range strings.Fields(ctr("containers", "ls", "-q", `labels."io.kubernetes.pod.uid"==`+uid)) {
		ours[id] = true
	}
	var running []string
	for _, line := range strings.Split(ctr("tasks", "ls"), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[2] == "RUNNING" && ours[f[0]] {
			running = append(running, f[0])
		}
	}
	return running
}

func randomHex(t *testing.T, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
