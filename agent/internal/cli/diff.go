package cli

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/dockprobe/dockprobe/agent/internal/diff"
	"github.com/dockprobe/dockprobe/agent/internal/redact"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// ErrDiffers is returned by `agent diff` when the reports differ (exit
// ExitDiffers); the differences are already printed, so it is Silent.
var ErrDiffers = errors.New("the reports differ")

type diffOptions struct {
	output string
}

func init() { register(newDiffCmd) }

func newDiffCmd(*globalOptions) *cobra.Command {
	o := &diffOptions{}
	cmd := &cobra.Command{
		Use:   "diff A B",
		Short: "Compare two reports or bundles (e.g. before and after a VPN connects)",
		Long: `diff compares two reports (agent probe -o json) or bundles (agent bundle) and
lists added, removed and changed interfaces, addresses, routes, mounts, dockerd
flags, Docker networks, findings and engine facts. Two cluster reports
(agent probe --runtime kubernetes -o json, or cluster bundles) are compared
node by node: nodes added or removed, a node's state, and each node's report
with its kubelet's flags and config and its CNI networks.

Exit status: 0 when they are the same, 12 when they differ, another code when
a file cannot be read.`,
		Example: `  agent probe -o json > before.json   # connect the VPN, then
  agent probe -o json > after.json
  agent diff before.json after.json
  agent diff before.zip after.zip -o json`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.output != "text" && o.output != "json" {
				return fmt.Errorf("%w: --output must be text or json, got %q", ErrUsage, o.output)
			}
			// Reports from elsewhere are redacted again before anything
			// of them is printed.
			scrub := redact.New(nil)
			var res diff.Result
			res.A, res.B = args[0], args[1]
			ca, aCluster, err := loadCluster(args[0])
			if err != nil {
				return err
			}
			cb, bCluster, err := loadCluster(args[1])
			if err != nil {
				return err
			}
			switch {
			case aCluster && bCluster:
				// Node by node.
				res.Changes = diff.CompareClusters(scrub.Cluster(ca), scrub.Cluster(cb))
			case aCluster != bCluster:
				cl, single := args[0], args[1]
				if bCluster {
					cl, single = args[1], args[0]
				}
				return fmt.Errorf("%w: %s is a cluster report and %s is not: compare a cluster report with a cluster report", ErrUsage, cl, single)
			default:
				a, err := loadReport(args[0])
				if err != nil {
					return err
				}
				b, err := loadReport(args[1])
				if err != nil {
					return err
				}
				res.Changes = diff.Compare(scrub.Report(a), scrub.Report(b))
			}
			res.Differ = len(res.Changes) > 0
			w := cmd.OutOrStdout()
			if o.output == "json" {
				err = diff.JSON(w, res)
			} else {
				err = diff.Text(w, res)
			}
			if err != nil {
				return err
			}
			if res.Differ {
				return ErrDiffers
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&o.output, "output", "o", "text", "output format: text or json")
	return cmd
}

// loadCluster reads name as a cluster report; ok is false when it is not
// one.
func loadCluster(name string) (*probev1.ClusterReport, bool, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, false, fmt.Errorf("%w: %w", ErrUsage, err)
	}
	r, ok, err := diff.LoadCluster(data)
	if err != nil {
		return nil, ok, fmt.Errorf("%w: %s: %w", ErrUsage, name, err)
	}
	return r, ok, nil
}

func loadReport(name string) (*probev1.Report, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUsage, err)
	}
	r, err := diff.Load(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrUsage, name, err)
	}
	return r, nil
}
