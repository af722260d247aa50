package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/dockprobe/dockprobe/agent/internal/knowledge"
	"github.com/dockprobe/dockprobe/agent/internal/pathmap"
	"github.com/dockprobe/dockprobe/agent/internal/redact"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

type pathOptions struct {
	output  string
	check   bool
	timeout time.Duration
	rt      runtimeOptions
}

func init() { register(newPathCmd) }

func newPathCmd(g *globalOptions) *cobra.Command {
	o := &pathOptions{}
	cmd := &cobra.Command{
		Use:   "path PATH",
		Short: "Translate a Windows, WSL or VM path into its bind-mount, Kubernetes hostPath and WSL forms",
		Long: `path prints every spelling of one location: the Windows path, the docker
bind-mount form, the Kubernetes hostPath form (/run/desktop/mnt/host/<drive>/...),
the path in dockerd's own namespace (/mnt/host/<drive>/...) and the WSL form.
It works offline. With --check it also runs the probe and says whether the
drive's share is mounted in the VM and which form Kubernetes can see; it
does not look for the file itself (the probe reads no path you choose).

With --runtime kubernetes, --check asks every node by default (a pod with
that hostPath may be scheduled on any of them) and says it per node; --node,
--selector or --all-nodes choose the nodes. A node that cannot be probed
gets its own line and the others are still answered (exit 14).`,
		Example: `  agent path 'C:\temp\WebApplication1'
  agent path /run/desktop/mnt/host/c/temp/WebApplication1
  agent path '\\wsl$\Ubuntu\home\me\app'
  agent path --check 'C:\temp\WebApplication1'
  agent path --check --runtime kubernetes 'C:\temp\WebApplication1'            # every node
  agent path --check --runtime kubernetes --node desktop-worker 'C:\temp\app'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.output != "text" && o.output != "json" {
				return fmt.Errorf("%w: --output must be text or json, got %q", ErrUsage, o.output)
			}
			if err := o.rt.validate(g); err != nil {
				return err
			}
			f, err := pathmap.Translate(strings.TrimSpace(args[0]))
			if err != nil {
				return fmt.Errorf("%w: %w", ErrUsage, err)
			}
			if o.check && o.rt.runtime == RuntimeKube {
				if cmd.Flags().Changed("timeout") {
					o.rt.kube.runTimeout = o.timeout
				}
				nodes, runErr := checkOnNodes(cmd.Context(), g, o, f, cmd.ErrOrStderr())
				if nodes == nil {
					return runErr
				}
				if err := writePath(cmd.OutOrStdout(), f, pathChecks{nodes: nodes}, o.output); err != nil {
					return err
				}
				return runErr
			}
			var vm *vmCheck
			if o.check {
				vm, err = checkInVM(cmd.Context(), g, o, f, cmd.ErrOrStderr())
				if err != nil {
					return err
				}
			}
			return writePath(cmd.OutOrStdout(), f, pathChecks{vm: vm}, o.output)
		},
	}
	cmd.Flags().StringVarP(&o.output, "output", "o", "text", "output format: text or json")
	cmd.Flags().BoolVar(&o.check, "check", false, "run the probe and say whether the drive's share is mounted in the VM")
	cmd.Flags().DurationVar(&o.timeout, "timeout", 60*time.Second, "give up after this long (with --check; --runtime kubernetes: the whole run, only when given; each node has --node-timeout)")
	o.rt.addFlags(cmd.Flags())
	return cmd
}

// vmCheck is what the probe's report says about the path's share.
type vmCheck struct {
	// Share is the share mount point (/run/desktop/mnt/host/c).
	Share string `json:"share"`
	// Mounted is true when Share is a mount point in dockerd's namespace.
	Mounted bool `json:"mounted"`
	// MntMounted is the same for /mnt/host/<drive>.
	MntMounted bool `json:"mntMounted"`
	// Propagation of Share (shared means Kubernetes sees it).
	Propagation string `json:"propagation,omitempty"`
	Note        string `json:"note"`
}

// nodeCheck is one node's answer to path --check: its vmCheck, or why it
// has none.
type nodeCheck struct {
	Node string `json:"node"`
	*vmCheck
	Error *nodeCheckError `json:"error,omitempty"`
}

type nodeCheckError struct {
	Kind    string `json:"kind"`
	Message string `json:"message"`
}

// pathChecks are what --check found: the VM's answer (Docker, nerdctl) or
// each node's (Kubernetes).
type pathChecks struct {
	vm    *vmCheck
	nodes []nodeCheck
}

// checkOnNodes is path --check through the Kubernetes runtime: the probe
// on each selected node (every node unless --node, --selector or
// --all-nodes says otherwise: a hostPath pod may land on any), each
// node's share checked in its own report. It returns the nodes' answers,
// the failed ones with their errors, and the run's error for the exit
// code; nil answers when nothing was probed.
func checkOnNodes(ctx context.Context, g *globalOptions, o *pathOptions, f pathmap.Forms, stderr io.Writer) ([]nodeCheck, error) {
	k := &o.rt.kube
	if k.selectionFlag() == "" {
		k.allNodes = true
	}
	ctx, cancel := k.bound(ctx)
	defer cancel()
	cr, err := k.openCluster(ctx, g.debug, stderr)
	if err != nil {
		return nil, k.openError(ctx, err)
	}
	nodes, errs := cr.probe(ctx, g, stderr, nil)
	if interrupted(ctx) {
		return nil, context.Cause(ctx)
	}
	// Node errors may quote the API server's URL: scrubbed like a report.
	clean := redact.New(nil).Cluster(cr.report(nodes))
	out := make([]nodeCheck, 0, len(clean.GetNodes()))
	for _, n := range clean.GetNodes() {
		c := nodeCheck{Node: n.GetName()}
		if e := n.GetError(); e != nil {
			c.Error = &nodeCheckError{Kind: e.GetKind(), Message: e.GetMessage()}
		} else {
			c.vmCheck = shareCheck(n.GetReport(), f, "on node "+n.GetName())
		}
		out = append(out, c)
	}
	return out, cr.runError(ctx, nodes, errs)
}

func checkInVM(ctx context.Context, g *globalOptions, o *pathOptions, f pathmap.Forms, stderr io.Writer) (*vmCheck, error) {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	l, err := o.rt.open(ctx, g, launchOptions{probeDeadline: probeDeadline(o.timeout), watchdog: true, warn: stderr})
	if err != nil {
		return nil, err
	}
	defer l.Close()
	rep, err := gather(ctx, l, g, &probeOptions{timeout: o.timeout}, stderr)
	if err != nil {
		return nil, err
	}
	return shareCheck(rep, f, "in the VM"), nil
}

// shareCheck reads the share's mount in rep; where says whose mounts they
// are ("in the VM", "on node worker-1").
func shareCheck(rep *probev1.Report, f pathmap.Forms, where string) *vmCheck {
	if f.HostPath == "" {
		return &vmCheck{Note: fmt.Sprintf("a WSL distro's own file: there is no fixed path for it %s, so there is nothing to check", where)}
	}
	top := f.Drive
	v := &vmCheck{Share: knowledge.ShareRootDesktop + "/" + top}
	for _, m := range rep.GetMounts() {
		switch m.GetMountPoint() {
		case v.Share:
			v.Mounted, v.Propagation = true, m.GetPropagation()
		case knowledge.ShareRootMnt + "/" + top:
			v.MntMounted = true
		}
	}
	switch {
	case !v.Mounted && where == "in the VM":
		v.Note = fmt.Sprintf("%s is not mounted in the VM: the drive is not shared (Docker Desktop on Windows shares drives there; macOS and Linux engines have no such path)", v.Share)
	case !v.Mounted:
		v.Note = fmt.Sprintf("%s is not mounted %s: a hostPath pod there does not see the drive (only Docker Desktop's own cluster on Windows mounts drives there; other nodes have no such path)", v.Share, where)
	case knowledge.IsShared(v.Propagation):
		v.Note = fmt.Sprintf("%s is mounted (propagation %s): Kubernetes hostPath %s works if the file exists on the host", v.Share, v.Propagation, f.HostPath)
	default:
		v.Note = fmt.Sprintf("%s is mounted but %s: kubelet's namespace may not see it", v.Share, v.Propagation)
	}
	return v
}

func writePath(w io.Writer, f pathmap.Forms, checks pathChecks, output string) error {
	vm := checks.vm
	if output == "json" {
		doc := struct {
			pathmap.Forms
			VM    *vmCheck    `json:"inVM,omitempty"`
			Nodes []nodeCheck `json:"nodes,omitempty"`
		}{f, vm, checks.nodes}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(doc)
	}
	var b strings.Builder
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "%-22s %s\n", k, v)
		}
	}
	row("Windows:", f.Windows)
	row("WSL UNC:", f.UNC)
	if f.BindMount != "" {
		row("docker run -v:", f.BindMount+":/app")
	}
	row("Kubernetes hostPath:", f.HostPath)
	if f.VM != "" {
		row("dockerd's namespace:", f.VM+"  (private bind: Kubernetes cannot use it)")
	}
	row("WSL:", f.WSL)
	row("Note:", f.Note)
	if vm != nil {
		row("In the VM:", vm.Note)
	}
	for _, n := range checks.nodes {
		if n.Error != nil {
			row("On node "+n.Node+":", "no answer: "+n.Error.Message)
		} else {
			row("On node "+n.Node+":", n.Note)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
