package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

type machineInfo struct {
	CPU, Kernel, Memory, GoVersion, LoadAtStart string
	CPUs                                        int
	AgentBytes                                  int64
}

type watchSample struct {
	what    string
	latency time.Duration // from just before the command to the printed line
	cmd     time.Duration // how long the command itself ran
}

type scaleRow struct {
	name                                   string
	nsPerOp, cpuMs, interfaces, mounts     float64
	routes, hostPIDs, bytesPerOp, allocsOp float64
}

// results are one engine's measurements.
type results struct {
	Docker      string // "20.10.24+dfsg1 (API 1.41)"
	Parts       string // "containerd 1.6.20; runc 1.1.5"
	LoadAtStart string

	ImageBytes       int64 // `docker save`
	EngineImageBytes int64 // the engine's image inspect .Size
	ProbeImage       string
	BundleBytes      int64

	A, B         []time.Duration
	E            []time.Duration // the bare-client bound, same rounds as A and B
	F            []time.Duration // the floor with --network host, same rounds
	G            []time.Duration // agent bundle, same rounds
	AgentRSS     []int64         // KiB
	BundleRSS    []int64         // KiB
	Timings      []map[string]float64
	C, CA        []time.Duration
	AgentRSSCold []int64

	ProbeHWM    []int64 // KiB
	ProbeCgroup []int64 // bytes
	ProbeRSSHow string
	ProbeRSSErr string
	cgroupFile  string

	WatchStartup   time.Duration
	WatchLatency   []watchSample
	IdleWindow     time.Duration
	IdleTicks      int64
	RestartLatency time.Duration
	WatchExit      string
	WatchLeftover  int
	WatchErr       string
}

// runScale runs the collection scale benchmark in probe/internal/collect.
func (s *suite) runScale(ctx context.Context) error {
	logf("scale: go test -bench BenchmarkCollectScale (1,000 interfaces, 10,000 mounts, 2,000 processes at full size)")
	cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-bench", "BenchmarkCollectScale", "-benchtime", "5x", "-timeout", "20m", "./probe/internal/collect")
	cmd.Dir = s.o.repoRoot
	cmd.Env = append(os.Environ(), "DOCKPROBE_SCALE=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%w\n%s", err, out.Bytes())
	}
	for _, l := range strings.Split(out.String(), "\n") {
		if !strings.HasPrefix(l, "BenchmarkCollectScale/") {
			continue
		}
		f := strings.Fields(l)
		r := scaleRow{name: strings.TrimPrefix(f[0], "BenchmarkCollectScale/")}
		if i := strings.LastIndexByte(r.name, '-'); i > 0 {
			r.name = r.name[:i]
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, _ := strconv.ParseFloat(f[i], 64)
			switch f[i+1] {
			case "ns/op":
				r.nsPerOp = v
			case "cpu-ms/op":
				r.cpuMs = v
			case "interfaces":
				r.interfaces = v
			case "mounts":
				r.mounts = v
			case "routes":
				r.routes = v
			case "host-pids":
				r.hostPIDs = v
			case "B/op":
				r.bytesPerOp = v
			case "allocs/op":
				r.allocsOp = v
			}
		}
		s.scale = append(s.scale, r)
	}
	if len(s.scale) == 0 {
		return fmt.Errorf("no benchmark lines in:\n%s", out.Bytes())
	}
	return nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d.Microseconds())/1000) }
func mib(b int64) string        { return fmt.Sprintf("%.1f MB", float64(b)/1e6) }

func verdict(ok bool) string {
	if ok {
		return "**met**"
	}
	return "**not met**"
}

// target is one line of a Targets table: what is asked, what was
// measured and whether it is met (ok nil: not a target on this engine,
// shown for what bounds the others).
type target struct {
	name, measured string
	ok             *bool
}

func is(ok bool) *bool { return &ok }

// ratios are the per-round ratios x[i]/y[i].
func ratios(x, y []time.Duration) []float64 {
	r := make([]float64, min(len(x), len(y)))
	for i := range r {
		r[i] = float64(x[i]) / float64(y[i])
	}
	return r
}

// title names the engine from its own answer.
func (b *bench) title() string {
	switch b.spec.tag {
	case "deb":
		return "Docker " + b.res.Docker + ", Debian's"
	default:
		return "Docker " + b.res.Docker + ", today's engine"
	}
}

// targets are the targets as measured on this engine.
func (b *bench) targets() []target {
	r := b.res
	aE, aB, gA := median(ratios(r.A, r.E)), median(ratios(r.A, r.B)), median(ratios(r.G, r.A))
	coldDelta := median(r.C) - median(r.CA)
	collection := slowestSection(r.Timings)
	agentRSS := maxOf(r.AgentRSS) * 1024
	agentRSSCold := maxOf(r.AgentRSSCold) * 1024
	bundleRSS := maxOf(r.BundleRSS) * 1024
	t := []target{
		{"(a)/(e) ≤ 1.05: the agent over the bare client (median of per-round ratios)", fmt.Sprintf("%.2f", aE), is(aE <= 1.05)},
	}
	if b.spec.tag == "cur" {
		t = append(t, target{"(a)/(b) ≤ 0.80 (median of per-round ratios)", fmt.Sprintf("%.2f", aB), is(aB <= 0.80)})
	} else {
		t = append(t, target{"(a)/(b), a target on today's engine only: here the network namespace costs (b) − (f)", fmt.Sprintf("%.2f", aB), nil})
	}
	t = append(t,
		target{"bound: bare client (e)/(b) (create, attach, start, one gRPC call)", fmt.Sprintf("%.2f", median(ratios(r.E, r.B))), nil},
		target{"the floor without a network namespace: (f)/(b) (`--network host`)", fmt.Sprintf("%.2f", median(ratios(r.F, r.B))), nil},
		target{"(g)/(a) ≤ 1.3: `agent bundle` over `agent probe -o json` (median of per-round ratios)", fmt.Sprintf("%.2f", gA), is(gA <= 1.3)},
		target{"(c) − (a) ≤ 250 ms: image absent", ms(coldDelta), is(len(r.C) > 0 && coldDelta <= 250*time.Millisecond)},
		target{"probe collection ≤ 30 ms (median of the slowest section)", fmt.Sprintf("%.1f ms", collection), is(collection > 0 && collection <= 30)},
		target{"probe image ≤ 12 MB (`docker save`)", mib(r.ImageBytes), is(r.ImageBytes > 0 && r.ImageBytes <= 12e6)},
		target{"agent peak RSS ≤ 40 MB (probe, image present; image absent; bundle)", mib(agentRSS) + "; " + mib(agentRSSCold) + "; " + mib(bundleRSS),
			is(agentRSS > 0 && max(agentRSS, agentRSSCold, bundleRSS) <= 40e6)},
	)
	if r.ProbeRSSErr == "" {
		hwm := maxOf(r.ProbeHWM) * 1024
		t = append(t, target{"probe peak RSS ≤ 30 MB", mib(hwm) + " (VmHWM); cgroup " + mib(maxOf(r.ProbeCgroup)), is(hwm > 0 && hwm <= 30e6)})
	} else {
		t = append(t, target{"probe peak RSS ≤ 30 MB", "not measured: " + firstLine(r.ProbeRSSErr), is(false)})
	}
	if r.WatchErr != "" {
		t = append(t, target{"watch: change → printed ≤ 100 ms (median)", "not measured: " + firstLine(r.WatchErr), is(false)})
	} else {
		var lat []time.Duration
		for _, w := range r.WatchLatency {
			lat = append(lat, w.latency)
		}
		t = append(t, target{"watch: change → printed ≤ 100 ms (median)", ms(median(lat)), is(len(lat) > 0 && median(lat) <= 100*time.Millisecond)})
	}
	if r.IdleWindow > 0 {
		t = append(t, target{"watch: probe idle CPU near zero", fmt.Sprintf("%d ticks (1/100 s) in %s", r.IdleTicks, r.IdleWindow), is(r.IdleTicks <= 1)})
	}
	return t
}

// suiteTargets do not depend on the engine.
func (s *suite) targets() []target {
	if s.scaleErr != "" {
		return []target{{"scale: collection ≤ 300 ms at 1,000 interfaces, 10,000 mounts, 2,000 processes", "failed: " + firstLine(s.scaleErr), is(false)}}
	}
	if len(s.scale) == 0 {
		return nil
	}
	full := s.scale[len(s.scale)-1]
	return []target{{"scale: collection ≤ 300 ms at 1,000 interfaces, 10,000 mounts, 2,000 processes",
		fmt.Sprintf("%.0f ms wall, %.0f ms CPU", full.nsPerOp/1e6, full.cpuMs), is(full.nsPerOp/1e6 <= 300)}}
}

func maxOf(xs []int64) int64 { return slices.Max(append([]int64{0}, xs...)) }

func mark(t target) string {
	if t.ok == nil {
		return "—"
	}
	return verdict(*t.ok)
}

func (s *suite) write() error {
	var w strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&w, format+"\n", args...) }
	m := s.machine

	p("# Benchmarks")
	p("")
	p("Written by `make bench` (bench/, bench/cmd/dpbench) on %s. Do not edit by hand: rerun it.", s.date.Format("2006-01-02 15:04 UTC"))
	p("")
	p("Each engine is a LinuxKit-shaped dockerd of the e2e suite (`e2e/lkenv/lkenv.sh`), started by the")
	p("harness for its runs and removed afterwards: Debian's Docker 20.10, and today's engine (dockerd v29,")
	p("containerd 2, runc 1.5) as `e2e/tools/install-engine.sh` builds it. The machine is shared with other")
	p("work, so times are noisy: compare the ratios of alternating runs, not absolute times across machines;")
	p("the load average is recorded where each engine's runs begin. The Kubernetes runtime is measured on the e2e")
	p("harness's real two-node cluster (`e2e/k8s/cluster.sh`), also brought up for its runs and taken down afterwards.")
	p("")
	p("## Machine")
	p("")
	p("| | |")
	p("|---|---|")
	p("| CPU | %s (%d cores visible) |", m.CPU, m.CPUs)
	p("| memory | %s |", m.Memory)
	p("| kernel | %s |", m.Kernel)
	p("| Go | %s |", m.GoVersion)
	p("| agent binary (%s) | %s |", filepath.Base(s.o.agent), mib(m.AgentBytes))
	p("| load average at start; at the end | %s; %s |", m.LoadAtStart, s.loadEnd)
	p("")
	p("## Targets")
	p("")
	head, sep := "| target |", "|---|"
	for _, b := range s.benches {
		head += " Docker " + strings.Fields(b.res.Docker + " ?")[0] + " | |"
		sep += "---|---|"
	}
	if len(s.benches) == 0 {
		head, sep = "| target | measured | |", "|---|---|---|"
	}
	p("%s", head)
	p("%s", sep)
	all := make([][]target, len(s.benches))
	for i, b := range s.benches {
		all[i] = b.targets()
	}
	// Every engine has the same rows; the last one's names say what is
	// a target on today's engine.
	var names []target
	if len(all) > 0 {
		names = all[len(all)-1]
	}
	for row := range names {
		line := "| " + names[row].name + " |"
		for i := range s.benches {
			if row < len(all[i]) {
				line += " " + all[i][row].measured + " | " + mark(all[i][row]) + " |"
			}
		}
		p("%s", line)
	}
	filler := strings.Repeat(" | |", max(1, len(s.benches))-1)
	for _, t := range append(s.targets(), s.kubeTargets()...) {
		p("| %s | %s | %s |%s", t.name, t.measured, mark(t), filler)
	}
	p("")
	if len(s.benches) > 0 {
		p("Columns of the engine sections: (a) `agent probe -o json`; (b) the floor, `docker run --rm --pull never --network none %s`,", s.o.noopTag)
		p("a static no-op binary FROM scratch built locally by the harness; (e) `%s` (agent/cmd/dpbare, not shipped), the", filepath.Base(s.o.bare))
		p("agent's own launch code creating, attaching and starting the probe container with the agent's config and")
		p("completing one gRPC call (the handshake) over the attach stream, with no collection: it bounds what the agent")
		p("can reach; (f) the floor with `--network host` instead of `none`: the difference is what a container's own")
		p("network namespace costs the engine (Docker 20.10 sets it up through the libnetwork-setkey OCI hook, which")
		p("re-executes dockerd; Docker 28 dropped the hook); the probe runs with `--network none` (SECURITY.md), so (a)")
		p("and (e) pay it like (b) does; (g) `agent bundle -o x.zip`, the same probe run plus every format and the zip.")
		p("The order within a round rotates every round, and every timed run starts on a quiet engine: no probe")
		p("container left, no watchdog running. The agent and dpbare do not wait for their container's removal (the")
		p("floor does), so without that pause the next command would pay for their teardown. Agent RSS is wait4's ru_maxrss.")
		p("")
	}
	for _, b := range s.benches {
		b.section(p)
	}
	if s.kube != nil {
		s.kube.section(p)
	}
	if len(s.scale) > 0 || s.scaleErr != "" {
		p("## Scale")
		p("")
		p("`go test -bench BenchmarkCollectScale ./probe/internal/collect` (DOCKPROBE_SCALE=1): collect.Collect")
		p("in-process (no engine) against a target in namespaces of its own, holding N interfaces (one third bridges")
		p("with an address, two thirds veth pairs), M bind mounts in a private mount namespace, and P")
		p("extra sleep processes. Wall time per collection (ns/op) and CPU time (all threads).")
		p("")
		if s.scaleErr != "" {
			p("The scale benchmark failed: `%s`", firstLine(s.scaleErr))
			p("")
		}
		p("| size | wall | CPU | interfaces | mounts | routes | host pids | allocs/op | MB/op |")
		p("|---|---|---|---|---|---|---|---|---|")
		for _, r := range s.scale {
			p("| %s | %.0f ms | %.0f ms | %.0f | %.0f | %.0f | %.0f | %.0f | %.1f |", r.name, r.nsPerOp/1e6, r.cpuMs, r.interfaces, r.mounts, r.routes, r.hostPIDs, r.allocsOp, r.bytesPerOp/1e6)
		}
		p("")
	}
	p("## How to reproduce")
	p("")
	p("As root on Linux with docker.io, containerd and iproute2 (what `.ci/run` installs):")
	p("")
	p("```sh")
	p("make bench                     # builds bin/agent and bin/dpbare, today's engine and Kubernetes if not cached, runs bench/cmd/dpbench, writes docs/benchmarks.md")
	p("make bench BENCHFLAGS='-only kubernetes -k8s-rounds 8'  # (k) alone, merged into docs/benchmarks.md")
	p("go run ./bench/cmd/dpbench -h  # rounds, engines, names (or LK_NETNS, LK_STATE, DOCKPROBE_E2E_ID), output path")
	p("```")
	p("")
	p("The harness starts its own engines (LK_NETNS=%s-deb and %s-cur, LK_STATE=%s-…) one after the other and removes each afterwards;", s.o.netns, s.o.netns, s.o.state)
	p("then its own cluster (DOCKPROBE_E2E_ID=%s), removed afterwards too.", s.o.k8sID)
	if err := os.WriteFile(s.o.out, []byte(w.String()), 0o644); err != nil {
		return err
	}
	logf("wrote %s", s.o.out)
	// The verdicts, also on the terminal.
	for i, b := range s.benches {
		for _, t := range all[i] {
			if t.ok != nil {
				fmt.Fprintf(os.Stderr, "dpbench: %-8s %-9s %s: %s\n", b.spec.tag, strings.Trim(mark(t), "*"), t.name, t.measured)
			}
		}
	}
	for _, t := range s.targets() {
		fmt.Fprintf(os.Stderr, "dpbench: %-8s %-9s %s: %s\n", "-", strings.Trim(mark(t), "*"), t.name, t.measured)
	}
	s.printKubeVerdicts()
	return nil
}

// kubeTargets are (k)'s rows, when it was measured.
func (s *suite) kubeTargets() []target {
	if s.kube == nil {
		return nil
	}
	return s.kube.targets()
}

func (s *suite) printKubeVerdicts() {
	for _, t := range s.kubeTargets() {
		fmt.Fprintf(os.Stderr, "dpbench: %-8s %-9s %s: %s\n", "k8s", strings.Trim(mark(t), "*"), t.name, t.measured)
	}
}

// merge is -only's output: (k)'s Targets row and section spliced into the
// file as an earlier full run wrote it, the rest kept as it was; with no
// such file, a file of (k) alone.
func (s *suite) merge() error {
	old, err := os.ReadFile(s.o.out)
	if errors.Is(err, os.ErrNotExist) {
		return s.write()
	}
	if err != nil {
		return err
	}
	var sec strings.Builder
	s.kube.section(func(format string, args ...any) { fmt.Fprintf(&sec, format+"\n", args...) })
	doc, err := mergeKube(string(old), s.kubeTargets(), sec.String())
	if err != nil {
		return fmt.Errorf("merge into %s: %w", s.o.out, err)
	}
	if err := os.WriteFile(s.o.out, []byte(doc), 0o644); err != nil {
		return err
	}
	logf("merged the Kubernetes section into %s (the other sections kept as they were)", s.o.out)
	s.printKubeVerdicts()
	return nil
}

// section is one engine's part of docs/benchmarks.md.
func (b *bench) section(p func(string, ...any)) {
	r := b.res
	p("## %s", b.title())
	p("")
	p("%s; LK_NETNS=%s; load average when its runs began: %s.", r.Parts, b.netns(), r.LoadAtStart)
	p("")
	p("| target | measured | |")
	p("|---|---|---|")
	for _, t := range b.targets() {
		p("| %s | %s | %s |", t.name, t.measured, mark(t))
	}
	p("")
	p("### (a) `agent probe -o json`, (b) the floor, (e) the bare client, (f) the floor on the host network, (g) `agent bundle`")
	p("")
	aB, aE, eB, fB, gA := ratios(r.A, r.B), ratios(r.A, r.E), ratios(r.E, r.B), ratios(r.F, r.B), ratios(r.G, r.A)
	p("| round | (a) | (b) | (e) | (f) | (g) | (a)/(e) | (a)/(b) | (e)/(b) | (f)/(b) | (g)/(a) | agent RSS | bundle RSS |")
	p("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	for i := range r.A {
		p("| %d | %s | %s | %s | %s | %s | %.2f | %.2f | %.2f | %.2f | %.2f | %s | %s |", i+1, ms(r.A[i]), ms(r.B[i]), ms(r.E[i]), ms(r.F[i]), ms(r.G[i]),
			aE[i], aB[i], eB[i], fB[i], gA[i], mib(r.AgentRSS[i]*1024), mib(r.BundleRSS[i]*1024))
	}
	p("| **median** | **%s** | **%s** | **%s** | **%s** | **%s** | **%.2f** | **%.2f** | **%.2f** | **%.2f** | **%.2f** | | |",
		ms(median(r.A)), ms(median(r.B)), ms(median(r.E)), ms(median(r.F)), ms(median(r.G)), median(aE), median(aB), median(eB), median(fB), median(gA))
	p("")
	p("The ratios' medians are medians of the per-round ratios, not ratios of the time medians. The bundle written was %s.", mib(r.BundleBytes))
	p("")
	p("### (c) image absent vs (a) present, alternating")
	p("")
	p("Before each (c) run the harness removes the probe image (`docker image rm -f %s`); the", r.ProbeImage)
	p("agent builds the image archive in memory and loads it.")
	p("")
	p("| pair | (c) image absent | (a) image present | (c) − (a) |")
	p("|---|---|---|---|")
	for i := range r.C {
		p("| %d | %s | %s | %s |", i+1, ms(r.C[i]), ms(r.CA[i]), ms(r.C[i]-r.CA[i]))
	}
	p("| **median** | **%s** | **%s** | **%s** (difference of medians) |", ms(median(r.C)), ms(median(r.CA)), ms(median(r.C)-median(r.CA)))
	p("")
	p("### (d) the probe's own collection time, per section (Report.timings)")
	p("")
	p("Medians over the (a) runs. Sections run concurrently after a shared process scan, so")
	p("the slowest section is close to the collection's wall time.")
	p("")
	p("| section | median | max |")
	p("|---|---|---|")
	for _, name := range sectionNames(r.Timings) {
		var v []float64
		for _, t := range r.Timings {
			if x, ok := t[name]; ok {
				v = append(v, x)
			}
		}
		p("| %s | %.1f ms | %.1f ms |", name, median(v), slices.Max(v))
	}
	p("")
	p("### Sizes and footprint")
	p("")
	p("| | |")
	p("|---|---|")
	p("| probe image %s, as `docker save` writes it | %s |", r.ProbeImage, mib(r.ImageBytes))
	p("| the same, as the engine counts it (image inspect's Size) | %s |", mib(r.EngineImageBytes))
	p("| agent peak RSS, image present (max of %d runs) | %s |", len(r.AgentRSS), mib(maxOf(r.AgentRSS)*1024))
	p("| agent peak RSS, image absent (max of %d runs) | %s |", len(r.AgentRSSCold), mib(maxOf(r.AgentRSSCold)*1024))
	p("| agent peak RSS, bundle (max of %d runs) | %s |", len(r.BundleRSS), mib(maxOf(r.BundleRSS)*1024))
	if r.ProbeRSSErr == "" {
		p("| probe peak RSS (max of %d runs) | %s VmHWM, %s memory cgroup |", len(r.ProbeHWM), mib(maxOf(r.ProbeHWM)*1024), mib(maxOf(r.ProbeCgroup)))
		p("")
		p("Probe peak RSS: %s.", r.ProbeRSSHow)
	}
	p("")
	p("### Watch mode")
	p("")
	if r.WatchErr != "" {
		p("The watch measurement failed: `%s`", firstLine(r.WatchErr))
		p("")
	}
	if len(r.WatchLatency) > 0 {
		p("`agent watch -o json` against the engine; the harness makes each change itself with")
		p("`nsenter --net=… ip …` or `nsenter --mount=… mount …` and times it from just before starting")
		p("the command to the arrival of the matching JSON line. The time includes running the")
		p("command (fork and exec of nsenter and ip), shown separately. Started (to the ready line) in %s.", ms(r.WatchStartup))
		p("")
		p("| change | n | median latency | max latency | median command time |")
		p("|---|---|---|---|---|")
		byWhat := map[string][]watchSample{}
		var order []string
		for _, s := range r.WatchLatency {
			if _, ok := byWhat[s.what]; !ok {
				order = append(order, s.what)
			}
			byWhat[s.what] = append(byWhat[s.what], s)
		}
		var all []time.Duration
		for _, what := range order {
			var lat, cmd []time.Duration
			for _, s := range byWhat[what] {
				lat, cmd = append(lat, s.latency), append(cmd, s.cmd)
			}
			all = append(all, lat...)
			p("| %s | %d | %s | %s | %s |", what, len(lat), ms(median(lat)), ms(slices.Max(lat)), ms(median(cmd)))
		}
		p("| **all** | %d | **%s** | %s | |", len(all), ms(median(all)), ms(slices.Max(all)))
		p("")
	}
	if r.IdleWindow > 0 {
		p("Probe CPU while idle: %d clock ticks (user+system, 10 ms each) over %s.", r.IdleTicks, r.IdleWindow)
	}
	if r.RestartLatency > 0 {
		p("dockerd restarted with `--debug` toggled: from the new dockerd's exec to the printed")
		p("`daemon restarted` line, %s. This is bounded by dockerd's own start-up (the attach", ms(r.RestartLatency))
		p("stream is dockerd's, so the agent must wait for the engine to answer and launch a new probe).")
	}
	if r.WatchExit != "" {
		p("Ctrl-C (SIGINT): the agent ended with %s; probe containers left on the engine afterwards: %d.", r.WatchExit, r.WatchLeftover)
	}
	p("")
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

func sectionNames(ts []map[string]float64) []string {
	var names []string
	for _, t := range ts {
		for s := range t {
			if !slices.Contains(names, s) {
				names = append(names, s)
			}
		}
	}
	slices.Sort(names)
	return names
}

// slowestSection is the median over runs of each run's slowest section.
func slowestSection(ts []map[string]float64) float64 {
	var v []float64
	for _, t := range ts {
		m := 0.0
		for _, x := range t {
			m = max(m, x)
		}
		v = append(v, m)
	}
	return median(v)
}
