package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

func init() { register(newCleanupCmd) }

func newCleanupCmd(g *globalOptions) *cobra.Command {
	var rt runtimeOptions
	cmd := &cobra.Command{
		Use:   "cleanup",
		Short: "Remove every probe container (or, on Kubernetes, probe pod) this tool left behind",
		Long: `cleanup removes every probe this tool started, running or not, whoever
started it: the probe containers on a Docker or containerd engine, or with
--runtime kubernetes the probe pods of the namespace (--kube-namespace,
default dockprobe; only pods labelled app.kubernetes.io/managed-by=dockprobe,
never anyone else's). A probe it cannot remove is a warning; the others go.`,
		Example: `  agent cleanup
  agent cleanup --runtime nerdctl --namespace k8s.io
  agent cleanup --runtime kubernetes --kube-namespace dockprobe`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := rt.open(cmd.Context(), g, launchOptions{warn: cmd.ErrOrStderr(), namespaceOnly: true})
			if err != nil {
				return err
			}
			defer l.Close()
			w := cleanupWords(rt)
			removed, err := l.Cleanup(cmd.Context(), func(name string, err error) {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: remove %s %.63s: %v\n", w.one, name, err)
			})
			if err != nil {
				return err
			}
			return writeCleanup(cmd.OutOrStdout(), w, len(removed))
		},
	}
	rt.addFlags(cmd.Flags())
	return cmd
}

// cleanupWord names what a runtime's probes are, and where they were.
type cleanupWord struct {
	one, many, where string
}

func cleanupWords(rt runtimeOptions) cleanupWord {
	if rt.runtime == RuntimeKube {
		return cleanupWord{one: "pod", many: "probe pod(s)", where: " from namespace " + rt.kube.namespace}
	}
	return cleanupWord{one: "container", many: "probe container(s)"}
}

func writeCleanup(w io.Writer, words cleanupWord, n int) error {
	_, err := fmt.Fprintf(w, "removed %d %s%s\n", n, words.many, words.where)
	return err
}
