// Package cli is the agent's command line: it turns flags into options and
// options into calls of the packages that do the work (endpoint, launcher
// and its runtimes launch and nerdctl, report). It chooses the runtime in
// one place (runtimeOptions.open); every command then runs the probe
// through a launcher.Launcher without knowing which runtime it is. It is
// the only package that imports the CLI library.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/dockprobe/dockprobe/agent/internal/endpoint"
)

// Stdout and Stderr are where the CLI writes; tests replace them.
var (
	Stdout io.Writer = os.Stdout
	Stderr io.Writer = os.Stderr
)

// processStart is close to the agent's start (package initialisation):
// --debug counts step times from it, so that they show what comes before
// the engine is first called.
var processStart = time.Now()

type globalOptions struct {
	host    string
	context string
	debug   bool
}

func (g *globalOptions) endpoint() (endpoint.Endpoint, error) {
	return endpoint.Resolve(endpoint.Options{Host: g.host, Context: g.context, Getenv: os.Getenv})
}

// endpointWarned is endpoint that also prints the resolution's warnings
// (an unreadable config.json, as the docker CLI warns) to w, one line each.
func (g *globalOptions) endpointWarned(w io.Writer) (endpoint.Endpoint, error) {
	ep, err := g.endpoint()
	if err != nil {
		return ep, err
	}
	for _, msg := range ep.Warnings {
		fmt.Fprintln(w, "warning:", msg)
	}
	return ep, nil
}

// Run executes the agent with args (without the program name).
func Run(ctx context.Context, args []string) error {
	root := newRoot()
	root.SetArgs(args)
	root.SetOut(Stdout)
	root.SetErr(Stderr)
	err := root.ExecuteContext(ctx)
	if err != nil && isCobraUsageError(err) {
		return fmt.Errorf("%w: %w (see `agent --help`)", ErrUsage, err)
	}
	return err
}

func isCobraUsageError(err error) bool {
	if errors.Is(err, ErrUsage) {
		return false
	}
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "invalid argument", "flag needs an argument", "accepts ", "requires at least", "required flag"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

func newRoot() *cobra.Command {
	g := &globalOptions{}
	root := &cobra.Command{
		Use:   "agent",
		Short: "See inside the VM where your Docker engine really runs",
		Long: `agent launches a short-lived, read-only probe container on your Docker engine.
The probe looks at the environment where dockerd really runs (the LinuxKit VM
under Docker Desktop): interfaces, routes, mounts, dockerd's flags and config,
and reports back. Nothing is pulled from a registry.`,
		Example: `  agent probe                          # what the VM looks like, with findings
  agent probe -o json | ConvertFrom-Json  # PowerShell
  agent doctor                         # checks with PASS/WARN/FAIL and fixes
  agent bundle -o diag.zip             # a redacted diagnostics bundle
  agent path 'C:\temp\WebApplication1'   # bind-mount and Kubernetes hostPath forms`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVarP(&g.host, "host", "H", "", "engine endpoint to use (like docker -H); default: the docker CLI's context")
	root.PersistentFlags().StringVarP(&g.context, "context", "c", "", "docker context to use (default: DOCKER_CONTEXT or the current context)")
	root.PersistentFlags().BoolVar(&g.debug, "debug", false, "print the probe's log and error details to stderr")
	for _, newCmd := range commands {
		root.AddCommand(newCmd(g))
	}
	return root
}

// commands are the subcommands; each command's file registers itself in an
// init function, so adding a command touches no shared line.
var commands []func(*globalOptions) *cobra.Command

func register(newCmd func(*globalOptions) *cobra.Command) { commands = append(commands, newCmd) }
