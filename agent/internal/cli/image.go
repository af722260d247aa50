package cli

import (
	"github.com/spf13/cobra"

	"github.com/dockprobe/dockprobe/agent/internal/imagesave"
)

func init() { register(newImageCmd) }

// newImageCmd is `agent image save|push`: the probe image for nodes that
// cannot be given it through an engine's API (Kubernetes). The flags are
// imagesave's own, so cobra passes everything through.
func newImageCmd(*globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "image save -o FILE [--arch amd64|arm64] | image push REF [--arch amd64|arm64]",
		Short: "Write the embedded probe image as an archive, or push it to a registry you control",
		Long: `agent image save writes the probe image this agent carries as an archive that
ctr -n k8s.io images import and docker load accept: load it on each node, then
agent probe --runtime kubernetes uses it with imagePullPolicy Never.
agent image push REF pushes it (every architecture this agent carries) to a
registry you control, for --image REF.`,
		Example: `  agent image save -o probe.tar
  agent image save -o probe-arm64.tar --arch arm64
  agent image push registry.example/dockprobe/probe:v1`,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, a := range args {
				if a == "-h" || a == "--help" {
					return cmd.Help()
				}
			}
			// imagesave.ErrUsage exits 2 like ErrUsage (ExitCode).
			return imagesave.RunImage(cmd.Context(), args, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
}
