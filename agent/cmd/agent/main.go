// Command agent is dockprobe's host-side tool: see `agent --help`.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"github.com/dockprobe/dockprobe/agent/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := cli.Run(ctx, os.Args[1:])
	stop()
	if err != nil && !cli.Silent(err) {
		fmt.Fprintln(cli.Stderr, "agent:", err)
	}
	os.Exit(cli.ExitCode(err))
}
