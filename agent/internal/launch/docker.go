package launch

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/client"

	"github.com/dockprobe/dockprobe/agent/internal/endpoint"
	"github.com/dockprobe/dockprobe/agent/internal/engine"
	"github.com/dockprobe/dockprobe/agent/internal/launcher"
	"github.com/dockprobe/dockprobe/agent/internal/probeimage"
	"github.com/dockprobe/dockprobe/agent/internal/reaper"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// RuntimeDocker is the Docker launcher's runtime name.
const RuntimeDocker = "docker"

// SweepLabels are the labels the sweep reads (ContainerConfig writes them).
var SweepLabels = reaper.Labels{
	Probe: LabelProbe, AgentPID: LabelAgentPID,
	AgentHost: LabelAgentHost, Deadline: LabelDeadline,
}

// Config of a Docker launcher.
type Config struct {
	Endpoint endpoint.Endpoint
	// Watchdog spawns each probe's cleanup watchdog; nil runs without one
	// (the probe still ends on stdin EOF and AutoRemove removes it).
	Watchdog Spawner
	// Deadline, with Watchdog, spawns the first probe's watchdog at once,
	// beside the engine's ping, for a probe with this deadline: the create
	// then does not wait for it.
	Deadline time.Duration
	// Debug, when set, hears what only --debug shows (no watchdog).
	Debug io.Writer
}

// Docker is the launcher.Launcher of a Docker engine, through its API.
type Docker struct {
	cfg Config
	c   *client.Client

	mu       sync.Mutex
	pre      *watchdog // spawned by Open, for the first Start
	leftover []string  // probes to remove once the engine answers again
	// seen is what the engine answered during this run (/version from
	// Start, /info and /networks from Facts): Facts does not ask /version
	// again, and Answers (a bundle's engine/*.json) reuses all three,
	// which are then from the same moment as the report.
	seen recorded
}

// recorded is the engine's answers of one run, kept as the API gave them.
type recorded struct {
	version  *client.ServerVersionResult
	info     *client.SystemInfoResult
	networks *client.NetworkListResult
}

// recorder is the engine's client with /version answered from an earlier
// call of the same run when there was one (the engine cannot change
// version without a restart, which would end the run anyway), and /info
// and /networks recorded as they are answered. Embedding the client keeps
// what engine.Facts needs beyond the API (the raw re-read of /info).
type recorder struct {
	*client.Client
	d *Docker
}

func (r recorder) ServerVersion(ctx context.Context, o client.ServerVersionOptions) (client.ServerVersionResult, error) {
	r.d.mu.Lock()
	v := r.d.seen.version
	r.d.mu.Unlock()
	if v != nil {
		return *v, nil
	}
	res, err := r.Client.ServerVersion(ctx, o)
	if err == nil {
		r.d.mu.Lock()
		r.d.seen.version = &res
		r.d.mu.Unlock()
	}
	return res, err
}

func (r recorder) Info(ctx context.Context, o client.InfoOptions) (client.SystemInfoResult, error) {
	res, err := r.Client.Info(ctx, o)
	if err == nil {
		r.d.mu.Lock()
		r.d.seen.info = &res
		r.d.mu.Unlock()
	}
	return res, err
}

func (r recorder) NetworkList(ctx context.Context, o client.NetworkListOptions) (client.NetworkListResult, error) {
	res, err := r.Client.NetworkList(ctx, o)
	if err == nil {
		r.d.mu.Lock()
		r.d.seen.networks = &res
		r.d.mu.Unlock()
	}
	return res, err
}

var _ launcher.Launcher = (*Docker)(nil)

// Open connects to the engine (a ping, which negotiates the API version).
// An engine that cannot be reached gives an error matching
// engine.ErrEngineUnreachable.
func Open(ctx context.Context, cfg Config) (*Docker, error) {
	d := &Docker{cfg: cfg}
	if cfg.Watchdog != nil && cfg.Deadline > 0 {
		d.pre = startWatchdog(cfg.Watchdog, cfg.Deadline, cfg.Debug)
	}
	c, err := engine.New(ctx, cfg.Endpoint)
	if err != nil {
		d.pre.finish()
		return nil, err
	}
	d.c = c
	return d, nil
}

// API is the engine's client, for what only Docker has.
func (d *Docker) API() *client.Client { return d.c }

// Runtime implements launcher.Launcher.
func (d *Docker) Runtime() string { return RuntimeDocker }

// Facts implements launcher.Launcher (engine.Facts).
// /version comes from Start's own call when there was one: on a small VM
// every request the engine serves while the probe starts delays it.
func (d *Docker) Facts(ctx context.Context) (*probev1.Engine, []*probev1.SectionError) {
	return engine.Facts(ctx, recorder{Client: d.c, d: d}, d.cfg.Endpoint)
}

// Ping implements launcher.Launcher. Once the engine answers again, the
// probes it could not remove while it was away are removed.
func (d *Docker) Ping(ctx context.Context) error {
	if _, err := d.c.Ping(ctx, client.PingOptions{}); err != nil {
		return err
	}
	d.mu.Lock()
	left := d.leftover
	d.leftover = nil
	d.mu.Unlock()
	for _, id := range left {
		d.remove(id)
	}
	return nil
}

// Sweep implements launcher.Launcher (reaper.Sweep). A run's own sweep is
// its watchdog's, off the agent's path.
func (d *Docker) Sweep(ctx context.Context, now time.Time) ([]string, error) {
	return reaper.Sweep(ctx, d.c, SweepLabels, "", now, reaper.Alive)
}

// Cleanup implements launcher.Launcher.
func (d *Docker) Cleanup(ctx context.Context, warn func(name string, err error)) ([]string, error) {
	list, err := d.c.ContainerList(ctx, client.ContainerListOptions{
		All:     true,
		Filters: make(client.Filters).Add("label", LabelProbe+"=true"),
	})
	if err != nil {
		return nil, fmt.Errorf("list probe containers: %w", err)
	}
	var removed []string
	for _, ct := range list.Items {
		name := ct.ID
		if len(ct.Names) > 0 {
			name = strings.TrimPrefix(ct.Names[0], "/")
		}
		if _, err := d.c.ContainerRemove(ctx, ct.ID, client.ContainerRemoveOptions{Force: true}); err != nil {
			warn(name, err)
			continue
		}
		removed = append(removed, name)
	}
	return removed, nil
}

// ContainerNames implements launcher.Launcher.
func (d *Docker) ContainerNames(ctx context.Context) map[string]string {
	list, err := d.c.ContainerList(ctx, client.ContainerListOptions{})
	if err != nil {
		return nil
	}
	out := map[string]string{}
	for _, ct := range list.Items {
		if len(ct.Names) > 0 {
			out[ct.ID] = strings.TrimPrefix(ct.Names[0], "/")
		}
	}
	return out
}

// Answers implements launcher.Launcher: /version, /info and /networks as
// the API gave them. Those this run already asked (Start, Facts) are not
// asked again; the others are asked in parallel (a bundle waits for them
// after the report).
func (d *Docker) Answers(ctx context.Context) []launcher.Answer {
	answer := func(name, producer string, v any, err error) launcher.Answer {
		a := launcher.Answer{Name: name, Producer: producer, Err: err}
		if err == nil {
			a.JSON, a.Err = json.MarshalIndent(v, "", "  ")
			a.JSON = append(a.JSON, '\n')
		}
		return a
	}
	d.mu.Lock()
	seen := d.seen
	d.mu.Unlock()
	var (
		wg               sync.WaitGroup
		ver              client.ServerVersionResult
		info             client.SystemInfoResult
		nets             client.NetworkListResult
		verr, ierr, nerr error
	)
	if seen.version != nil {
		ver = *seen.version
	} else {
		wg.Go(func() { ver, verr = d.c.ServerVersion(ctx, client.ServerVersionOptions{}) })
	}
	if seen.info != nil {
		info = *seen.info
	} else {
		wg.Go(func() { info, ierr = d.c.Info(ctx, client.InfoOptions{}) })
	}
	if seen.networks != nil {
		nets = *seen.networks
	} else {
		wg.Go(func() { nets, nerr = d.c.NetworkList(ctx, client.NetworkListOptions{}) })
	}
	wg.Wait()
	return []launcher.Answer{
		answer("engine/version", "engine API GET /version", ver, verr),
		answer("engine/info", "engine API GET /info", info.Info, ierr),
		answer("engine/networks", "engine API GET /networks", nets.Items, nerr),
	}
}

// Usage implements launcher.Launcher (engine.Usage).
func (d *Docker) Usage(ctx context.Context) *probev1.EngineUsage {
	return engine.Usage(ctx, d.c, engine.DFDeadline)
}

// Close implements launcher.Launcher: a watchdog spawned for a Start that
// never came exits without touching the engine.
func (d *Docker) Close() error {
	d.mu.Lock()
	pre := d.pre
	d.pre = nil
	d.mu.Unlock()
	pre.finish()
	if d.c != nil {
		return d.c.Close()
	}
	return nil
}

// remove force-removes a probe; an engine that does not answer (dockerd
// restarting) gets it removed at the next successful Ping.
func (d *Docker) remove(idOrName string) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	_, err := d.c.ContainerRemove(ctx, idOrName, client.ContainerRemoveOptions{Force: true})
	if err != nil && client.IsErrConnectionFailed(err) {
		d.mu.Lock()
		d.leftover = append(d.leftover, idOrName)
		d.mu.Unlock()
		return
	}
	warnRemove(idOrName, err)
}

// watchdog returns the watchdog of the next Start: the one Open spawned,
// else a new one; nil without Config.Watchdog.
func (d *Docker) watchdog(deadline time.Duration) *watchdog {
	d.mu.Lock()
	pre := d.pre
	d.pre = nil
	d.mu.Unlock()
	if pre != nil {
		return pre
	}
	if d.cfg.Watchdog == nil {
		return nil
	}
	return startWatchdog(d.cfg.Watchdog, deadline, d.cfg.Debug)
}

// Start implements launcher.Launcher on the fast path: the container is
// created at once from the image under our tag (the tag does not depend
// on the architecture), while /version (the engine's OS and architecture)
// and the image's inspect are asked beside it; the create is kept only
// when the tag holds exactly the probe this agent carries for the
// engine's architecture. Otherwise (image absent, stale content under our
// tag, a Windows engine) the never-started container is discarded and the
// slow path loads the image and creates again, as if nothing had been
// tried. o.Starting runs just before the start; the watchdog (spawned by
// Open, or now) removes the container if the agent dies from the create
// on.
func (d *Docker) Start(ctx context.Context, o launcher.Options) (_ launcher.Session, err error) {
	c := d.c
	wd := d.watchdog(o.Deadline)
	defer func() {
		if err != nil {
			wd.finish()
		}
	}()
	type inspected struct {
		res client.ImageInspectResult
		err error
	}
	ref := probeimage.Repository + ":" + probeimage.Tag(o.Version)
	inspectc := make(chan inspected, 1)
	go func() {
		res, err := c.ImageInspect(ctx, ref)
		inspectc <- inspected{res, err}
	}()
	type versioned struct {
		res client.ServerVersionResult
		err error
	}
	versionc := make(chan versioned, 1)
	go func() {
		res, err := c.ServerVersion(ctx, client.ServerVersionOptions{})
		versionc <- versioned{res, err}
	}()
	opts := Options{Options: o}
	var guard *reaper.Guard
	if wd != nil {
		opts.Name = wd.name
		guard = wd.get()
		o.Step(fmt.Sprintf("watchdog ready (spawned in %s)", wd.spawned.Round(10*time.Microsecond)))
		wd.created = true
	}
	if opts.Name == "" {
		opts.Name = NewName()
	}
	eo := opts
	eo.Image = &probeimage.Image{Ref: ref}
	// A failed early create removes itself by name, synchronously: the
	// name must be free for the slow path.
	early, earlyErr := Create(ctx, c, eo)
	discard := func() {
		if early != nil {
			early.Discard()
			early = nil
		}
	}

	vres := <-versionc
	ver, err := vres.res, vres.err
	if err != nil {
		discard()
		return nil, fmt.Errorf("%w: read the engine version: %w", engine.ErrEngineUnreachable, err)
	}
	d.mu.Lock()
	d.seen.version = &ver
	d.mu.Unlock()
	if strings.EqualFold(ver.Os, "windows") {
		discard()
		return nil, fmt.Errorf("%w: switch Docker Desktop to Linux containers (right-click the whale icon, \"Switch to Linux containers...\") and retry", launcher.ErrNotLinuxEngine)
	}
	arch, ok := engine.GOARCH(ver.Arch)
	if !ok {
		discard()
		return nil, fmt.Errorf("%w: the engine's architecture %q", probeimage.ErrNoBinary, ver.Arch)
	}
	im, err := probeimage.Lookup(arch, o.Version)
	if err != nil {
		discard()
		return nil, err
	}
	if o.OnImage != nil {
		o.OnImage(im.Ref)
	}
	o.Step("image " + im.Ref)
	in := <-inspectc
	exact := in.err == nil && in.res.Config != nil && in.res.Config.Labels[probeimage.LabelContent] == im.Digest
	if early != nil && !exact {
		o.Step("early create discarded (image absent, or not this agent's probe for " + arch + ")")
		discard()
	}
	if early == nil && earlyErr != nil && exact {
		// The create itself was refused (Enhanced Container Isolation,
		// a policy, a name clash): the slow path would only repeat it.
		return nil, earlyErr
	}
	opts.Image = im
	s := early
	if s == nil {
		if _, err := EnsureInspected(ctx, c, im, o.Version, in.res, in.err); err != nil {
			return nil, err
		}
		if guard != nil {
			opts.Remove = func(string) { guard.Remove() }
		}
		if s, err = Create(ctx, c, opts); err != nil {
			return nil, err
		}
	}
	if guard != nil {
		// Removal after a failure is the watchdog's job: the agent
		// reports and exits without waiting for the engine.
		s.SetRemove(func(string) { guard.Remove() })
	} else {
		s.SetRemove(d.remove)
	}
	if err := s.Begin(ctx, opts); err != nil {
		return nil, err
	}
	return &dockerSession{s: s, wd: wd, opts: opts}, nil
}

// dockerSession is a started probe container and its watchdog.
type dockerSession struct {
	s    *Session
	wd   *watchdog
	opts Options
}

func (ds *dockerSession) Handshake(ctx context.Context) (*probev1.HandshakeResponse, error) {
	if err := ds.s.Handshake(ctx, ds.opts); err != nil {
		return nil, err
	}
	return ds.s.Hello, nil
}

func (ds *dockerSession) Collect(ctx context.Context, req *probev1.CollectRequest) (*probev1.Report, error) {
	return ds.s.Collect(ctx, req)
}

func (ds *dockerSession) Watch(ctx context.Context, req *probev1.WatchRequest) (probev1.Watch_WatchClient, error) {
	return ds.s.Client.Watch(ctx, req)
}

// Close hangs up; the watchdog checks that AutoRemove did its job.
func (ds *dockerSession) Close() error {
	if ds.wd != nil {
		ds.wd.ok = true
	}
	err := ds.s.Close()
	ds.wd.finish()
	return err
}

// Abort has the container removed: by the watchdog when there is one.
func (ds *dockerSession) Abort() {
	ds.s.Abort()
	ds.wd.finish()
}
