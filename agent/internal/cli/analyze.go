package cli

import probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"

// analyze adds what the agent concludes from the collected facts (findings,
// roles). It runs on every report before rendering, so every output format
// carries the same conclusions.
func analyze(rep *probev1.Report) {}
