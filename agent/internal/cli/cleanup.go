package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func init() { register(newCleanupCmd) }

func newCleanupCmd(g *globalOptions) *cobra.Command {
	var rt runtimeOptions
	cmd := &cobra.Command{
		Use:   "cleanup",
		Short: "Remove every probe container this tool left on the engine",
		Example: `  agent cleanup
  agent cleanup --runtime nerdctl --namespace k8s.io`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := rt.open(cmd.Context(), g, launchOptions{warn: cmd.ErrOrStderr()})
			if err != nil {
				return err
			}
			defer l.Close()
			removed, err := l.Cleanup(cmd.Context(), func(name string, err error) {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: remove %.30s: %v\n", name, err)
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "removed %d probe container(s)\n", len(removed))
			return nil
		},
	}
	rt.addFlags(cmd.Flags())
	return cmd
}
