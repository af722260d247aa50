package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/dockprobe/dockprobe/agent/internal/probeimage"
	"github.com/dockprobe/dockprobe/internal/version"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

func init() { register(newVersionCmd) }

func newVersionCmd(*globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print the agent's version, protocol and the probe binaries it carries",
		Example: "  agent version",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "agent %s (protocol %d, report schema %d)\n", version.Version, probev1.ProtocolVersion, probev1.SchemaVersion)
			for _, arch := range []string{"amd64", "arm64"} {
				im, err := probeimage.Lookup(arch, version.Version)
				if err != nil {
					fmt.Fprintf(w, "probe linux/%s: not included\n", arch)
					continue
				}
				fmt.Fprintf(w, "probe linux/%s: %s sha256:%s\n", arch, im.Ref, im.Digest)
			}
			return nil
		},
	}
}
