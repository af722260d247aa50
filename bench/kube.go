package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/dockprobe/dockprobe/e2e/k8s"
)

// The probe pods' namespace and label (deploy/kubernetes and
// agent/internal/kube: kube.DefaultNamespace, kube.LabelManagedBy; not
// importable from here).
const (
	probeNamespace = "dockprobe"
	probeSelector  = "app.kubernetes.io/managed-by=dockprobe"
)

// The anchor's pods: kubectl run's, in the namespace users would use,
// labelled so the harness can tell they are gone.
const (
	anchorNamespace = "default"
	anchorLabel     = "io.dockprobe.bench"
	noopRef         = "dockprobe.local/bench-noop:1"
)

// kubeQuietWait bounds the wait for a quiet cluster before a timed run.
const kubeQuietWait = 30 * time.Second

// kubeBench is (k): `agent probe --runtime kubernetes --node N` on the e2e
// harness's real two-node cluster (e2e/k8s), against the anchor users
// would reach for, `kubectl run --rm -i --restart=Never` of a no-op pod
// pinned to the same node.
type kubeBench struct {
	o    options
	c    *k8s.Cluster
	cs   kubernetes.Interface
	tmp  string
	seq  int
	date time.Time
	res  *kubeResults
}

// kubeResults are (k)'s measurements.
type kubeResults struct {
	Version     string // the API server's
	Node        string // the node both run on
	Kubelet     string
	Runtime     string // e.g. containerd://2.4.2
	Nodes       int
	LoadAtStart string
	ProbeImage  string

	K, Anchor []time.Duration
	KFirst    []bool          // whether (k) ran first in the round
	NodeTook  []time.Duration // the report's nodes[0].durationMs: the node's pod, exec and collection
	AgentRSS  []int64         // KiB
	// AnchorLeft counts kubectl runs whose pod was still there, not
	// being deleted, when kubectl returned (the harness deleted it).
	AnchorLeft int

	// One run of each, step by step (untimed, after the rounds).
	Timeline        []string // `agent --debug`'s step lines
	TimelineWall    time.Duration
	AnchorTrace     []string // `kubectl -v=6`'s requests
	AnchorTraceWall time.Duration

	Err string // what stopped the measurement
}

func (k *kubeBench) logf(format string, args ...any) { logf("k8s: "+format, args...) }

// run brings the cluster up (unless one of this ID is up already: then it
// is used and left up), measures and takes it down.
func (k *kubeBench) run(ctx context.Context) error {
	// cluster.sh reads its settings from the environment.
	os.Setenv("DOCKPROBE_E2E_ID", k.o.k8sID)
	if k.o.curBin != "" && os.Getenv("ENGINE_BIN") == "" {
		os.Setenv("ENGINE_BIN", k.o.curBin)
	}
	if c, err := k8s.Current(ctx); err == nil {
		k.logf("using the cluster already up (DOCKPROBE_E2E_ID=%s); it stays up", k.o.k8sID)
		k.c = c
	} else {
		k.logf("bringing up the two-node cluster (e2e/k8s/cluster.sh, DOCKPROBE_E2E_ID=%s; Kubernetes is built first when not cached)", k.o.k8sID)
		upCtx, cancel := context.WithTimeout(ctx, 30*time.Minute)
		c, err := k8s.Up(upCtx)
		cancel()
		if err != nil {
			return err
		}
		k.c = c
		if !k.o.keepUp {
			defer func() {
				k.logf("taking the cluster down")
				if err := c.Down(context.Background()); err != nil {
					k.logf("%v", err)
				}
			}()
		}
	}
	tmp, err := os.MkdirTemp("", "dpbench-k8s")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	k.tmp = tmp
	if err := k.setup(ctx); err != nil {
		return err
	}
	return k.rounds(ctx)
}

// setup applies the product's manifests (deploy/kubernetes), loads the
// probe image (`agent image save`) and the no-op image on the node, and
// records what the cluster is.
func (k *kubeBench) setup(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cfg, err := clientcmd.BuildConfigFromFlags("", k.c.Kubeconfig)
	if err != nil {
		return fmt.Errorf("the cluster's kubeconfig: %w", err)
	}
	if k.cs, err = kubernetes.NewForConfig(cfg); err != nil {
		return err
	}
	for _, f := range []string{"namespace.yaml", "rbac.yaml"} {
		b, err := os.ReadFile(filepath.Join(k.o.repoRoot, "deploy", "kubernetes", f))
		if err != nil {
			return err
		}
		if err := k.c.Apply(ctx, string(b)); err != nil {
			return err
		}
	}
	// What the absent controller manager would add (the default
	// ServiceAccount, kube-root-ca.crt).
	if err := k.c.Namespace(ctx, probeNamespace, nil); err != nil {
		return err
	}
	r := k.res
	r.Node, r.Nodes = k.c.Nodes[0].Name, len(k.c.Nodes)
	if v, err := k.cs.Discovery().ServerVersion(); err == nil {
		r.Version = v.GitVersion
	}
	if n, err := k.cs.CoreV1().Nodes().Get(ctx, r.Node, metav1.GetOptions{}); err == nil {
		r.Kubelet, r.Runtime = n.Status.NodeInfo.KubeletVersion, n.Status.NodeInfo.ContainerRuntimeVersion
	}

	probeTar := filepath.Join(k.tmp, "probe.tar")
	var stderr bytes.Buffer
	save := exec.CommandContext(ctx, k.o.agent, "image", "save", "-o", probeTar)
	save.Stderr = &stderr
	if err := save.Run(); err != nil {
		return fmt.Errorf("agent image save: %w: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	// "wrote REF (probe image, ...)"
	r.ProbeImage, _, _ = strings.Cut(strings.TrimPrefix(stderr.String(), "wrote "), " ")
	if err := k.c.LoadImage(ctx, probeTar, r.Node); err != nil {
		return err
	}
	bin, err := buildNoopBinary(ctx, k.tmp)
	if err != nil {
		return fmt.Errorf("build the no-op binary: %w", err)
	}
	noopTar := filepath.Join(k.tmp, "noop.tar")
	if err := k.c.PackImage(ctx, bin, "/noop", noopRef, noopTar); err != nil {
		return err
	}
	if err := k.c.LoadImage(ctx, noopTar, r.Node); err != nil {
		return err
	}
	// An earlier, interrupted bench on a kept cluster may have left
	// kubectl's pods.
	return k.deleteAnchorPods(ctx)
}

// agentArgs is (k).
func (k *kubeBench) agentArgs(debug bool) []string {
	args := []string{"probe", "--runtime", "kubernetes", "--node", k.res.Node, "-o", "json", "--kubeconfig", k.c.Kubeconfig}
	if debug {
		args = append([]string{"--debug"}, args...)
	}
	return args
}

// anchorArgs is the anchor: kubectl run of the no-op image on the node,
// attached (-i) and removed (--rm), under a fresh name. extra go first
// (kubectl's own flags).
func (k *kubeBench) anchorArgs(extra ...string) (name string, args []string) {
	k.seq++
	name = fmt.Sprintf("dpbench-noop-%d-%d", os.Getpid(), k.seq)
	overrides := fmt.Sprintf(`{"apiVersion":"v1","spec":{"nodeName":%q}}`, k.res.Node)
	args = append(append([]string{}, extra...), "--kubeconfig", k.c.Kubeconfig, "--namespace", anchorNamespace,
		"run", name, "--rm", "-i", "--restart=Never",
		"--image="+noopRef, "--image-pull-policy=Never",
		"--labels="+anchorLabel+"=anchor", "--overrides="+overrides)
	return name, args
}

// timed runs one measured command on a quiet cluster (see quiet).
func (k *kubeBench) timed(ctx context.Context, name string, args ...string) (run, []byte, error) {
	k.quiet(ctx)
	return timeCommand(ctx, []string{"KUBECONFIG=" + k.c.Kubeconfig, "NO_COLOR=1"}, name, args...)
}

// agent is one (k) run; nodeTook is the report's time for the node.
func (k *kubeBench) agent(ctx context.Context) (run, time.Duration, error) {
	r, _, err := k.timed(ctx, k.o.agent, k.agentArgs(false)...)
	if err != nil {
		return r, 0, err
	}
	took, err := nodeTook(r.stdout)
	return r, took, err
}

// anchor is one kubectl run. kubectl's --rm deletes its pod; one still
// there and not being deleted is counted and deleted here, so that the
// next run starts on a quiet cluster.
func (k *kubeBench) anchor(ctx context.Context, extra ...string) (run, []byte, error) {
	name, args := k.anchorArgs(extra...)
	r, stderr, err := k.timed(ctx, k.c.KubectlBin, args...)
	p, gerr := k.cs.CoreV1().Pods(anchorNamespace).Get(ctx, name, metav1.GetOptions{})
	if gerr == nil && p.DeletionTimestamp == nil {
		k.res.AnchorLeft++
		k.logf("kubectl run --rm left its pod %s; deleting it", name)
		if derr := k.deleteAnchorPods(ctx); derr != nil {
			k.logf("%v", derr)
		}
	} else if gerr != nil && !apierrors.IsNotFound(gerr) {
		k.logf("get pod %s: %v", name, gerr)
	}
	return r, stderr, err
}

// deleteAnchorPods deletes the bench's kubectl pods, at once.
func (k *kubeBench) deleteAnchorPods(ctx context.Context) error {
	grace := int64(0)
	err := k.cs.CoreV1().Pods(anchorNamespace).DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: &grace},
		metav1.ListOptions{LabelSelector: anchorLabel})
	if err != nil {
		return fmt.Errorf("delete the bench's kubectl pods: %w", err)
	}
	return nil
}

// quiet waits (at most kubeQuietWait) until no probe pod is left in the
// probe namespace, no kubectl pod of the bench in its namespace, and no
// watchdog of the measured agent runs. Neither command waits for its pod's
// removal (the agent deletes with a 1 s grace and returns; kubectl's --rm
// does not wait either), and a pod is gone from the API only once the
// kubelet has stopped its containers and sandbox: without this pause the
// next command would share the node's two cores with that teardown.
func (k *kubeBench) quiet(ctx context.Context) {
	deadline := time.Now().Add(kubeQuietWait)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		n, err := k.leftovers(ctx)
		if err == nil && n == 0 && !watchdogRunning(k.o.agent) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	k.logf("pods still there after %s; measuring anyway", kubeQuietWait)
}

func (k *kubeBench) leftovers(ctx context.Context) (int, error) {
	probes, err := k.cs.CoreV1().Pods(probeNamespace).List(ctx, metav1.ListOptions{LabelSelector: probeSelector})
	if err != nil {
		return 0, err
	}
	anchors, err := k.cs.CoreV1().Pods(anchorNamespace).List(ctx, metav1.ListOptions{LabelSelector: anchorLabel})
	if err != nil {
		return 0, err
	}
	return len(probes.Items) + len(anchors.Items), nil
}

// rounds alternates (k) and the anchor, the one going first swapping
// every round, then runs each once more step by step.
func (k *kubeBench) rounds(ctx context.Context) error {
	r := k.res
	// Warm both paths once (the images' first use on the node, the
	// binaries in the page cache).
	if _, _, err := k.agent(ctx); err != nil {
		return err
	}
	if _, _, err := k.anchor(ctx); err != nil {
		return err
	}
	r.LoadAtStart = loadAvg()
	k.logf("(k)/kubectl: %d rounds on node %s, alternating", k.o.k8sRounds, r.Node)
	for i := range k.o.k8sRounds {
		kFirst := i%2 == 0
		var rk, ra run
		var took time.Duration
		steps := []func() error{
			func() (err error) { rk, took, err = k.agent(ctx); return err },
			func() (err error) { ra, _, err = k.anchor(ctx); return err },
		}
		if !kFirst {
			steps[0], steps[1] = steps[1], steps[0]
		}
		for _, step := range steps {
			if err := step(); err != nil {
				return err
			}
		}
		r.K = append(r.K, rk.wall)
		r.Anchor = append(r.Anchor, ra.wall)
		r.KFirst = append(r.KFirst, kFirst)
		r.NodeTook = append(r.NodeTook, took)
		r.AgentRSS = append(r.AgentRSS, rk.maxRSS)
		if k.o.verbose {
			k.logf("round %d: (k) %v (node %v) kubectl %v; (k)/kubectl %.2f", i+1, rk.wall, took, ra.wall, float64(rk.wall)/float64(ra.wall))
		}
	}
	k.stepByStep(ctx)
	return nil
}

// stepByStep runs `agent --debug` and `kubectl -v=6` once each (untimed
// for the rounds) and keeps their step lines: where each one's time goes.
func (k *kubeBench) stepByStep(ctx context.Context) {
	r := k.res
	if run, stderr, err := k.timed(ctx, k.o.agent, k.agentArgs(true)...); err != nil {
		k.logf("agent --debug: %v", err)
	} else {
		r.TimelineWall = run.wall
		r.Timeline = agentSteps(stderr)
	}
	if run, stderr, err := k.anchor(ctx, "-v=6"); err != nil {
		k.logf("kubectl -v=6: %v", err)
	} else {
		r.AnchorTraceWall = run.wall
		r.AnchorTrace = kubectlRequests(stderr)
	}
	k.quiet(ctx)
}

// nodeTook reads nodes[0].durationMs (and fails on nodes[0].error) from a
// JSON cluster report.
func nodeTook(report []byte) (time.Duration, error) {
	var rep struct {
		Nodes []struct {
			Name       string      `json:"name"`
			DurationMs json.Number `json:"durationMs"`
			Error      *struct {
				Kind, Message string
			} `json:"error"`
		} `json:"nodes"`
	}
	if err := json.Unmarshal(report, &rep); err != nil {
		return 0, fmt.Errorf("agent probe --runtime kubernetes -o json: not JSON: %w", err)
	}
	if len(rep.Nodes) != 1 {
		return 0, fmt.Errorf("agent probe --runtime kubernetes: %d nodes in the report, want 1", len(rep.Nodes))
	}
	n := rep.Nodes[0]
	if n.Error != nil {
		return 0, fmt.Errorf("agent probe --runtime kubernetes: node %s: %s: %s", n.Name, n.Error.Kind, n.Error.Message)
	}
	ms, err := n.DurationMs.Int64()
	if err != nil {
		return 0, fmt.Errorf("agent probe --runtime kubernetes: node %s: durationMs %q: %w", n.Name, n.DurationMs, err)
	}
	return time.Duration(ms) * time.Millisecond, nil
}

// agentSteps keeps the agent's own --debug lines ("agent: ..."), not the
// probe's log.
func agentSteps(stderr []byte) []string {
	var out []string
	for _, l := range strings.Split(string(stderr), "\n") {
		if strings.HasPrefix(l, "agent:") {
			out = append(out, strings.TrimSpace(strings.TrimPrefix(l, "agent:")))
		}
	}
	return out
}

// kubectlRequests turns kubectl -v=6's request lines ("Response" ...)
// into "+ms line", counted from its first log line: the API requests it
// made and when.
func kubectlRequests(stderr []byte) []string {
	var out []string
	var first time.Time
	for _, l := range strings.Split(string(stderr), "\n") {
		// I1201 08:11:23.456789   1234 round_trippers.go:632] "Response" verb="GET" ...
		f := strings.Fields(l)
		if len(f) < 4 || len(f[0]) < 5 || (f[0][0] != 'I' && f[0][0] != 'W' && f[0][0] != 'E') {
			continue
		}
		at, err := time.Parse("15:04:05.000000", f[1])
		if err != nil {
			continue
		}
		if first.IsZero() {
			first = at
		}
		_, msg, ok := strings.Cut(l, "] ")
		if !ok || !strings.HasPrefix(msg, `"Response"`) {
			continue
		}
		out = append(out, fmt.Sprintf("%+8.1fms %s", float64(at.Sub(first).Microseconds())/1000, msg))
	}
	return out
}

// kubeTargets are (k)'s rows of the Targets table.
func (k *kubeBench) targets() []target {
	const name = "(k)/kubectl ≤ 0.90: `agent probe --runtime kubernetes --node N -o json` over `kubectl run --rm -i` of a no-op pod on that node (median of per-round ratios)"
	r := k.res
	if r.Err != "" {
		return []target{{name, "not measured: " + firstLine(r.Err), is(false)}}
	}
	ratio := median(ratios(r.K, r.Anchor))
	return []target{{name, fmt.Sprintf("%.2f", ratio), is(len(r.K) > 0 && ratio <= 0.90)}}
}

// section is (k)'s part of docs/benchmarks.md.
func (k *kubeBench) section(p func(string, ...any)) {
	r := k.res
	p("## Kubernetes: (k) `agent probe --runtime kubernetes` and `kubectl run`")
	p("")
	p("Measured %s. The cluster is the e2e harness's (`e2e/k8s/cluster.sh`, DOCKPROBE_E2E_ID=%s), brought up for", k.date.Format("2006-01-02 15:04 UTC"), k.o.k8sID)
	p("these runs and taken down afterwards: Kubernetes %s (kube-apiserver, etcd, %d nodes, each a kubelet with its", orQ(r.Version), r.Nodes)
	p("own containerd, in network namespaces on this machine). Both commands run against node %s (kubelet %s, %s);", orQ(r.Node), orQ(r.Kubelet), orQ(r.Runtime))
	p("load average when the rounds began: %s.", orQ(r.LoadAtStart))
	p("")
	p("| target | measured | |")
	p("|---|---|---|")
	for _, t := range k.targets() {
		p("| %s | %s | %s |", t.name, t.measured, mark(t))
	}
	p("")
	if r.Err != "" {
		p("The measurement failed: `%s`", firstLine(r.Err))
		p("")
		return
	}
	p("(k) is `agent probe --runtime kubernetes --node %s -o json --kubeconfig …` with the probe image loaded on the", r.Node)
	p("node (`agent image save`, then `ctr -n k8s.io images import`; the pod's imagePullPolicy is Never): it connects,")
	p("checks the namespace and its permissions, sweeps stale probe pods, creates the probe pod, waits for it to run,")
	p("execs the probe's gRPC server in it, collects, deletes the pod and prints the report. The anchor is")
	p("`kubectl run NAME --rm -i --restart=Never --image=%s --image-pull-policy=Never --overrides='{\"spec\":{\"nodeName\":\"%s\"}}'`", noopRef, r.Node)
	p("in namespace %s: a static no-op binary built locally by the harness (no registry), created, waited for,", anchorNamespace)
	p("attached to (here: its log read, as it has already exited) and deleted. The one going first alternates every")
	p("round, and every timed run starts on a quiet cluster: no probe pod in namespace %s, no kubectl pod of the", probeNamespace)
	p("bench left (kubectl's own `--rm` pod gone from the API, which the kubelet allows only once its containers and")
	p("sandbox are stopped), no watchdog running. \"node\" is the report's own time for the node (from the pod's")
	p("creation: pod start, exec, collection, the deletion request); \"(k) − node\" is the rest of the agent's run")
	p("(process start, connection, namespace and permission checks, node selection, sweep, analysis, rendering).")
	if r.AnchorLeft > 0 {
		p("kubectl returned with its pod still there, not being deleted, %d time(s); the harness deleted it.", r.AnchorLeft)
	}
	p("")
	p("| round | first | (k) | kubectl | (k)/kubectl | node | (k) − node | agent RSS |")
	p("|---|---|---|---|---|---|---|---|")
	kr := ratios(r.K, r.Anchor)
	var rest []time.Duration
	for i := range r.K {
		first := "kubectl"
		if r.KFirst[i] {
			first = "(k)"
		}
		rest = append(rest, r.K[i]-r.NodeTook[i])
		p("| %d | %s | %s | %s | %.2f | %s | %s | %s |", i+1, first, ms(r.K[i]), ms(r.Anchor[i]), kr[i], ms(r.NodeTook[i]), ms(rest[i]), mib(r.AgentRSS[i]*1024))
	}
	p("| **median** | | **%s** | **%s** | **%.2f** | **%s** | **%s** | |", ms(median(r.K)), ms(median(r.Anchor)), median(kr), ms(median(r.NodeTook)), ms(median(rest)))
	p("")
	p("The ratio's median is the median of the per-round ratios, not the ratio of the time medians.")
	p("")
	if len(r.Timeline) > 0 || len(r.AnchorTrace) > 0 {
		p("### Where the time goes: one more run of each, step by step")
		p("")
		p("Not part of the rounds (logging costs time of its own). `agent --debug` (%s in all) prints its steps, counted", ms(r.TimelineWall))
		p("from the agent's start, and for the node from the node's start:")
		p("")
		p("```")
		for _, l := range r.Timeline {
			p("%s", l)
		}
		p("```")
		p("")
		p("`kubectl -v=6 run …` (%s in all): its requests, counted from its first log line:", ms(r.AnchorTraceWall))
		p("")
		p("```")
		for _, l := range r.AnchorTrace {
			p("%s", l)
		}
		p("```")
		p("")
	}
	p("Only (k): `make bench BENCHFLAGS='-only kubernetes -k8s-rounds 8'` measures this part alone and merges this")
	p("section and its Targets row into docs/benchmarks.md, leaving the Docker sections as they were.")
	p("")
}

func orQ(s string) string {
	if s == "" {
		return "?"
	}
	return s
}

// mergeKube splices (k)'s rows of the Targets table and its section into
// doc, an earlier docs/benchmarks.md, leaving everything else as it was:
// a row whose first cell starts with "(k)" is replaced (or the rows are
// appended to the table), and the "## Kubernetes" section is replaced (or
// inserted before "## Scale", else before "## How to reproduce", else at
// the end).
func mergeKube(doc string, rows []target, section string) (string, error) {
	lines := strings.Split(strings.TrimRight(doc, "\n"), "\n")
	ti := indexLine(lines, 0, func(l string) bool { return l == "## Targets" })
	if ti < 0 {
		return "", errors.New("no Targets table (## Targets): run the whole bench once")
	}
	hi := indexLine(lines, ti+1, func(l string) bool { return strings.HasPrefix(l, "|") })
	if hi < 0 {
		return "", errors.New("no Targets table under ## Targets: run the whole bench once")
	}
	end := hi
	for end < len(lines) && strings.HasPrefix(lines[end], "|") {
		end++
	}
	// The header's cells: target, then two per engine.
	engines := max(1, (strings.Count(lines[hi], "|")-2)/2)
	var table []string
	for _, l := range lines[hi:end] {
		if !strings.HasPrefix(l, "| (k)") {
			table = append(table, l)
		}
	}
	for _, t := range rows {
		table = append(table, fmt.Sprintf("| %s | %s | %s |%s", t.name, t.measured, mark(t), strings.Repeat(" | |", engines-1)))
	}
	lines = append(append(append([]string{}, lines[:hi]...), table...), lines[end:]...)

	sec := append(strings.Split(strings.TrimRight(section, "\n"), "\n"), "")
	si := indexLine(lines, 0, func(l string) bool { return strings.HasPrefix(l, "## Kubernetes") })
	if si >= 0 {
		se := indexLine(lines, si+1, func(l string) bool { return strings.HasPrefix(l, "## ") })
		if se < 0 {
			se = len(lines)
		}
		lines = append(append(append([]string{}, lines[:si]...), sec...), lines[se:]...)
	} else {
		at := indexLine(lines, 0, func(l string) bool { return l == "## Scale" })
		if at < 0 {
			at = indexLine(lines, 0, func(l string) bool { return l == "## How to reproduce" })
		}
		if at < 0 {
			lines = append(append(lines, ""), sec...)
		} else {
			lines = append(append(append([]string{}, lines[:at]...), sec...), lines[at:]...)
		}
	}
	return strings.Join(lines, "\n") + "\n", nil
}

func indexLine(lines []string, from int, f func(string) bool) int {
	for i := from; i < len(lines); i++ {
		if f(lines[i]) {
			return i
		}
	}
	return -1
}
