package nerdctl

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/dockprobe/dockprobe/agent/internal/engine"
	"github.com/dockprobe/dockprobe/agent/internal/launch"
	"github.com/dockprobe/dockprobe/agent/internal/launcher"
	"github.com/dockprobe/dockprobe/agent/internal/probeimage"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// Runtime is the nerdctl launcher's runtime name.
const Runtime = "nerdctl"

// Config of a nerdctl launcher.
type Config struct {
	// Binary is the nerdctl binary; empty looks nerdctl up on PATH.
	Binary string
	// Address and Namespace are nerdctl's --address and --namespace.
	Address, Namespace string
	// NoSweep leaves earlier runs' debris alone (tests that must prove
	// each run cleans up after itself).
	NoSweep bool
	// Progress, when set, hears what only --debug shows.
	Progress func(string)
}

// Launcher is the launcher.Launcher of a containerd host, through nerdctl.
type Launcher struct {
	c   *Client
	cfg Config
	// ctx is Open's: the after-run sweep ends with the run's context.
	ctx      context.Context
	facts    *probev1.Engine
	factErrs []*probev1.SectionError

	mu      sync.Mutex
	started bool
}

var _ launcher.Launcher = (*Launcher)(nil)

// Open finds nerdctl and asks containerd about itself; a containerd that
// does not answer (neither version nor info) gives an error matching
// engine.ErrEngineUnreachable. The facts are kept: Start needs the
// engine's architecture, and Facts returns them.
func Open(ctx context.Context, cfg Config) (*Launcher, error) {
	bin, err := Find(cfg.Binary)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", engine.ErrEngineUnreachable, err)
	}
	l := &Launcher{c: &Client{Path: bin, Address: cfg.Address, Namespace: cfg.Namespace}, cfg: cfg, ctx: ctx}
	l.step("nerdctl facts")
	l.facts, l.factErrs = Facts(ctx, l.c)
	if l.facts.GetServerVersion() == "" {
		msg := "containerd did not answer"
		if len(l.factErrs) > 0 {
			msg = l.factErrs[0].GetMessage()
		}
		return nil, fmt.Errorf("%w: %s: %s", engine.ErrEngineUnreachable, l.c.Describe(), msg)
	}
	return l, nil
}

func (l *Launcher) step(s string) {
	if l.cfg.Progress != nil {
		l.cfg.Progress(s)
	}
}

// Runtime implements launcher.Launcher.
func (l *Launcher) Runtime() string { return Runtime }

// Facts implements launcher.Launcher: the facts Open read.
func (l *Launcher) Facts(context.Context) (*probev1.Engine, []*probev1.SectionError) {
	return l.facts, l.factErrs
}

// Start implements launcher.Launcher: the probe image is loaded when
// containerd lacks it, then `nerdctl run -i --rm` runs the probe, guarded
// by a watchdog shell that removes the container if the agent dies.
// Prefetch is ignored: through nerdctl the probe chooses its target on
// the first request.
func (l *Launcher) Start(ctx context.Context, o launcher.Options) (launcher.Session, error) {
	facts := l.facts
	arch, ok := engine.GOARCH(facts.GetArchitecture())
	if !ok {
		if facts.GetArchitecture() != "" {
			return nil, fmt.Errorf("%w: the engine's architecture %q", probeimage.ErrNoBinary, facts.GetArchitecture())
		}
		arch = runtime.GOARCH // info failed; nerdctl runs where containerd does
	}
	im, err := probeimage.Lookup(arch, o.Version)
	if err != nil {
		return nil, err
	}
	if o.OnImage != nil {
		o.OnImage(im.Ref)
	}
	o.Step("image " + im.Ref)
	if loaded, err := l.c.EnsureImage(ctx, im, o.Version); err != nil {
		return nil, err
	} else if loaded {
		o.Step("image loaded")
	}
	l.mu.Lock()
	l.started = true
	l.mu.Unlock()
	o.Prefetch = false
	return start(ctx, l.c, launch.Options{Options: o, Image: im})
}

// Ping implements launcher.Launcher: containerd answers `nerdctl version`.
func (l *Launcher) Ping(ctx context.Context) error {
	_, err := l.c.Version(ctx)
	return err
}

// Sweep implements launcher.Launcher.
func (l *Launcher) Sweep(ctx context.Context, now time.Time) ([]string, error) {
	return Sweep(ctx, l.c, now)
}

// Cleanup implements launcher.Launcher.
func (l *Launcher) Cleanup(ctx context.Context, warn func(name string, err error)) ([]string, error) {
	out, err := l.c.run(ctx, nil, "ps", "-a", "--filter", "label="+launch.LabelProbe, "--format", "{{json .}}")
	if err != nil {
		return nil, fmt.Errorf("list probe containers: %w", err)
	}
	all, err := probeNames(out, func(map[string]string) bool { return true })
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, name := range all {
		if _, err := l.c.run(ctx, nil, "rm", "-f", name); err != nil && !strings.Contains(strings.ToLower(err.Error()), "no such container") {
			warn(name, err)
			continue
		}
		removed = append(removed, name)
	}
	return removed, nil
}

// ContainerNames implements launcher.Launcher.
func (l *Launcher) ContainerNames(ctx context.Context) map[string]string {
	out, err := l.c.run(ctx, nil, "ps", "--no-trunc", "--format", "{{json .}}")
	if err != nil {
		return nil
	}
	names := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		var ps struct{ ID, Names string }
		if json.Unmarshal([]byte(strings.TrimSpace(line)), &ps) == nil && ps.ID != "" && ps.Names != "" {
			names[ps.ID] = ps.Names
		}
	}
	return names
}

// Answers implements launcher.Launcher: nerdctl's version, info and
// network list as it printed them.
func (l *Launcher) Answers(ctx context.Context) []launcher.Answer {
	answer := func(name string, lines bool, sub ...string) launcher.Answer {
		a := launcher.Answer{Name: name, Producer: "nerdctl " + strings.Join(sub, " ")}
		out, err := l.c.run(ctx, nil, sub...)
		if err == nil && lines {
			out, err = jsonLines(out)
		}
		if err == nil {
			var b bytes.Buffer
			if err = json.Indent(&b, out, "", "  "); err == nil {
				a.JSON = append(b.Bytes(), '\n')
			}
		}
		a.Err = err
		return a
	}
	return []launcher.Answer{
		answer("engine/version", false, "version", "--format", "{{json .}}"),
		answer("engine/info", false, "info", "--format", "{{json .}}"),
		answer("engine/networks", true, "network", "ls", "--format", "{{json .}}"),
	}
}

// Usage implements launcher.Launcher: nerdctl has no disk usage or
// container-state answer the checks could read.
func (l *Launcher) Usage(context.Context) *probev1.EngineUsage { return nil }

// Close implements launcher.Launcher: debris of earlier runs whose nerdctl
// died is removed after this launcher's runs, not beside them: a `nerdctl
// rm` racing a `nerdctl run` in the same namespace made the run fail
// ("container not found"). A failing sweep is only worth a debug line.
func (l *Launcher) Close() error {
	l.mu.Lock()
	started := l.started
	l.mu.Unlock()
	if !started || l.cfg.NoSweep {
		return nil
	}
	if gone, err := Sweep(l.ctx, l.c, time.Now()); err != nil || len(gone) > 0 {
		l.step(fmt.Sprintf("stale probes removed: %d (%v)", len(gone), err))
	}
	return nil
}

// jsonLines turns nerdctl's one JSON object per line into one array.
func jsonLines(out []byte) ([]byte, error) {
	var items []json.RawMessage
	for _, line := range bytes.Split(out, []byte("\n")) {
		if line = bytes.TrimSpace(line); len(line) > 0 {
			items = append(items, line)
		}
	}
	return json.Marshal(items)
}
