package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func init() { register(newCompletionCmd) }

// newCompletionCmd replaces cobra's default completion command with one
// whose help shows how to install the script in each shell, PowerShell
// first (the Windows user's shell).
func newCompletionCmd(*globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "completion powershell|bash|zsh|fish",
		Short: "Print the shell completion script for PowerShell, bash, zsh or fish",
		Long: `completion prints a script that teaches your shell agent's commands and flags.
Load it in the current shell, or add the line to your shell's profile.`,
		Example: `  # PowerShell (add to $PROFILE to keep it)
  agent completion powershell | Out-String | Invoke-Expression

  # bash
  source <(agent completion bash)
  agent completion bash > /etc/bash_completion.d/agent

  # zsh
  agent completion zsh > "${fpath[1]}/_agent"

  # fish
  agent completion fish > ~/.config/fish/completions/agent.fish`,
		ValidArgs:             []string{"powershell", "bash", "zsh", "fish"},
		Args:                  cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs),
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			root, w := cmd.Root(), cmd.OutOrStdout()
			switch args[0] {
			case "powershell":
				return root.GenPowerShellCompletionWithDesc(w)
			case "bash":
				return root.GenBashCompletionV2(w, true)
			case "zsh":
				return root.GenZshCompletion(w)
			case "fish":
				return root.GenFishCompletion(w, true)
			}
			return fmt.Errorf("%w: unknown shell %q", ErrUsage, args[0])
		},
	}
}
