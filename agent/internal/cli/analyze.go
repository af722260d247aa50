package cli

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"github.com/dockprobe/dockprobe/agent/internal/checks"
	"github.com/dockprobe/dockprobe/agent/internal/hostnet"
	"github.com/dockprobe/dockprobe/agent/internal/hostproxy"
	"github.com/dockprobe/dockprobe/agent/internal/knowledge"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// analyze adds what the agent concludes from the collected facts (findings,
// roles). It runs on every report before rendering, so every output format
// carries the same conclusions.
func analyze(rep *probev1.Report) { analyzeWith(rep, nil) }

// analyzeWith is analyze with the engine's container names (id -> name),
// which name the veths; nil leaves them named by container id.
func analyzeWith(rep *probev1.Report, names map[string]string) {
	if rep.Host == nil {
		rep.Host = collectHost()
	}
	knowledge.Analyze(rep, names)
	rep.Findings = checks.Run(rep)
}

// collectHost reads this machine's interfaces, routes and Docker Desktop's
// settings file.
func collectHost() *probev1.Host {
	h := hostnet.Collect()
	h.DesktopSettings = readDesktopSettings()
	h.Proxies = hostproxy.Collect(os.Getenv)
	return h
}

// readDesktopSettings reads settings-store.json (or settings.json, its
// name up to Docker Desktop 4.34) from the user's Docker Desktop folder.
func readDesktopSettings() *probev1.DesktopSettings {
	home, _ := os.UserHomeDir()
	file := knowledge.SettingsFile(runtime.GOOS, home, os.Getenv("APPDATA"))
	s := &probev1.DesktopSettings{Path: file}
	for _, name := range []string{file, filepath.Join(filepath.Dir(file), "settings.json")} {
		f, err := os.Open(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		s.Path = name
		if err != nil {
			s.Error = err.Error()
			return s
		}
		defer f.Close()
		s.Found = true
		v, err := knowledge.ParseSettings(f)
		if err != nil {
			s.Error = err.Error()
		}
		s.Values = v
		return s
	}
	return s
}
