// Package bench is dockprobe's benchmark harness (`make bench`): it runs the
// real agent against the LinuxKit-shaped engine (e2e/lkenv/lkenv.sh), once
// with Debian's Docker 20.10 and once with today's engine (dockerd v29,
// containerd 2, runc 1.5, from e2e/tools/install-engine.sh),
// side by side with the floor (`docker run --rm --network none` of a no-op
// FROM scratch image on the same engine) and the bare-client bound (dpbare:
// the agent's own create, attach, start and one gRPC call) and `agent bundle`,
// measures the probe's collection
// time and footprint, the watch mode's latency and idle cost, and the
// collection's growth with size; then, on the e2e harness's real two-node
// Kubernetes cluster (e2e/k8s), `agent probe --runtime kubernetes --node N`
// against `kubectl run --rm -i` of a no-op pod on the same node (kube.go);
// and writes docs/benchmarks.md (`-only kubernetes` measures that last part
// alone and merges it into the file).
//
// The machines it runs on are shared and noisy, so it reports medians and
// per-pair ratios of alternating runs rather than absolute times alone.
// It is not a test: nothing here runs in `make test`.
package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type options struct {
	agent    string
	bare     string
	lkenv    string
	netns    string
	state    string
	curBin   string
	engines  string
	pairs    int
	cold     int
	watchN   int
	idle     time.Duration
	out      string
	scale    bool
	restart  bool
	keepUp   bool
	noopTag  string
	verbose  bool
	quick    bool
	repoRoot string

	kube      bool
	only      string
	k8sRounds int
	k8sID     string
}

// Run parses args and runs every measurement.
func Run(ctx context.Context, args []string) error {
	var o options
	fs := flag.NewFlagSet("dpbench", flag.ContinueOnError)
	fs.StringVar(&o.agent, "agent", "bin/agent", "the agent binary to measure")
	fs.StringVar(&o.bare, "bare", "bin/dpbare", "the bare-client bound (agent/cmd/dpbare), built with the agent's version")
	fs.StringVar(&o.lkenv, "lkenv", "e2e/lkenv/lkenv.sh", "the LinuxKit-shaped engine's script")
	fs.StringVar(&o.netns, "netns", envOr("LK_NETNS", "dp-bench"), "LK_NETNS prefix for the engines, -deb or -cur is appended (default from $LK_NETNS)")
	fs.StringVar(&o.state, "state", envOr("LK_STATE", "/var/lib/dp-bench"), "LK_STATE prefix for the engines (default from $LK_STATE)")
	fs.StringVar(&o.curBin, "current-bin", "", "today's engine's binaries (the directory e2e/tools/install-engine.sh prints)")
	fs.StringVar(&o.engines, "engines", "deb,cur", "which engines to measure: deb (the system's Docker 20.10), cur (today's, needs -current-bin)")
	fs.IntVar(&o.pairs, "pairs", 16, "rounds of alternating (a)/(b)/(e)/(f)/(g)")
	fs.IntVar(&o.cold, "cold", 6, "alternating (c)/(a) pairs (image absent vs present)")
	fs.IntVar(&o.watchN, "watch", 4, "rounds of watch changes (8 changes per round)")
	fs.DurationVar(&o.idle, "idle", 10*time.Second, "idle window for the watching probe's CPU")
	fs.StringVar(&o.out, "out", "docs/benchmarks.md", "where to write the results")
	fs.BoolVar(&o.scale, "scale", true, "run the scale benchmark (go test -bench in probe/internal/collect)")
	fs.BoolVar(&o.restart, "restart", true, "measure a dockerd restart seen by the watch")
	fs.BoolVar(&o.keepUp, "keep-up", false, "leave the engine running afterwards")
	fs.StringVar(&o.noopTag, "noop", "dockprobe-bench/noop:1", "tag of the no-op image built for the floor")
	fs.BoolVar(&o.verbose, "v", false, "log every run")
	fs.BoolVar(&o.quick, "quick", false, "only the alternating rounds (a)/(b)/(e)/(f)/(g), for comparing changes (the other targets then read not met)")
	fs.BoolVar(&o.kube, "kubernetes", true, "measure (k): agent probe --runtime kubernetes against kubectl run --rm -i, on a two-node cluster of e2e/k8s")
	fs.StringVar(&o.only, "only", "", "measure one part alone: kubernetes ((k) only; its section and Targets row are merged into -out, the rest of the file is kept)")
	fs.IntVar(&o.k8sRounds, "k8s-rounds", 12, "rounds of alternating (k)/kubectl")
	fs.StringVar(&o.k8sID, "k8s-id", envOr("DOCKPROBE_E2E_ID", "dpbench"), "DOCKPROBE_E2E_ID of the bench's cluster: names its namespaces, cgroups, state and nodes (default from $DOCKPROBE_E2E_ID)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch o.only {
	case "":
	case "kubernetes":
		o.engines, o.scale, o.kube = "", false, true
	default:
		return fmt.Errorf("-only: unknown part %q (kubernetes)", o.only)
	}
	if o.k8sRounds < 1 {
		return errors.New("-k8s-rounds must be at least 1")
	}
	if os.Geteuid() != 0 {
		return errors.New("needs root: it starts dockerd and kubelets in their own namespaces")
	}
	wd, _ := os.Getwd()
	o.repoRoot = wd
	for _, p := range []*string{&o.agent, &o.bare, &o.lkenv, &o.out} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return err
		}
		*p = abs
	}

	s := &suite{o: o, date: time.Now().UTC()}
	for _, tag := range strings.Split(o.engines, ",") {
		if tag != "" && s.benches == nil {
			if _, err := os.Stat(o.bare); err != nil {
				return fmt.Errorf("the bare-client bound: %w (build it with `make bench`)", err)
			}
		}
		switch tag {
		case "":
		case "deb":
			s.benches = append(s.benches, &bench{o: o, spec: engineSpec{tag: "deb"}, res: &results{}})
		case "cur":
			if o.curBin == "" {
				return errors.New("today's engine needs -current-bin (e2e/tools/install-engine.sh prints it), or leave it out with -engines deb")
			}
			if _, err := os.Stat(filepath.Join(o.curBin, "dockerd")); err != nil {
				return fmt.Errorf("today's engine: %w (run e2e/tools/install-engine.sh)", err)
			}
			s.benches = append(s.benches, &bench{o: o, spec: engineSpec{tag: "cur", bin: o.curBin}, res: &results{}})
		default:
			return fmt.Errorf("-engines: unknown engine %q (deb, cur)", tag)
		}
	}
	if o.kube {
		s.kube = &kubeBench{o: o, res: &kubeResults{}}
	}
	if s.benches == nil && s.kube == nil {
		return errors.New("nothing to measure: -engines is empty and -kubernetes=false")
	}
	return s.run(ctx)
}

// engineSpec says which engine a bench runs against: the system's
// dockerd and containerd (bin "") or those in bin.
type engineSpec struct {
	tag string // "deb" or "cur", part of every name the engine gets
	bin string
}

// suite is one `make bench`: every engine in turn, then what does not
// depend on the engine (the collection's scale).
type suite struct {
	o        options
	date     time.Time
	machine  machineInfo
	benches  []*bench
	scale    []scaleRow
	scaleErr string
	kube     *kubeBench // nil: (k) not measured
	loadEnd  string
}

func (s *suite) run(ctx context.Context) error {
	s.machineInfo()
	for _, b := range s.benches {
		if err := b.run(ctx); err != nil {
			return fmt.Errorf("%s engine: %w", b.spec.tag, err)
		}
	}
	if k := s.kube; k != nil {
		k.date = time.Now().UTC()
		if err := k.run(ctx); err != nil {
			if s.o.only != "" || ctx.Err() != nil {
				// Nothing else was measured: keep the file as it is.
				return fmt.Errorf("kubernetes: %w", err)
			}
			logf("k8s: %v", err)
			k.res.Err = err.Error()
		}
	}
	if s.o.scale && !s.o.quick {
		if err := s.runScale(ctx); err != nil {
			logf("scale: %v", err)
			s.scaleErr = err.Error()
		}
	}
	s.loadEnd = loadAvg()
	if s.o.only != "" {
		return s.merge()
	}
	return s.write()
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// bench measures one engine.
type bench struct {
	o    options
	spec engineSpec
	env  map[string]string
	host string
	res  *results
	tmp  string // where the bundles go
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "dpbench: "+format+"\n", args...)
}

func (b *bench) logf(format string, args ...any) { logf(b.spec.tag+": "+format, args...) }

func (b *bench) run(ctx context.Context) error {
	if err := b.up(ctx); err != nil {
		return err
	}
	if !b.o.keepUp {
		defer b.lk(context.Background(), "down")
	}
	tmp, err := os.MkdirTemp("", "dpbench-bundle")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	b.tmp = tmp
	b.engineInfo()
	if err := b.buildNoop(ctx); err != nil {
		return fmt.Errorf("build the no-op image: %w", err)
	}
	if err := b.sizes(ctx); err != nil {
		return err
	}
	if err := b.pairsAB(ctx); err != nil {
		return err
	}
	if b.o.quick {
		return nil
	}
	if err := b.pairsCold(ctx); err != nil {
		return err
	}
	if err := b.probeRSS(ctx); err != nil {
		b.logf("probe RSS: %v", err)
		b.res.ProbeRSSErr = err.Error()
	}
	if err := b.watch(ctx); err != nil {
		b.logf("watch: %v", err)
		b.res.WatchErr = err.Error()
	}
	return nil
}

// netns is the engine's LK_NETNS: the prefix and the engine's tag.
func (b *bench) netns() string { return b.o.netns + "-" + b.spec.tag }

// stateDir is the engine's LK_STATE.
func (b *bench) stateDir() string { return b.o.state + "-" + b.spec.tag }

// settings name the engine's environment and its binaries, as the e2e
// suite's lkSettings does.
func (b *bench) settings() []string {
	netns := b.netns()
	s := []string{"LK_NETNS=" + netns, "LK_STATE=" + b.stateDir(), "LK_CGROUP_PARENT=/" + netns, "LK_ENGINE_BIN=" + b.spec.bin}
	if b.spec.bin == "" {
		return append(s, "LK_DOCKERD=/usr/sbin/dockerd", "LK_CONTAINERD=/usr/bin/containerd")
	}
	return append(s, "LK_DOCKERD="+filepath.Join(b.spec.bin, "dockerd"), "LK_CONTAINERD="+filepath.Join(b.spec.bin, "containerd"))
}

// lk runs the engine's script with the engine's settings.
func (b *bench) lk(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "bash", append([]string{b.o.lkenv}, args...)...)
	cmd.Env = append(os.Environ(), b.settings()...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("lkenv %s: %w\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return out, nil
}

func (b *bench) up(ctx context.Context) error {
	b.logf("starting the LinuxKit-shaped engine (LK_NETNS=%s)", b.netns())
	if _, err := b.lk(ctx, "up"); err != nil {
		return err
	}
	return b.readEnv(ctx)
}

func (b *bench) readEnv(ctx context.Context) error {
	out, err := b.lk(ctx, "env")
	if err != nil {
		return err
	}
	b.env = map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "export "), "=")
		if ok {
			b.env[k] = strings.Trim(v, `'"`)
		}
	}
	b.host = b.env["DOCKER_HOST"]
	if b.host == "" {
		return fmt.Errorf("lkenv env gave no DOCKER_HOST:\n%s", out)
	}
	return nil
}

func (b *bench) docker(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+b.host, "DOCKER_CONTEXT=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("docker %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// run is one timed child process.
type run struct {
	wall   time.Duration
	maxRSS int64 // KiB, from wait4's rusage
	stdout []byte
}

// timed runs one measured command on a quiet engine (see quiet).
func (b *bench) timed(ctx context.Context, name string, args ...string) (run, error) {
	b.quiet(ctx)
	r, _, err := timeCommand(ctx, []string{"DOCKER_HOST=" + b.host, "DOCKER_CONTEXT="}, name, args...)
	return r, err
}

// timeCommand runs name with args and env added to this process's
// environment, and returns its wall time, stdout and peak RSS, and its
// stderr (also in the error when it fails). The caller makes the engine
// quiet first.
func timeCommand(ctx context.Context, env []string, name string, args ...string) (run, []byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return run{}, stderr.Bytes(), fmt.Errorf("%s %s: %w\n%s", filepath.Base(name), strings.Join(args, " "), err, stderr.Bytes())
	}
	r := run{wall: wall, stdout: stdout.Bytes()}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.maxRSS = ru.Maxrss
	}
	return r, stderr.Bytes(), nil
}

// quiet waits (at most 15 s) until the engine holds no probe container and
// this machine runs no watchdog of an earlier run. The agent does not wait
// for its container's removal and the floor does: without this, whichever
// command follows an agent run pays for that run's teardown on the same
// two cores (measured: a run right after the agent took ~20 ms longer),
// and a fixed order then favours or penalises one column.
func (b *bench) quiet(ctx context.Context) {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		// io.dockprobe.probe is launch.LabelProbe (agent/internal, not
		// importable from here).
		out, err := b.docker(ctx, "ps", "-aq", "--filter", "label=io.dockprobe.probe")
		if err == nil && out == "" && !watchdogRunning(b.o.agent) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.logf("the engine did not become quiet within 15 s; measuring anyway")
}

// watchdogRunning reports whether a watchdog (`agent __reap`) of the
// measured agent binary runs: other agents' watchdogs on a shared machine
// are not ours to wait for (they would hold every run for the 15 s).
func watchdogRunning(agent string) bool {
	prefix := []byte(agent + "\x00")
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && bytes.HasPrefix(cmdline, prefix) && bytes.Contains(cmdline, []byte("\x00__reap\x00")) {
			return true
		}
	}
	return false
}

func (s *suite) machineInfo() {
	m := machineInfo{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), LoadAtStart: loadAvg()}
	if out, err := exec.Command("uname", "-srm").Output(); err == nil {
		m.Kernel = strings.TrimSpace(string(out))
	}
	if f, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(f), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if f, err := os.ReadFile("/proc/meminfo"); err == nil {
		line, _, _ := strings.Cut(string(f), "\n")
		m.Memory = strings.Join(strings.Fields(line)[1:], " ")
	}
	if st, err := os.Stat(s.o.agent); err == nil {
		m.AgentBytes = st.Size()
	}
	s.machine = m
}

// engineInfo records the engine's version and the load as its runs begin.
func (b *bench) engineInfo() {
	if out, err := b.docker(context.Background(), "version", "--format", "{{.Server.Version}} (API {{.Server.APIVersion}})"); err == nil {
		b.res.Docker = out
	}
	// containerd's and runc's versions, as the engine reports them.
	if out, err := b.docker(context.Background(), "version", "--format", `{{range .Server.Components}}{{if ne .Name "Engine"}}{{.Name}} {{.Version}}; {{end}}{{end}}`); err == nil {
		b.res.Parts = strings.TrimSuffix(strings.TrimSpace(out), ";")
	}
	b.res.LoadAtStart = loadAvg()
}

// loadAvg is /proc/loadavg's three load averages.
func loadAvg() string {
	f, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(string(f))[:3], " ")
}

// buildNoop builds the floor's image: a static binary that exits at once,
// FROM scratch, built locally (never pulled).
func (b *bench) buildNoop(ctx context.Context) error {
	dir, err := os.MkdirTemp("", "dpbench-noop")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if _, err := buildNoopBinary(ctx, dir); err != nil {
		return err
	}
	df := "FROM scratch\nCOPY noop /noop\nENTRYPOINT [\"/noop\"]\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
		return err
	}
	_, err = b.docker(ctx, "build", "-q", "-t", b.o.noopTag, dir)
	return err
}

// buildNoopBinary builds dir/noop: a static binary that exits at once.
func buildNoopBinary(ctx context.Context, dir string) (string, error) {
	src := filepath.Join(dir, "main.go")
	if err := os.WriteFile(src, []byte("package main\n\nfunc main() {}\n"), 0o644); err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "noop")
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, src)
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GO111MODULE=off")
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, out)
	}
	return bin, nil
}

func (b *bench) sizes(ctx context.Context) error {
	// One run loads the probe image, so that it can be measured.
	r, err := b.timed(ctx, b.o.agent, "probe", "-o", "json")
	if err != nil {
		return err
	}
	var rep struct {
		Tool struct {
			ProbeImage string `json:"probeImage"`
		} `json:"tool"`
	}
	if err := json.Unmarshal(r.stdout, &rep); err != nil {
		return fmt.Errorf("agent probe -o json: not JSON: %w", err)
	}
	b.res.ProbeImage = rep.Tool.ProbeImage
	out, err := b.docker(ctx, "image", "inspect", "-f", "{{.Size}}", rep.Tool.ProbeImage)
	if err != nil {
		return err
	}
	b.res.EngineImageBytes, _ = strconv.ParseInt(out, 10, 64)
	// The engine's own count differs between image stores (containerd's
	// adds the unpacked snapshot to the content), so the target is on the
	// image as `docker save` writes it: what the agent loads.
	save := exec.CommandContext(ctx, "docker", "save", rep.Tool.ProbeImage)
	save.Env = append(os.Environ(), "DOCKER_HOST="+b.host, "DOCKER_CONTEXT=")
	var n countWriter
	save.Stdout = &n
	if err := save.Run(); err != nil {
		return fmt.Errorf("docker save %s: %w", rep.Tool.ProbeImage, err)
	}
	b.res.ImageBytes = int64(n)
	return nil
}

// pairsAB runs (a) agent probe -o json, (b) the floor, (e) the
// bare-client bound, (f) the floor with --network host and (g) agent
// bundle in every round, rotating the order so that none always goes
// first.
func (b *bench) pairsAB(ctx context.Context) error {
	a := func() (run, error) { return b.timed(ctx, b.o.agent, "probe", "-o", "json") }
	floor := func() (run, error) {
		return b.timed(ctx, "docker", "run", "--rm", "--pull", "never", "--network", "none", b.o.noopTag)
	}
	bare := func() (run, error) { return b.timed(ctx, b.o.bare) }
	// (f) is the floor without its network namespace: what `--network
	// none` itself costs on this engine (the probe must run with it).
	hostFloor := func() (run, error) {
		return b.timed(ctx, "docker", "run", "--rm", "--pull", "never", "--network", "host", b.o.noopTag)
	}
	zip := filepath.Join(b.tmp, "x.zip")
	bundle := func() (run, error) {
		r, err := b.timed(ctx, b.o.agent, "bundle", "-o", zip)
		if err == nil {
			if st, serr := os.Stat(zip); serr == nil {
				b.res.BundleBytes = st.Size()
			}
			os.Remove(zip)
		}
		return r, err
	}
	// Warm every path once.
	for _, f := range []func() (run, error){a, floor, bare, hostFloor, bundle} {
		if _, err := f(); err != nil {
			return err
		}
	}
	b.logf("(a)/(b)/(e)/(f)/(g): %d rounds, order rotated", b.o.pairs)
	for i := range b.o.pairs {
		var ra, rb, re, rf, rg run
		steps := []struct {
			f   func() (run, error)
			dst *run
		}{{a, &ra}, {floor, &rb}, {bare, &re}, {hostFloor, &rf}, {bundle, &rg}}
		for k := range steps {
			st := steps[(i+k)%len(steps)]
			r, err := st.f()
			if err != nil {
				return err
			}
			*st.dst = r
		}
		b.res.A = append(b.res.A, ra.wall)
		b.res.B = append(b.res.B, rb.wall)
		b.res.E = append(b.res.E, re.wall)
		b.res.F = append(b.res.F, rf.wall)
		b.res.G = append(b.res.G, rg.wall)
		b.res.AgentRSS = append(b.res.AgentRSS, ra.maxRSS)
		b.res.BundleRSS = append(b.res.BundleRSS, rg.maxRSS)
		if t, err := sectionTimings(ra.stdout); err == nil {
			b.res.Timings = append(b.res.Timings, t)
		}
		if b.o.verbose {
			b.logf("round %d: a %v b %v e %v f %v g %v; a/e %.2f a/b %.2f g/a %.2f", i, ra.wall, rb.wall, re.wall, rf.wall, rg.wall,
				float64(ra.wall)/float64(re.wall), float64(ra.wall)/float64(rb.wall), float64(rg.wall)/float64(ra.wall))
		}
	}
	return nil
}

// pairsCold alternates (c) agent probe with the probe image removed first
// and (a) with it present.
func (b *bench) pairsCold(ctx context.Context) error {
	b.logf("(c)-(a): %d alternating pairs", b.o.cold)
	for range b.o.cold {
		if _, err := b.docker(ctx, "image", "rm", "-f", b.res.ProbeImage); err != nil {
			return err
		}
		rc, err := b.timed(ctx, b.o.agent, "probe", "-o", "json")
		if err != nil {
			return err
		}
		ra, err := b.timed(ctx, b.o.agent, "probe", "-o", "json")
		if err != nil {
			return err
		}
		b.res.C = append(b.res.C, rc.wall)
		b.res.CA = append(b.res.CA, ra.wall)
		b.res.AgentRSSCold = append(b.res.AgentRSSCold, rc.maxRSS)
	}
	return nil
}

// countWriter counts what is written to it.
type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) { *c += countWriter(len(p)); return len(p), nil }

// sectionTimings reads Report.timings from a JSON report.
func sectionTimings(report []byte) (map[string]float64, error) {
	var rep struct {
		Timings []struct {
			Section      string  `json:"section"`
			Milliseconds float64 `json:"milliseconds"`
		} `json:"timings"`
	}
	if err := json.Unmarshal(report, &rep); err != nil {
		return nil, err
	}
	m := map[string]float64{}
	for _, t := range rep.Timings {
		m[t.Section] = t.Milliseconds
	}
	return m, nil
}

func median[T int64 | time.Duration | float64](xs []T) T {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// lines reads a child's stdout line by line, stamping each with its arrival.
type line struct {
	at   time.Time
	text string
}

func readLines(r io.Reader, ch chan<- line) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		ch <- line{at: time.Now(), text: sc.Text()}
	}
	close(ch)
}
