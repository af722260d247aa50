package agentk8s

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Namespace is the product's (deploy/kubernetes/namespace.yaml).
const namespace = "dockprobe"

// Exit codes of the agent (agent/internal/cli/exit.go).
const (
	exitOK          = 0
	exitForbidden   = 13
	exitNodesFailed = 14
)

func root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

func agentBin(t *testing.T) string {
	t.Helper()
	p := filepath.Join(root(), "bin", "agent")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("no agent binary (run `make` first): %v", err)
	}
	return p
}

var (
	setupOnce sync.Once
	setupErr  error
	probeRef  string
	archive   string
)

// setup applies the product's manifests, makes the default ServiceAccount
// the absent controller manager would, and loads the probe image written
// by `agent image save` on every node.
func setup(t *testing.T) {
	t.Helper()
	setupOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		for _, f := range []string{"namespace.yaml", "rbac.yaml"} {
			b, err := os.ReadFile(filepath.Join(root(), "deploy", "kubernetes", f))
			if err != nil {
				setupErr = err
				return
			}
			if err := cluster.Apply(ctx, string(b)); err != nil {
				setupErr = err
				return
			}
		}
		if err := cluster.Namespace(ctx, namespace, nil); err != nil {
			setupErr = err
			return
		}
		dir, err := os.MkdirTemp("", "agentk8s-")
		if err != nil {
			setupErr = err
			return
		}
		archive = filepath.Join(dir, "probe.tar")
		var stderr bytes.Buffer
		cmd := exec.CommandContext(ctx, agentBin(t), "image", "save", "-o", archive)
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			setupErr = errors.New("agent image save: " + err.Error() + ": " + stderr.String())
			return
		}
		// "wrote REF (probe image, ...)"
		probeRef, _, _ = strings.Cut(strings.TrimPrefix(stderr.String(), "wrote "), " ")
		setupErr = cluster.LoadImage(ctx, archive)
	})
	if setupErr != nil {
		t.Fatal(setupErr)
	}
}

// result is one agent run.
type result struct {
	code           int
	stdout, stderr string
}

func runAgent(t *testing.T, ctx context.Context, kubeconfig string, args ...string) result {
	t.Helper()
	if kubeconfig == "" {
		kubeconfig = cluster.Kubeconfig
	}
	if args[0] != "diff" { // diff reads files only
		args = append(args, "--kubeconfig", kubeconfig)
	}
	cmd := exec.CommandContext(ctx, agentBin(t), args...)
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("agent %v: %v", args, err)
	}
	return result{code, out.String(), errb.String()}
}

// clusterReport is the part of the JSON cluster report the tests read.
type clusterReport struct {
	Cluster struct {
		Server, Version, Namespace, Selection string
	}
	Nodes []struct {
		Name  string
		Error *struct{ Kind, Message string }
		Info  struct{ KubeletVersion, ContainerRuntimeVersion string }
		Pod   string
		// The node's own report.
		Report *struct {
			Daemon struct {
				Found      bool
				Executable string
				Flags      []struct{ Name, Value string }
				ConfigFile string
				ConfigRaw  string
			}
			Kubelet struct {
				Found      bool
				Flags      []struct{ Name, Value string }
				ConfigFile string
				Config     map[string]any
			}
		}
	}
	Findings []struct{ ID, Status string }
}

func decode(t *testing.T, r result) clusterReport {
	t.Helper()
	var cr clusterReport
	if err := json.Unmarshal([]byte(r.stdout), &cr); err != nil {
		t.Fatalf("decode the cluster report: %v\nstdout: %.2000s\nstderr: %s", err, r.stdout, r.stderr)
	}
	return cr
}

func flag(flags []struct{ Name, Value string }, name string) (string, bool) {
	for _, f := range flags {
		if f.Name == name {
			return f.Value, true
		}
	}
	return "", false
}

// Every node is reported, each with its own kubelet and containerd: the
// kubelet's flags (its --hostname-override is the node's name) and config
// file, containerd 2.4's --config and the config's contents.
func TestAllNodesReported(t *testing.T) {
	setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	r := runAgent(t, ctx, "", "probe", "--runtime", "kubernetes", "--all-nodes", "-o", "json")
	if r.code != exitOK {
		t.Fatalf("exit %d, want 0\nstderr: %s\nstdout: %.3000s", r.code, r.stderr, r.stdout)
	}
	cr := decode(t, r)
	if cr.Cluster.Version != cluster.Version || cr.Cluster.Namespace != namespace || cr.Cluster.Selection != "all nodes" {
		t.Errorf("cluster = %+v, want version %s, namespace %s, all nodes", cr.Cluster, cluster.Version, namespace)
	}
	if len(cr.Nodes) != len(cluster.Nodes) {
		t.Fatalf("%d nodes reported, want %d", len(cr.Nodes), len(cluster.Nodes))
	}
	for i, n := range cr.Nodes {
		want := cluster.Nodes[i]
		if n.Name != want.Name {
			t.Errorf("node %d is %q, want %q", i, n.Name, want.Name)
		}
		if n.Error != nil || n.Report == nil {
			t.Errorf("%s: error %+v, report %v", n.Name, n.Error, n.Report != nil)
			continue
		}
		if !strings.HasPrefix(n.Info.ContainerRuntimeVersion, "containerd://2.4") {
			t.Errorf("%s: runtime %q, want containerd 2.4", n.Name, n.Info.ContainerRuntimeVersion)
		}
		k := n.Report.Kubelet
		if !k.Found {
			t.Errorf("%s: kubelet not found", n.Name)
		}
		if v, _ := flag(k.Flags, "hostname-override"); v != want.Name {
			t.Errorf("%s: kubelet --hostname-override %q, want the node's own name", n.Name, v)
		}
		if v, _ := flag(k.Flags, "node-ip"); v != want.IP {
			t.Errorf("%s: kubelet --node-ip %q, want %q", n.Name, v, want.IP)
		}
		if k.ConfigFile != "/var/lib/kubelet/config.yaml" || k.Config["kind"] != "KubeletConfiguration" {
			t.Errorf("%s: kubelet config %q kind %v", n.Name, k.ConfigFile, k.Config["kind"])
		}
		if k.Config["cgroupRoot"] != want.Cgroup {
			t.Errorf("%s: kubelet cgroupRoot %v, want %q (each node's own)", n.Name, k.Config["cgroupRoot"], want.Cgroup)
		}
		d := n.Report.Daemon
		if !d.Found || filepath.Base(d.Executable) != "containerd" {
			t.Errorf("%s: runtime daemon %q found=%v, want containerd", n.Name, d.Executable, d.Found)
		}
		if v, _ := flag(d.Flags, "config"); v == "" || v != d.ConfigFile {
			t.Errorf("%s: containerd --config %q, config file %q", n.Name, v, d.ConfigFile)
		}
		if !strings.Contains(d.ConfigRaw, "restrict_oom_score_adj = true") || !strings.Contains(d.ConfigRaw, "version = 3") {
			t.Errorf("%s: containerd config is not the node's (%.300q)", n.Name, d.ConfigRaw)
		}
	}
	// The other formats render the same report.
	for _, format := range []string{"text", "yaml", "html"} {
		r := runAgent(t, ctx, "", "probe", "--runtime", "kubernetes", "--all-nodes", "-o", format)
		if r.code != exitOK {
			t.Errorf("-o %s: exit %d: %s", format, r.code, r.stderr)
			continue
		}
		for _, n := range cluster.Nodes {
			if !strings.Contains(r.stdout, n.Name) {
				t.Errorf("-o %s does not name %s", format, n.Name)
			}
		}
		if format == "text" && !strings.HasPrefix(strings.SplitN(r.stdout, "\n\n", 2)[1], "NODE ") {
			t.Errorf("-o text does not start with the node table:\n%.500s", r.stdout)
		}
		if format == "html" && !strings.Contains(r.stdout, `<select id="node"`) {
			t.Errorf("-o html has no node selector")
		}
	}
	// The bundle: the cluster report and one folder per node.
	zipPath := filepath.Join(t.TempDir(), "cluster.zip")
	if r := runAgent(t, ctx, "", "bundle", "--runtime", "kubernetes", "--all-nodes", "-o", zipPath); r.code != exitOK {
		t.Fatalf("bundle: exit %d: %s", r.code, r.stderr)
	}
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	files := map[string]bool{}
	for _, f := range zr.File {
		files[f.Name] = true
	}
	want := []string{"cluster.json", "cluster.schema.json", "manifest.json"}
	for _, n := range cluster.Nodes {
		want = append(want, "nodes/"+n.Name+"/report.json", "nodes/"+n.Name+"/kubernetes/node.json", "nodes/"+n.Name+"/raw/daemon-config/containerd.toml")
	}
	for _, w := range want {
		if !files[w] {
			t.Errorf("bundle lacks %s", w)
		}
	}
	assertNoProbePods(t, ctx, 15*time.Second)
}

// A node without the probe image gets its own one-line error naming the
// fix; the other node completes and the report is printed (exit 14).
func TestOneNodeFails(t *testing.T) {
	setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	lack := cluster.Nodes[1]
	full := runAgent(t, ctx, "", "probe", "--runtime", "kubernetes", "--all-nodes", "-o", "json")
	if full.code != exitOK {
		t.Fatalf("before: exit %d: %s", full.code, full.stderr)
	}
	// containerd names it as the kubelet resolves it: docker.io/REF.
	if err := cluster.RemoveImage(ctx, "docker.io/"+probeRef, lack.Name); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := cluster.LoadImage(context.Background(), archive, lack.Name); err != nil {
			t.Error(err)
		}
	}()
	r := runAgent(t, ctx, "", "probe", "--runtime", "kubernetes", "--all-nodes", "-o", "json")
	if r.code != exitNodesFailed {
		t.Fatalf("exit %d, want %d\nstderr: %s", r.code, exitNodesFailed, r.stderr)
	}
	cr := decode(t, r)
	for _, n := range cr.Nodes {
		switch n.Name {
		case lack.Name:
			if n.Error == nil || n.Error.Kind != "image-missing" {
				t.Fatalf("%s: error %+v, want image-missing", n.Name, n.Error)
			}
			for _, want := range []string{"agent image save", "ctr -n k8s.io images import"} {
				if !strings.Contains(n.Error.Message, want) {
					t.Errorf("%s: error %q does not name %q", n.Name, n.Error.Message, want)
				}
			}
			if strings.Contains(n.Error.Message, "\n") {
				t.Errorf("%s: error is not one line: %q", n.Name, n.Error.Message)
			}
		default:
			if n.Error != nil || n.Report == nil || !n.Report.Kubelet.Found {
				t.Errorf("%s: error %+v; the other node must complete", n.Name, n.Error)
			}
		}
	}
	if lines := strings.Count(strings.TrimSpace(r.stderr), "\n"); lines != 0 || !strings.Contains(r.stderr, lack.Name) {
		t.Errorf("stderr is not one line naming %s: %q", lack.Name, r.stderr)
	}
	// agent diff compares the two cluster reports node by node.
	dir := t.TempDir()
	before, after := filepath.Join(dir, "before.json"), filepath.Join(dir, "after.json")
	if err := os.WriteFile(before, []byte(full.stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(after, []byte(r.stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	d := runAgent(t, ctx, "", "diff", before, after)
	if d.code != 12 || !strings.Contains(d.stdout, "node "+lack.Name) || !strings.Contains(d.stdout, "error: image-missing") {
		t.Errorf("diff: exit %d, want 12 naming node %s's new error:\n%s%s", d.code, lack.Name, d.stdout, d.stderr)
	}
	assertNoProbePods(t, ctx, 15*time.Second)
}

// A user bound to exactly deploy/kubernetes's roles (through the group its
// bindings name) probes; with pods/exec taken out of a copy of the role,
// the run stops before any pod with one line naming the verb and the
// resource, and its own exit code.
func TestRBAC(t *testing.T) {
	setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	user := "e2e-agent-" + randomSuffix()
	kc, err := cluster.NewUser(user, "dockprobe:users")
	if err != nil {
		t.Fatal(err)
	}
	r := runAgent(t, ctx, kc, "probe", "--runtime", "kubernetes", "--node", cluster.Nodes[0].Name, "-o", "json")
	if r.code != exitOK {
		t.Fatalf("user with the product's role: exit %d: %s", r.code, r.stderr)
	}
	if cr := decode(t, r); len(cr.Nodes) != 1 || cr.Nodes[0].Report == nil {
		t.Fatalf("user with the product's role: no report: %+v", cr.Nodes)
	}

	// The same role without pods/exec.
	noexec := "dockprobe-agent-noexec-" + randomSuffix()
	if _, err := cluster.Kubectl(ctx, "-n", namespace, "create", "role", noexec, "--verb=create,get,list,watch,delete", "--resource=pods"); err != nil {
		t.Fatal(err)
	}
	user2 := "e2e-noexec-" + randomSuffix()
	kc2, err := cluster.NewUser(user2)
	if err != nil {
		t.Fatal(err)
	}
	if err := cluster.BindClusterRole(ctx, user2, "dockprobe-agent"); err != nil {
		t.Fatal(err)
	}
	if err := cluster.BindRole(ctx, user2, namespace, noexec); err != nil {
		t.Fatal(err)
	}
	r = runAgent(t, ctx, kc2, "probe", "--runtime", "kubernetes", "--node", cluster.Nodes[0].Name)
	if r.code != exitForbidden {
		t.Fatalf("without pods/exec: exit %d, want %d: %s", r.code, exitForbidden, r.stderr)
	}
	line := strings.TrimSpace(r.stderr)
	if strings.Contains(line, "\n") || !strings.Contains(line, "pods/exec") || !strings.Contains(line, "create") {
		t.Errorf("without pods/exec: stderr is not one line naming create pods/exec: %q", r.stderr)
	}
	if r.stdout != "" {
		t.Errorf("without pods/exec: a report was printed: %.300s", r.stdout)
	}
}

// An agent killed with SIGKILL in the middle of the fan-out leaves no
// probe pod Running 10 s later: each pod's exec'd probe sees stdin EOF and
// its waiting main process ends with it. The next run deletes the finished
// pods (the start-of-run sweep).
func TestKilledAgentLeavesNoRunningPod(t *testing.T) {
	setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// One node at a time, the probe kept busy on the first: the second
	// node's pod is still to come when the agent dies.
	cmd := exec.CommandContext(ctx, agentBin(t), "probe", "--runtime", "kubernetes", "--all-nodes", "--concurrency", "1", "--kubeconfig", cluster.Kubeconfig, "-o", "json")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	// Kill it as soon as a probe pod Runs.
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, _ := cluster.Kubectl(ctx, "-n", namespace, "get", "pods", "-l", "app.kubernetes.io/managed-by=dockprobe", "-o", "jsonpath={range .items[*]}{.status.phase}{\"\\n\"}{end}")
		if strings.Contains(out, "Running") {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no probe pod ran within 60s: %q", out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	time.Sleep(10 * time.Second)
	out, err := cluster.Kubectl(ctx, "-n", namespace, "get", "pods", "-l", "app.kubernetes.io/managed-by=dockprobe", "-o", "jsonpath={range .items[*]}{.metadata.name} {.status.phase}{\"\\n\"}{end}")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "Running") {
		t.Fatalf("10 s after kill -9, probe pods still Running:\n%s", out)
	}
	// The next run sweeps the killed run's finished pods at its start.
	if r := runAgent(t, ctx, "", "probe", "--runtime", "kubernetes", "--node", cluster.Nodes[0].Name, "-o", "json"); r.code != exitOK {
		t.Fatalf("the next run: exit %d: %s", r.code, r.stderr)
	}
	assertNoProbePods(t, ctx, 15*time.Second)
}

// cleanup removes stale probe pods and leaves a foreign pod alone.
func TestCleanupRemovesOnlyProbePods(t *testing.T) {
	setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	suffix := randomSuffix()
	// A stale probe pod: dockprobe's label, a run long gone.
	stale := "dockprobe-stale-" + suffix
	foreign := "foreign-" + suffix
	for _, p := range []struct{ name, labels string }{
		{stale, `{"app.kubernetes.io/managed-by": "dockprobe", "io.dockprobe.run": "gone"}`},
		{foreign, `{"app": "someone-else"}`},
	} {
		manifest := `{"apiVersion": "v1", "kind": "Pod",
  "metadata": {"name": "` + p.name + `", "namespace": "` + namespace + `", "labels": ` + p.labels + `},
  "spec": {"nodeName": "` + cluster.Nodes[0].Name + `", "restartPolicy": "Never", "automountServiceAccountToken": false,
    "containers": [{"name": "probe", "image": "` + probeRef + `", "imagePullPolicy": "Never", "args": ["--wait", "--deadline=5m"]}]}}`
		if err := cluster.Apply(ctx, manifest); err != nil {
			t.Fatal(err)
		}
	}
	defer cluster.Kubectl(context.Background(), "-n", namespace, "delete", "pod", foreign, "--grace-period=0", "--force", "--wait=false")
	r := runAgent(t, ctx, "", "cleanup", "--runtime", "kubernetes")
	if r.code != exitOK || !strings.Contains(r.stdout, "probe pod(s) from namespace "+namespace) || strings.Contains(r.stdout+r.stderr, "container") {
		t.Fatalf("cleanup: exit %d, want pods named in its own words: %s %s", r.code, r.stdout, r.stderr)
	}
	out, err := cluster.Kubectl(ctx, "-n", namespace, "get", "pods", "-o", "jsonpath={range .items[*]}{.metadata.name} {.metadata.deletionTimestamp}{\"\\n\"}{end}")
	if err != nil {
		t.Fatal(err)
	}
	live := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		name, del, _ := strings.Cut(l, " ")
		if del == "" {
			live[name] = true
		}
	}
	if live[stale] {
		t.Errorf("cleanup left the stale probe pod %s:\n%s", stale, out)
	}
	if !live[foreign] {
		t.Errorf("cleanup removed the foreign pod %s:\n%s", foreign, out)
	}
}

// assertNoProbePods waits up to d for the run's pods to be gone.
func assertNoProbePods(t *testing.T, ctx context.Context, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		out, err := cluster.Kubectl(ctx, "-n", namespace, "get", "pods", "-l", "app.kubernetes.io/managed-by=dockprobe", "-o", "jsonpath={.items[*].metadata.name}")
		if err == nil && strings.TrimSpace(out) == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("probe pods left after the run: %q (%v)", out, err)
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func randomSuffix() string {
	b := make([]byte, 3)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// The launcher conformance suite (agent/internal/launcher/launchertest)
// passes against the Kubernetes launcher of a real node, in a namespace of
// the test's own (the suite's Cleanup removes every probe pod there).
func TestLauncherConformance(t *testing.T) {
	setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ns := "dockprobe-suite-" + randomSuffix()
	if err := cluster.Namespace(ctx, ns, map[string]string{"pod-security.kubernetes.io/enforce": "privileged"}); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, "go", "test", "-count=1", "-v", "-run", "^TestConformance$", "./agent/internal/kubelaunch")
	cmd.Dir = root()
	cmd.Env = append(os.Environ(), "DOCKPROBE_KUBECONFIG="+cluster.Kubeconfig, "DOCKPROBE_KUBE_NODE="+cluster.Nodes[0].Name,
		"DOCKPROBE_KUBE_NAMESPACE="+ns, "DOCKPROBE_KUBE_IMAGE="+probeRef)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("conformance: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "--- SKIP") || !strings.Contains(string(out), "--- PASS: TestConformance") {
		t.Fatalf("conformance skipped or ran nothing:\n%s", out)
	}
	t.Logf("%s", out)
}

// path --check through the Kubernetes runtime asks every node by default
// and answers per node (these nodes have no Docker Desktop drive share);
// --node asks one.
func TestPathCheckOnEveryNode(t *testing.T) {
	setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	r := runAgent(t, ctx, "", "path", "--check", "--runtime", "kubernetes", "-o", "json", `C:\temp\app`)
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var doc struct {
		HostPath string `json:"hostPath"`
		Nodes    []struct {
			Node    string
			Share   string
			Mounted bool
			Note    string
			Error   *struct{ Kind, Message string }
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	if len(doc.Nodes) != len(cluster.Nodes) {
		t.Fatalf("%d nodes answered, want %d: %s", len(doc.Nodes), len(cluster.Nodes), r.stdout)
	}
	for i, n := range doc.Nodes {
		if n.Node != cluster.Nodes[i].Name || n.Error != nil || n.Share != "/run/desktop/mnt/host/c" || n.Mounted ||
			!strings.Contains(n.Note, "not mounted on node "+n.Node) {
			t.Errorf("node %d: %+v", i, n)
		}
	}
	r = runAgent(t, ctx, "", "path", "--check", "--runtime", "kubernetes", "--node", cluster.Nodes[1].Name, `C:\temp\app`)
	if r.code != exitOK || !strings.Contains(r.stdout, "On node "+cluster.Nodes[1].Name+":") || strings.Contains(r.stdout, cluster.Nodes[0].Name) {
		t.Errorf("--node %s: exit %d\n%s%s", cluster.Nodes[1].Name, r.code, r.stdout, r.stderr)
	}
	assertNoProbePods(t, ctx, 15*time.Second)
}

// --timeout bounds a whole Kubernetes run: far shorter than a pod's start,
// it ends the run with the Docker runtime's timeout (exit 6, one line
// naming --timeout), and the pods it cut short are deleted.
func TestTimeoutBoundsTheRun(t *testing.T) {
	setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	t0 := time.Now()
	r := runAgent(t, ctx, "", "probe", "--runtime", "kubernetes", "--all-nodes", "-o", "json", "--timeout", "700ms")
	took := time.Since(t0)
	if r.code != 6 {
		t.Fatalf("exit %d, want 6 (timeout)\nstderr: %s", r.code, r.stderr)
	}
	line := strings.TrimSpace(r.stderr)
	if strings.Contains(line, "\n") || !strings.Contains(line, "within --timeout 700ms") {
		t.Errorf("stderr is not one line naming --timeout 700ms: %q", r.stderr)
	}
	// The deletion of what was cut short comes on top (kube.DeleteTimeout
	// at the worst); the nodes' own limit (90s) is far off.
	if took > 20*time.Second {
		t.Errorf("the run took %s with --timeout 700ms", took)
	}
	t.Logf("took %s: %s", took.Round(time.Millisecond), line)
	assertNoProbePods(t, ctx, 30*time.Second)
}
