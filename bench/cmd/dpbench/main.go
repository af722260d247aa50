// Command dpbench is `make bench`: it measures dockprobe against the
// engine's own container lifecycle on the LinuxKit-shaped engine
// (e2e/lkenv) and writes docs/benchmarks.md; the measurements are
// described in package bench.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"github.com/dockprobe/dockprobe/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := bench.Run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "dpbench:", err)
		os.Exit(1)
	}
}
