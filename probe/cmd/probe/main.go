// Command probe is the dockprobe probe: a static, read-only collector that
// runs in a short-lived container and answers the agent over stdin/stdout.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/dockprobe/dockprobe/probe/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	in, out := cli.Stdio()
	err := cli.Run(ctx, os.Args[1:], in, out, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "probe:", err)
	}
	os.Exit(cli.ExitCode(err))
}
