package bench

import (
	"bytes"
	"context"
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
	CPU, Kernel, Memory, Docker, GoVersion, LoadAtStart string
	CPUs                                                int
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

type results struct {
	Date    time.Time
	Machine machineInfo

	AgentBytes, ImageBytes int64
	ProbeImage             string

	A, B         []time.Duration
	E            []time.Duration // the bare-client bound, same pairs as A and B
	F            []time.Duration // the floor with --network host, same pairs
	AgentRSS     []int64         // KiB
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

	Scale    []scaleRow
	ScaleErr string
}

// scale runs the collection scale benchmark in probe/internal/collect.
func (b *bench) scale(ctx context.Context) error {
	b.logf("scale: go test -bench BenchmarkCollectScale (1,000 interfaces, 10,000 mounts, 2,000 processes at full size)")
	cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-bench", "BenchmarkCollectScale", "-benchtime", "5x", "-timeout", "20m", "./probe/internal/collect")
	cmd.Dir = b.o.repoRoot
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
		b.res.Scale = append(b.res.Scale, r)
	}
	if len(b.res.Scale) == 0 {
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

func (b *bench) write() error {
	r := b.res
	var w strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&w, format+"\n", args...) }

	ratios := make([]float64, len(r.A))
	eRatios := make([]float64, len(r.E))
	for i := range r.A {
		ratios[i] = float64(r.A[i]) / float64(r.B[i])
	}
	for i := range r.E {
		eRatios[i] = float64(r.E[i]) / float64(r.B[i])
	}
	fRatios := make([]float64, len(r.F))
	for i := range r.F {
		fRatios[i] = float64(r.F[i]) / float64(r.B[i])
	}
	ma, mb, me, mf := median(r.A), median(r.B), median(r.E), median(r.F)
	ratio, eRatio, fRatio := median(ratios), median(eRatios), median(fRatios)
	coldDelta := median(r.C) - median(r.CA)
	collection := slowestSection(r.Timings)
	agentRSS := slices.Max(append([]int64{0}, r.AgentRSS...))
	agentRSSCold := slices.Max(append([]int64{0}, r.AgentRSSCold...))
	probeHWM := slices.Max(append([]int64{0}, r.ProbeHWM...))
	probeCg := slices.Max(append([]int64{0}, r.ProbeCgroup...))

	p("# Benchmarks")
	p("")
	p("Written by `make bench` (bench/, cmd/dpbench) on %s. Do not edit by hand: rerun it.", r.Date.Format("2006-01-02 15:04 UTC"))
	p("")
	p("The engine is the LinuxKit-shaped second dockerd of the e2e suite (`e2e/lkenv/lkenv.sh`, LK_NETNS=%s).", b.o.netns)
	p("The machine is shared with other work, so times are noisy: compare the ratios of")
	p("alternating runs, not absolute times across machines.")
	p("")
	p("## Machine")
	p("")
	p("| | |")
	p("|---|---|")
	p("| CPU | %s (%d cores visible) |", r.Machine.CPU, r.Machine.CPUs)
	p("| memory | %s |", r.Machine.Memory)
	p("| kernel | %s |", r.Machine.Kernel)
	p("| engine | Docker %s |", r.Machine.Docker)
	p("| Go | %s |", r.Machine.GoVersion)
	p("| load average at start | %s |", r.Machine.LoadAtStart)
	p("")
	p("## Targets")
	p("")
	p("| target | measured | |")
	p("|---|---|---|")
	p("| (a)/(b) ≤ 0.80 (median of per-pair ratios) | %.2f | %s |", ratio, verdict(ratio <= 0.80))
	p("| bound: bare client (e)/(b) (create, attach, start, one gRPC call) | %.2f | — |", eRatio)
	p("| the floor without a network namespace: (f)/(b) (`--network host`) | %.2f | — |", fRatio)
	p("| (c) − (a) ≤ 250 ms | %s | %s |", ms(coldDelta), verdict(coldDelta <= 250*time.Millisecond))
	p("| probe collection ≤ 30 ms (median of the slowest section) | %.1f ms | %s |", collection, verdict(collection > 0 && collection <= 30))
	p("| probe image ≤ 12 MB | %s | %s |", mib(r.ImageBytes), verdict(r.ImageBytes > 0 && r.ImageBytes <= 12e6))
	p("| agent peak RSS ≤ 40 MB (image present; image absent) | %s; %s | %s |", mib(agentRSS*1024), mib(agentRSSCold*1024), verdict(agentRSS > 0 && agentRSS*1024 <= 40e6 && agentRSSCold*1024 <= 40e6))
	if r.ProbeRSSErr == "" {
		p("| probe peak RSS ≤ 30 MB | %s (VmHWM); cgroup %s | %s |", mib(probeHWM*1024), mib(probeCg), verdict(probeHWM > 0 && probeHWM*1024 <= 30e6))
	} else {
		p("| probe peak RSS ≤ 30 MB | not measured: %s | |", r.ProbeRSSErr)
	}
	if len(r.Scale) > 0 {
		full := r.Scale[len(r.Scale)-1]
		p("| scale: collection ≤ 300 ms at 1,000 interfaces, 10,000 mounts, 2,000 processes | %.0f ms wall, %.0f ms CPU | %s |", full.nsPerOp/1e6, full.cpuMs, verdict(full.nsPerOp/1e6 <= 300))
	}
	if len(r.WatchLatency) > 0 {
		var lat []time.Duration
		for _, s := range r.WatchLatency {
			lat = append(lat, s.latency)
		}
		p("| watch: change → printed ≤ 100 ms (median) | %s | %s |", ms(median(lat)), verdict(median(lat) <= 100*time.Millisecond))
	}
	if r.IdleWindow > 0 {
		p("| watch: probe idle CPU near zero | %d ticks (1/100 s) in %s | %s |", r.IdleTicks, r.IdleWindow, verdict(r.IdleTicks <= 1))
	}
	p("")
	p("## (a) `agent probe -o json` vs (b) the floor, (e) the bare client and (f) the floor on the host network")
	p("")
	p("(b) is `docker run --rm --pull never --network none %s`: a static no-op binary FROM scratch, built", b.o.noopTag)
	p("locally by the harness. (e) is `%s` (agent/cmd/dpbare, not shipped): the agent's own launch code", filepath.Base(b.o.bare))
	p("creating, attaching and starting the probe container with the agent's config and completing one gRPC")
	p("call (the handshake) over the attach stream, with no collection; it bounds what the agent can reach.")
	p("(f) is the floor with `--network host` instead of `none`: the difference is what a container's own network")
	p("namespace costs this engine (Docker 20.10 sets it up through the libnetwork-setkey OCI hook, which re-executes")
	p("dockerd; Docker 28 dropped the hook). The probe runs with `--network none` (SECURITY.md), so (a) and (e)")
	p("pay it like (b) does.")
	p("The order within a pair rotates every pair, and every timed run starts on a quiet")
	p("engine: no probe container left, no watchdog running. The agent and dpbare do not wait for their")
	p("container's removal (the floor does), so without that pause the next command would pay for their")
	p("teardown. Agent RSS is wait4's ru_maxrss.")
	p("")
	p("| pair | (a) agent | (b) floor | (e) bare client | (f) floor, host network | (a)/(b) | (e)/(b) | (f)/(b) | agent peak RSS |")
	p("|---|---|---|---|---|---|---|---|---|")
	for i := range r.A {
		p("| %d | %s | %s | %s | %s | %.2f | %.2f | %.2f | %s |", i+1, ms(r.A[i]), ms(r.B[i]), ms(r.E[i]), ms(r.F[i]), ratios[i], eRatios[i], fRatios[i], mib(r.AgentRSS[i]*1024))
	}
	p("| **median** | **%s** | **%s** | **%s** | **%s** | **%.2f** | **%.2f** | **%.2f** | |", ms(ma), ms(mb), ms(me), ms(mf), ratio, eRatio, fRatio)
	p("")
	p("## (c) image absent vs (a) present, alternating")
	p("")
	p("Before each (c) run the harness removes the probe image (`docker image rm -f %s`); the", r.ProbeImage)
	p("agent builds the image archive in memory and loads it.")
	p("")
	p("| pair | (c) image absent | (a) image present | (c) − (a) |")
	p("|---|---|---|---|")
	for i := range r.C {
		p("| %d | %s | %s | %s |", i+1, ms(r.C[i]), ms(r.CA[i]), ms(r.C[i]-r.CA[i]))
	}
	p("| **median** | **%s** | **%s** | **%s** (difference of medians) |", ms(median(r.C)), ms(median(r.CA)), ms(coldDelta))
	p("")
	p("## (d) the probe's own collection time, per section (Report.timings)")
	p("")
	p("Medians over the (a) runs. Sections run concurrently after a shared process scan, so")
	p("the slowest section is close to the collection's wall time.")
	p("")
	p("| section | median | max |")
	p("|---|---|---|")
	for _, s := range sectionNames(r.Timings) {
		var v []float64
		for _, t := range r.Timings {
			if x, ok := t[s]; ok {
				v = append(v, x)
			}
		}
		p("| %s | %.1f ms | %.1f ms |", s, median(v), slices.Max(v))
	}
	p("")
	p("## Sizes and footprint")
	p("")
	p("| | |")
	p("|---|---|")
	p("| agent binary (%s) | %s |", b.o.agent, mib(r.AgentBytes))
	p("| probe image %s | %s |", r.ProbeImage, mib(r.ImageBytes))
	p("| agent peak RSS, image present (max of %d runs) | %s |", len(r.AgentRSS), mib(agentRSS*1024))
	p("| agent peak RSS, image absent (max of %d runs) | %s |", len(r.AgentRSSCold), mib(agentRSSCold*1024))
	if r.ProbeRSSErr == "" {
		p("| probe peak RSS (max of %d runs) | %s VmHWM, %s memory cgroup |", len(r.ProbeHWM), mib(probeHWM*1024), mib(probeCg))
		p("")
		p("Probe peak RSS: %s.", r.ProbeRSSHow)
	}
	p("")
	p("## Watch mode")
	p("")
	if r.WatchErr != "" {
		p("The watch measurement failed: `%s`", r.WatchErr)
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
	if len(r.Scale) > 0 || r.ScaleErr != "" {
		p("## Scale")
		p("")
		p("`go test -bench BenchmarkCollectScale ./probe/internal/collect` (DOCKPROBE_SCALE=1): collect.Collect")
		p("in-process against a target in namespaces of its own, holding N interfaces (one third bridges")
		p("with an address, two thirds veth pairs), M bind mounts in a private mount namespace, and P")
		p("extra sleep processes. Wall time per collection (ns/op) and CPU time (all threads).")
		p("")
		if r.ScaleErr != "" {
			p("The scale benchmark failed: `%s`", firstLine(r.ScaleErr))
			p("")
		}
		p("| size | wall | CPU | interfaces | mounts | routes | host pids | allocs/op | MB/op |")
		p("|---|---|---|---|---|---|---|---|---|")
		for _, s := range r.Scale {
			p("| %s | %.0f ms | %.0f ms | %.0f | %.0f | %.0f | %.0f | %.0f | %.1f |", s.name, s.nsPerOp/1e6, s.cpuMs, s.interfaces, s.mounts, s.routes, s.hostPIDs, s.allocsOp, s.bytesPerOp/1e6)
		}
		p("")
	}
	p("## How to reproduce")
	p("")
	p("As root on Linux with docker.io, containerd and iproute2 (what `.ci/run` installs):")
	p("")
	p("```sh")
	p("make bench                     # builds bin/agent and bin/dpbare, runs bench/cmd/dpbench, writes docs/benchmarks.md")
	p("go run ./bench/cmd/dpbench -h  # pairs, rounds, engine name (or LK_NETNS, LK_STATE), output path")
	p("```")
	p("")
	p("The harness starts its own engine (LK_NETNS=%s, LK_STATE=%s) and removes it afterwards.", b.o.netns, b.o.state)
	if err := os.WriteFile(b.o.out, []byte(w.String()), 0o644); err != nil {
		return err
	}
	b.logf("wrote %s", b.o.out)
	return nil
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
