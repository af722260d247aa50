package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/dockprobe/dockprobe/agent/internal/bundle"
	"github.com/dockprobe/dockprobe/agent/internal/checks"
	"github.com/dockprobe/dockprobe/agent/internal/cluster"
	"github.com/dockprobe/dockprobe/agent/internal/kube"
	"github.com/dockprobe/dockprobe/agent/internal/kubelaunch"
	"github.com/dockprobe/dockprobe/agent/internal/launcher"
	"github.com/dockprobe/dockprobe/agent/internal/probeclient"
	"github.com/dockprobe/dockprobe/agent/internal/probeimage"
	"github.com/dockprobe/dockprobe/agent/internal/redact"
	"github.com/dockprobe/dockprobe/agent/internal/report"
	"github.com/dockprobe/dockprobe/internal/version"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// timeoutHelp is --timeout's help: with Kubernetes it bounds the whole run
// only when given (a cluster of many nodes takes as long as it takes; each
// node has --node-timeout).
const timeoutHelp = "give up after this long (--runtime kubernetes: the whole run, only when given; each node has --node-timeout)"

// DefaultNodeTimeout bounds one node of a Kubernetes run: the pod's start
// (the kubelet's sandbox and container), the exec and the report.
const DefaultNodeTimeout = 90 * time.Second

// kubeOptions are the Kubernetes runtime's flags. The connection follows
// kubectl's conventions (--kubeconfig, KUBECONFIG, ~/.kube/config,
// in-cluster); the context flag is --kube-context and the namespace flag
// --kube-namespace, because --context is docker's and --namespace
// containerd's.
type kubeOptions struct {
	kubeconfig  string
	context     string
	namespace   string
	node        string
	selector    string
	allNodes    bool
	concurrency int
	nodeTimeout time.Duration
	image       string
	// runTimeout bounds the whole run (the command's --timeout, when the
	// user gave it); zero leaves each node to --node-timeout alone.
	runTimeout time.Duration
}

// kubeConnect reaches the cluster; tests put a cluster in memory here.
var kubeConnect = kube.Connect

// kubeWire, when set, adjusts each run's Runner (tests give its exec a
// fake probe).
var kubeWire func(*kube.Runner)

func (k *kubeOptions) addFlags(f *pflag.FlagSet) {
	f.StringVar(&k.kubeconfig, "kubeconfig", "", "Kubernetes: the kubeconfig file (default: KUBECONFIG, then ~/.kube/config, then the in-cluster configuration)")
	f.StringVar(&k.context, "kube-context", "", "Kubernetes: the kubeconfig context (default: its current context)")
	f.StringVar(&k.namespace, "kube-namespace", kube.DefaultNamespace, "Kubernetes: the namespace of the probe pods (deploy/kubernetes/namespace.yaml)")
	f.StringVar(&k.node, "node", "", "Kubernetes: probe this node")
	f.StringVar(&k.selector, "selector", "", "Kubernetes: probe the nodes with these labels (a label selector, e.g. node-role.kubernetes.io/worker)")
	f.BoolVar(&k.allNodes, "all-nodes", false, "Kubernetes: probe every node")
	f.IntVar(&k.concurrency, "concurrency", kube.DefaultConcurrency, "Kubernetes: the most nodes probed at once")
	f.DurationVar(&k.nodeTimeout, "node-timeout", DefaultNodeTimeout, "Kubernetes: give up on one node after this long (it gets its own error; the others go on)")
	f.StringVar(&k.image, "image", "", "Kubernetes: the probe image (default: the probe this agent carries, loaded on each node with `agent image save`, never pulled)")
}

// set names the first Kubernetes flag given, for the usage error when the
// runtime is another.
func (k *kubeOptions) set() string {
	for _, f := range []struct {
		name string
		on   bool
	}{
		{"--kubeconfig", k.kubeconfig != ""}, {"--kube-context", k.context != ""},
		{"--kube-namespace", k.namespace != "" && k.namespace != kube.DefaultNamespace},
		{"--node", k.node != ""}, {"--selector", k.selector != ""}, {"--all-nodes", k.allNodes},
		{"--image", k.image != ""},
		{"--concurrency", k.concurrency != kube.DefaultConcurrency && k.concurrency != 0},
		{"--node-timeout", k.nodeTimeout != DefaultNodeTimeout && k.nodeTimeout != 0},
	} {
		if f.on {
			return f.name
		}
	}
	return ""
}

func (k *kubeOptions) selection() kube.Selection {
	return kube.Selection{Node: k.node, Selector: k.selector, All: k.allNodes}
}

// validate checks the flags that need no cluster. The node selection is
// checked by the commands that probe nodes (cleanup needs none).
func (k *kubeOptions) validate() error {
	if k.concurrency < 1 {
		return fmt.Errorf("%w: --concurrency must be at least 1, got %d", ErrUsage, k.concurrency)
	}
	if k.nodeTimeout <= 0 {
		return fmt.Errorf("%w: --node-timeout must be positive, got %s", ErrUsage, k.nodeTimeout)
	}
	if k.namespace == "" {
		return fmt.Errorf("%w: --kube-namespace must not be empty", ErrUsage)
	}
	n := 0
	for _, on := range []bool{k.node != "", k.selector != "", k.allNodes} {
		if on {
			n++
		}
	}
	if n > 1 {
		return fmt.Errorf("%w: choose the nodes with one of --node NAME, --selector LABELS or --all-nodes", ErrUsage)
	}
	return nil
}

// imageRef is --image, or the probe this agent carries (loaded on the
// nodes, never pulled).
func (k *kubeOptions) imageRef() (string, corev1.PullPolicy, error) {
	if k.image != "" {
		return k.image, corev1.PullIfNotPresent, nil
	}
	im, err := probeimage.Lookup(runtime.GOARCH, version.Version)
	if err != nil {
		return "", "", err
	}
	return im.Ref, corev1.PullNever, nil
}

// connect reaches the cluster and prepares this run's Runner.
func (k *kubeOptions) connect(ctx context.Context, debug bool) (*kube.Client, *kube.Runner, error) {
	c, err := kubeConnect(kube.ConnOptions{Kubeconfig: k.kubeconfig, Context: k.context})
	if err != nil {
		return nil, nil, err
	}
	ref, policy, err := k.imageRef()
	if err != nil {
		return nil, nil, err
	}
	r := kube.NewRunner(ctx, c, k.namespace, ref)
	r.PullPolicy = policy
	r.Debug = debug
	// The waiting probe outlives the node's deadline a little, so that
	// the agent's hang-up, not the deadline, normally ends it.
	r.Deadline = k.nodeTimeout + 30*time.Second
	// A pod's start gets --node-timeout, also for a watch whose probe
	// then runs for hours.
	r.StartTimeout = k.nodeTimeout
	if kubeWire != nil {
		kubeWire(r)
	}
	return c, r, nil
}

// open is the launcher of one node (watch): --node's, or the cluster's
// only node. With several nodes and no --node it is a usage error naming
// them: a watch follows one node. For cleanup (namespaceOnly) it is the
// namespace's launcher, which starts no probe and takes no node flag.
func (k *kubeOptions) open(ctx context.Context, debug, namespaceOnly bool, warn io.Writer) (launcher.Launcher, error) {
	if namespaceOnly {
		if f := k.selectionFlag(); f != "" {
			return nil, fmt.Errorf("%w: cleanup deletes every probe pod of the namespace (--kube-namespace); %s does not apply to it", ErrUsage, f)
		}
		_, r, err := k.connect(ctx, debug)
		if err != nil {
			return nil, err
		}
		return kubelaunch.New(r, kube.Node{}), nil
	}
	if k.selector != "" || k.allNodes {
		return nil, fmt.Errorf("%w: this command follows one node: choose it with --node NAME (--selector and --all-nodes are for probe, doctor, bundle and path --check)", ErrUsage)
	}
	c, r, err := k.connect(ctx, debug)
	if err != nil {
		return nil, err
	}
	if err := k.preflight(ctx, c, r, debug, warn); err != nil {
		return nil, err
	}
	node, err := k.oneNode(ctx, c)
	if err != nil {
		return nil, err
	}
	return kubelaunch.New(r, node), nil
}

// selectionFlag names the node selection flag given, if any.
func (k *kubeOptions) selectionFlag() string {
	switch {
	case k.node != "":
		return "--node"
	case k.selector != "":
		return "--selector"
	case k.allNodes:
		return "--all-nodes"
	}
	return ""
}

// oneNode is --node's node, or the cluster's only node.
func (k *kubeOptions) oneNode(ctx context.Context, c *kube.Client) (kube.Node, error) {
	if k.node != "" {
		nodes, err := kube.SelectNodes(ctx, c.CS, kube.Selection{Node: k.node})
		if err != nil {
			return kube.Node{}, err
		}
		return nodes[0], nil
	}
	nodes, err := kube.SelectNodes(ctx, c.CS, kube.Selection{All: true})
	if err != nil {
		return kube.Node{}, err
	}
	if len(nodes) > 1 {
		names := make([]string, len(nodes))
		for i, n := range nodes {
			names[i] = n.Name
		}
		return kube.Node{}, fmt.Errorf("%w: the cluster has %d nodes (%s): choose one with --node NAME", ErrUsage, len(nodes), strings.Join(names, ", "))
	}
	return nodes[0], nil
}

// preflight checks what would otherwise fail on every node (the
// namespace's Pod Security level, RBAC) and sweeps the probe pods dead
// runs left (unless DOCKPROBE_SWEEP=off).
func (k *kubeOptions) preflight(ctx context.Context, c *kube.Client, r *kube.Runner, debug bool, warn io.Writer) error {
	if err := kube.CheckNamespace(ctx, c.CS, k.namespace); err != nil {
		return err
	}
	if err := kube.CheckAccess(ctx, c.CS, k.namespace, kube.Needed); err != nil {
		return err
	}
	if sweepOff() {
		return nil
	}
	if swept, err := kube.Sweep(ctx, c, kube.SweepOptions{Namespace: k.namespace, KeepRun: r.RunID, Alive: kubelaunch.Alive, Now: time.Now()}); err != nil {
		fmt.Fprintf(warn, "warning: sweep stale probe pods: %v\n", err)
	} else if debug && len(swept) > 0 {
		fmt.Fprintf(warn, "agent: removed %d stale probe pod(s): %v\n", len(swept), swept)
	}
	return nil
}

// runTimeout is the cause of a Kubernetes run's context when its --timeout
// passed. Each node's own limit is --node-timeout; --timeout, when given,
// bounds the whole run (the connection, the checks and the fan-out). It
// is a kube.ErrTimeout: a node it cut short has the error kind "timeout".
type runTimeout struct{ d time.Duration }

func (e runTimeout) Error() string        { return fmt.Sprintf("the run's --timeout of %s passed", e.d) }
func (e runTimeout) Is(target error) bool { return target == kube.ErrTimeout }

// bound gives a Kubernetes run its --timeout, when the user gave one.
func (k *kubeOptions) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if k.runTimeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeoutCause(ctx, k.runTimeout, runTimeout{k.runTimeout})
}

// timedOut reports whether ctx ended at the run's --timeout.
func timedOut(ctx context.Context) bool {
	var rt runTimeout
	return errors.As(context.Cause(ctx), &rt)
}

// openError is an error before the fan-out, in the Docker runtime's terms
// when the run's --timeout ended it (exit 6).
func (k *kubeOptions) openError(ctx context.Context, err error) error {
	if timedOut(ctx) && !interrupted(ctx) {
		return fmt.Errorf("%w: no answer from the Kubernetes API server within --timeout %s (%v); retry with a longer --timeout", probeclient.ErrTimeout, k.runTimeout, err)
	}
	return err
}

// kubeFlags checks the probe flags that mean something else, or nothing,
// on Kubernetes: the probe pod is never privileged, and a pid is one
// node's.
func (r *runtimeOptions) kubeFlags(privileged bool, targetPID int) error {
	if r.runtime != RuntimeKube {
		return nil
	}
	if privileged {
		return fmt.Errorf("%w: --privileged is the Docker and nerdctl runtimes' fallback; a Kubernetes probe pod is never privileged (it has SYS_ADMIN and SYS_PTRACE, as deploy/kubernetes/probe-pod.yaml shows)", ErrUsage)
	}
	if targetPID > 0 && r.kube.node == "" {
		return fmt.Errorf("%w: --target-pid is a pid on one node: add --node NAME", ErrUsage)
	}
	return nil
}

// clusterRun is one fan-out over the selected nodes: one launcher per
// node (kubelaunch), each run through launcher.Probe like any runtime's.
type clusterRun struct {
	k      *kubeOptions
	client *kube.Client
	runner *kube.Runner
	nodes  []kube.Node
	info   *probev1.Cluster
	// targetPID is --target-pid (with --node only).
	targetPID int
}

// openCluster connects, checks what would otherwise fail on every node
// (the namespace's Pod Security level, RBAC), sweeps the probe pods dead
// runs left and selects the nodes.
func (k *kubeOptions) openCluster(ctx context.Context, debug bool, warn io.Writer) (*clusterRun, error) {
	sel := k.selection()
	if err := sel.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUsage, err)
	}
	c, r, err := k.connect(ctx, debug)
	if err != nil {
		return nil, err
	}
	if err := k.preflight(ctx, c, r, debug, warn); err != nil {
		return nil, err
	}
	nodes, err := kube.SelectNodes(ctx, c.CS, sel)
	if err != nil {
		return nil, err
	}
	info := &probev1.Cluster{Server: c.Config.Host, Context: k.currentContext(), Namespace: k.namespace, Selection: selectionText(sel)}
	if v, err := c.CS.Discovery().ServerVersion(ctx); err == nil {
		info.Version, info.Platform = v.GitVersion, v.Platform
	}
	return &clusterRun{k: k, client: c, runner: r, nodes: nodes, info: info}, nil
}

// currentContext is the kubeconfig context in use ("" in a pod).
func (k *kubeOptions) currentContext() string {
	if k.context != "" {
		return k.context
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = k.kubeconfig
	raw, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).RawConfig()
	if err != nil {
		return ""
	}
	return raw.CurrentContext
}

func selectionText(s kube.Selection) string {
	switch {
	case s.Node != "":
		return "node " + s.Node
	case s.Selector != "":
		return "selector " + s.Selector
	}
	return "all nodes"
}

// analyzeNode is analyze for a node's report. The agent's own machine is
// not the node's host (as it is for Docker Desktop's VM): its interfaces
// and routes would make the host-side checks (MTU, overlaps) judge the
// node against an unrelated machine, so the node's report has no host
// side and those checks skip.
func analyzeNode(rep *probev1.Report) {
	rep.Host = &probev1.Host{}
	analyze(rep)
}

// nodeOutcome is one node's run.
type nodeOutcome struct {
	rep  *probev1.Report
	took time.Duration
}

// probe runs the probe on every selected node, at most --concurrency at
// once, each under --node-timeout, and returns one entry per node plus the
// nodes' errors (for the exit code). A node that fails never stops the
// others.
func (cr *clusterRun) probe(ctx context.Context, g *globalOptions, stderr io.Writer, each func(*probev1.Report)) ([]*probev1.NodeReport, []error) {
	var ready []string
	byName := map[string]kube.Node{}
	for _, n := range cr.nodes {
		byName[n.Name] = n
		if n.NotReady == nil {
			ready = append(ready, n.Name)
		}
	}
	var logMu sync.Mutex
	results := kube.FanOut(ctx, ready, kube.FanOutOptions{Concurrency: cr.k.concurrency, NodeTimeout: cr.k.nodeTimeout},
		func(ctx context.Context, name string) (nodeOutcome, error) {
			start := time.Now()
			var log io.Writer = io.Discard
			var progress func(string)
			if g.debug {
				log = &prefixWriter{mu: &logMu, w: stderr, prefix: "probe " + name + ": "}
				progress = func(step string) {
					logMu.Lock()
					fmt.Fprintf(stderr, "agent: node %s: %6.1fms %s\n", name, float64(time.Since(start).Microseconds())/1000, step)
					logMu.Unlock()
				}
			}
			res, err := launcher.Probe(ctx, kubelaunch.New(cr.runner, byName[name]), launcher.ProbeOptions{
				Options: launcher.Options{
					Version: version.Version, Deadline: cr.runner.Deadline, Debug: g.debug,
					ProbeLog: log, Progress: progress, TargetPID: cr.targetPID,
				},
				Tool: &probev1.Tool{AgentVersion: version.Version, ProtocolVersion: probev1.ProtocolVersion},
			})
			if err != nil {
				if timedOut(ctx) {
					// Whatever the cut-short call said, the run's
					// limit ended it.
					err = fmt.Errorf("%w: node %s: no report within the run's --timeout of %s (each node has --node-timeout %s)", kube.ErrTimeout, name, cr.k.runTimeout, cr.k.nodeTimeout)
				}
				return nodeOutcome{took: time.Since(start)}, err
			}
			if each != nil {
				each(res.Report)
			}
			return nodeOutcome{rep: res.Report, took: time.Since(start)}, nil
		})
	done := map[string]kube.Result[nodeOutcome]{}
	for _, r := range results {
		done[r.Node] = r
	}
	out := make([]*probev1.NodeReport, 0, len(cr.nodes))
	var errs []error
	for _, n := range cr.nodes {
		r := done[n.Name]
		err := r.Err
		if err == nil && n.NotReady != nil {
			err = n.NotReady
		}
		if err != nil {
			errs = append(errs, err)
		}
		out = append(out, cluster.Node(n, r.Value.rep, err, r.Value.took, kube.PodName(n.Name, cr.runner.RunID)))
	}
	return out, errs
}

// report assembles the cluster report.
func (cr *clusterRun) report(nodes []*probev1.NodeReport) *probev1.ClusterReport {
	tool := &probev1.Tool{AgentVersion: version.Version, ProtocolVersion: probev1.ProtocolVersion, ProbeImage: cr.runner.Image}
	return cluster.Report(cr.info, tool, nodes, time.Now())
}

// ErrNodesFailed: some nodes have no report; the cluster report, printed
// anyway, has each one's error.
var ErrNodesFailed = errors.New("some nodes have no report")

// runError is a fan-out's outcome for the exit code: the run's --timeout
// when it cut some nodes short (exit 6, as the Docker runtime's), else
// clusterError's.
func (cr *clusterRun) runError(ctx context.Context, nodes []*probev1.NodeReport, errs []error) error {
	if len(errs) > 0 && timedOut(ctx) {
		failed := failedNodes(nodes)
		others := "; the report has the others'"
		if len(failed) == len(nodes) {
			others = ""
		}
		return fmt.Errorf("%w: no report from %d of %d node(s) (%s) within --timeout %s%s (retry with a longer --timeout or a higher --concurrency)",
			probeclient.ErrTimeout, len(failed), len(nodes), strings.Join(failed, ", "), cr.k.runTimeout, others)
	}
	return clusterError(nodes, errs)
}

func failedNodes(nodes []*probev1.NodeReport) []string {
	failed := []string{}
	for _, n := range nodes {
		if n.GetError() != nil {
			failed = append(failed, n.GetName())
		}
	}
	return failed
}

// clusterError is a fan-out's outcome for the exit code: nil when every
// node reported; the first node's own error (its own exit code: forbidden,
// image missing, timeout) when none did; ErrNodesFailed when some did.
func clusterError(nodes []*probev1.NodeReport, errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	if len(errs) == len(nodes) {
		if len(errs) == 1 {
			return errs[0]
		}
		return fmt.Errorf("no node has a report: %w (and %d more)", errs[0], len(errs)-1)
	}
	return fmt.Errorf("%w: %d of %d node(s) failed (%v); each one's error is in the report", ErrNodesFailed, len(errs), len(nodes), failedNodes(nodes))
}

// prefixWriter writes each chunk under a node's prefix (the nodes' probe
// logs interleave on one stderr).
type prefixWriter struct {
	mu     *sync.Mutex
	w      io.Writer
	prefix string
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "%s%s", p.prefix, b)
	return len(b), nil
}

// runClusterProbe is `agent probe --runtime kubernetes`: one cluster
// report, printed even when some nodes failed (their errors are in it).
func runClusterProbe(ctx context.Context, g *globalOptions, o *probeOptions, stdout, stderr io.Writer) error {
	ctx, cancel := o.rt.kube.bound(ctx)
	defer cancel()
	o.progress.Step("connect to the cluster")
	cr, err := o.rt.kube.openCluster(ctx, g.debug, stderr)
	if err != nil {
		return o.rt.kube.openError(ctx, err)
	}
	cr.targetPID = o.targetPID
	o.progress.Step(fmt.Sprintf("probe %d node(s)", len(cr.nodes)))
	nodes, errs := cr.probe(ctx, g, stderr, analyzeNode)
	if interrupted(ctx) {
		return context.Cause(ctx)
	}
	if err := renderCluster(stdout, cr.report(nodes), o.output); err != nil {
		return err
	}
	return cr.runError(ctx, nodes, errs)
}

// runClusterDoctor is `agent doctor --runtime kubernetes`: each node's
// checks under its name, then the cluster checks (nodes compared with one
// another); -o json is the cluster report with them all. Exit 20 when any
// node's or the cluster's checks found an error; else a failed node's
// code, as for probe.
func runClusterDoctor(ctx context.Context, g *globalOptions, o *doctorOptions, stdout, stderr io.Writer) error {
	ctx, cancel := o.rt.kube.bound(ctx)
	defer cancel()
	cr, err := o.rt.kube.openCluster(ctx, g.debug, stderr)
	if err != nil {
		return o.rt.kube.openError(ctx, err)
	}
	cr.targetPID = o.targetPID
	nodes, errs := cr.probe(ctx, g, stderr, analyzeNode)
	if interrupted(ctx) {
		return context.Cause(ctx)
	}
	rep := cr.report(nodes)
	if o.output == "json" {
		if err := renderCluster(stdout, rep, outputOptions{format: "json"}); err != nil {
			return err
		}
	} else {
		clean := redact.New(nil).Cluster(rep)
		for _, n := range clean.GetNodes() {
			fmt.Fprintf(stdout, "Node %s\n", n.GetName())
			if e := n.GetError(); e != nil {
				fmt.Fprintf(stdout, "FAIL  %-28s %s\n\n", "node."+e.GetKind(), e.GetMessage())
				continue
			}
			if err := doctorText(stdout, n.GetReport().GetFindings()); err != nil {
				return err
			}
			fmt.Fprintln(stdout)
		}
		fmt.Fprintln(stdout, "Cluster")
		if err := doctorText(stdout, clean.GetFindings()); err != nil {
			return err
		}
	}
	if len(errs) > 0 && timedOut(ctx) {
		// The run did not complete: as for the Docker runtime's doctor,
		// the exit code says why before any verdict.
		return cr.runError(ctx, nodes, errs)
	}
	worst := checks.Worst(rep.GetFindings())
	for _, n := range rep.GetNodes() {
		if checks.Worst(n.GetReport().GetFindings()) == checks.Error {
			worst = checks.Error
		}
	}
	if worst == checks.Error {
		return ErrDoctorFindings
	}
	return cr.runError(ctx, nodes, errs)
}

// runClusterBundle is `agent bundle --runtime kubernetes`: the cluster
// report (cluster.json, .txt, .html, .yaml and its schema) and one folder
// per node (nodes/NAME/) with what a single bundle holds for one engine:
// the report in every format, the raw sources, the Node object as the API
// gave it, or the node's error. Everything goes through one scrubber.
func runClusterBundle(ctx context.Context, g *globalOptions, o *bundleOptions, stderr io.Writer) error {
	created := time.Now().UTC()
	var agentLog bytes.Buffer
	logw := io.Writer(&agentLog)
	if g.debug {
		logw = io.MultiWriter(&agentLog, stderr)
	}
	fmt.Fprintf(&agentLog, "agent %s bundle --runtime kubernetes started %s\n", version.Version, created.Format(time.RFC3339))
	ctx, cancel := o.probe.rt.kube.bound(ctx)
	defer cancel()
	cr, err := o.probe.rt.kube.openCluster(ctx, true, logw)
	if err != nil {
		return o.probe.rt.kube.openError(ctx, err)
	}
	cr.targetPID = o.probe.targetPID
	dg := *g
	dg.debug = true // the log gets everything --debug would show
	nodes, errs := cr.probe(ctx, &dg, logw, analyzeNode)
	if interrupted(ctx) {
		return context.Cause(ctx)
	}
	rep := cr.report(nodes)
	scrub := o.probe.output.scrubber()
	clean := scrub.Cluster(rep)
	b := bundle.New(scrub)
	for _, f := range []struct{ name, format string }{
		{"cluster.json", "json"}, {"cluster.txt", "text"}, {"cluster.html", "html"}, {"cluster.yaml", "yaml"},
	} {
		var buf bytes.Buffer
		if err := cluster.Write(&buf, clean, report.Options{Format: f.format}); err != nil {
			return err
		}
		b.Add(f.name, "agent probe --runtime kubernetes -o "+f.format, buf.Bytes())
	}
	b.Add("cluster.schema.json", "agent (JSON Schema of cluster.json, generated from the proto)", report.ClusterJSONSchema())
	byName := map[string]kube.Node{}
	for _, n := range cr.nodes {
		byName[n.Name] = n
	}
	for _, n := range clean.GetNodes() {
		sub := bundle.New(scrub)
		for _, a := range kubelaunch.New(cr.runner, byName[n.GetName()]).Answers(ctx) {
			if a.Err != nil {
				sub.Add(a.Name+".error.txt", a.Producer, []byte(a.Err.Error()+"\n"))
			} else {
				sub.Add(a.Name+".json", a.Producer, a.JSON)
			}
		}
		if e := n.GetError(); e != nil {
			sub.Add("error.txt", "agent (why this node has no report)", []byte(e.GetKind()+": "+e.GetMessage()+"\n"))
		}
		if r := n.GetReport(); r != nil {
			for _, f := range []struct{ name, format string }{
				{"report.json", "json"}, {"report.txt", "text"}, {"report.html", "html"}, {"report.yaml", "yaml"},
			} {
				var buf bytes.Buffer
				if err := report.Write(&buf, r, report.Options{Format: f.format}); err != nil {
					return err
				}
				sub.Add(f.name, "agent probe --runtime kubernetes --node "+n.GetName()+" -o "+f.format, buf.Bytes())
			}
			sub.AddRaw(r)
		}
		b.AddUnder("nodes/"+n.GetName(), sub)
	}
	runErr := cr.runError(ctx, nodes, errs)
	if runErr != nil {
		fmt.Fprintf(&agentLog, "error: %v\n", runErr)
	}
	fmt.Fprintf(&agentLog, "bundle written %s\n", time.Now().UTC().Format(time.RFC3339))
	b.Add("agent.log", "the agent's own log (progress, the probes' stderr)", agentLog.Bytes())
	m := bundle.Manifest{
		Tool: bundle.Tool{
			AgentVersion: version.Version, ProtocolVersion: probev1.ProtocolVersion,
			ProbeImage: cr.runner.Image, ReportSchema: probev1.SchemaVersion,
		},
		CreatedAt:   created.Format(time.RFC3339),
		CollectedAt: rep.GetCollectedAt().AsTime().UTC().Format(time.RFC3339),
		Command:     "agent bundle --runtime kubernetes",
		Engine:      scrub.String(strings.TrimSpace(rep.GetCluster().GetServer() + " " + rep.GetCluster().GetVersion())),
		Reduced:     runErr != nil,
	}
	if runErr != nil {
		m.Reason = runErr.Error()
	}
	m.Redaction.Anonymized = scrub.Anon != nil
	readme := fmt.Sprintf("# dockprobe cluster bundle\n\nMade by agent %s on %s: cluster %s (Kubernetes %s), %s.\n\ncluster.* is the cluster report; nodes/NAME/ holds each node's report, raw sources and Node object (or error.txt).\n",
		version.Version, m.CreatedAt, m.Engine, rep.GetCluster().GetVersion(), rep.GetCluster().GetSelection())
	if err := writeZip(o.file, b, m, readme, created); err != nil {
		return err
	}
	if scrub.Anon != nil {
		if err := writeMapping(o.probe.output.mappingFile, scrub.Anon); err != nil {
			return err
		}
	}
	fmt.Fprintf(stderr, "agent: wrote %s (%d files)\n", o.file, len(b.Files())+2)
	return runErr
}
