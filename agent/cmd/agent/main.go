// Command agent is dockprobe's host-side tool: see `agent --help`.
package main

import (
	"os"

	"github.com/dockprobe/dockprobe/agent/internal/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:])) }
