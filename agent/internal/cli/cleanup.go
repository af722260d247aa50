package cli

import (
	"fmt"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/dockprobe/dockprobe/agent/internal/engine"
	"github.com/dockprobe/dockprobe/agent/internal/launch"
)

func init() { register(newCleanupCmd) }

func newCleanupCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:     "cleanup",
		Short:   "Remove every probe container this tool left on the engine",
		Example: "  agent cleanup",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ep, err := g.endpoint()
			if err != nil {
				return err
			}
			c, err := engine.New(cmd.Context(), ep)
			if err != nil {
				return err
			}
			defer c.Close()
			list, err := c.ContainerList(cmd.Context(), client.ContainerListOptions{
				All:     true,
				Filters: make(client.Filters).Add("label", launch.LabelProbe+"=true"),
			})
			if err != nil {
				return fmt.Errorf("list probe containers: %w", err)
			}
			removed := 0
			for _, ct := range list.Items {
				if _, err := c.ContainerRemove(cmd.Context(), ct.ID, client.ContainerRemoveOptions{Force: true}); err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "warning: remove %.12s: %v\n", ct.ID, err)
					continue
				}
				removed++
			}
			fmt.Fprintf(cmd.OutOrStdout(), "removed %d probe container(s)\n", removed)
			return nil
		},
	}
}
