package e2e

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dockprobe/dockprobe/proto/probe/v1/contract"
)

// The tests of issue 13: each check's condition made real on the
// LinuxKit-shaped engine, and the clean counterpart, on each engine.
//
// The agent runs in a network namespace the test creates (ansHostNetns):
// both ends of a veth inside it and a default route over one of them, with
// the MTU the test chooses. The machine's own default route is not the
// test's to choose (it has MTU 1400 here), and no traffic leaves the
// namespace: the agent reaches the engine over its unix socket.

type ansEngine struct {
	host string     // DOCKER_HOST
	env  *engineEnv // the environment behind it
}

func ansOn(e *engineEnv) ansEngine { return ansEngine{host: e.Host, env: e} }

// ansDoc is `agent doctor -o json` with issue 13's facts.
type ansDoc struct {
	Findings []finding `json:"findings"`
	Target   struct {
		Pid      int `json:"pid"`
		Ancestry []struct {
			Pid    int      `json:"pid"`
			Comm   string   `json:"comm"`
			Enters []string `json:"enters"`
			Error  string   `json:"error"`
		} `json:"ancestry"`
	} `json:"target"`
	VMState struct {
		DataRoot struct {
			Path        string  `json:"path"`
			TotalBytes  float64 `json:"totalBytes"`
			TotalInodes float64 `json:"totalInodes"`
			Error       string  `json:"error"`
		} `json:"dataRoot"`
		Forwarding struct{ IPv4, Error string } `json:"forwarding"`
		Memory     struct {
			TotalBytes float64 `json:"totalBytes"`
			OomKills   float64 `json:"oomKills"`
		} `json:"memory"`
	} `json:"vmState"`
	EngineUsage struct {
		DfMeasured bool   `json:"dfMeasured"`
		DfError    string `json:"dfError"`
	} `json:"engineUsage"`
}

func (d *ansDoc) want(t *testing.T, id, status string) finding {
	t.Helper()
	for _, f := range d.Findings {
		if f.ID == id {
			if f.Status != status {
				t.Errorf("%s = %s (%s), want %s\n  evidence: %q\n  fix: %s", id, f.Status, f.Summary, status, f.Evidence, f.Fix)
			}
			return f
		}
	}
	t.Fatalf("no finding %s", id)
	return finding{}
}

// ansHostNetns creates a network namespace for the agent whose default
// route goes over a veth with the given MTU, and returns its path.
func ansHostNetns(t *testing.T, mtu int) string {
	t.Helper()
	name := fmt.Sprintf("%s-ans-host-%d", e2eID(), mtu)
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	_ = exec.Command("ip", "netns", "del", name).Run()
	run("ip", "netns", "add", name)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	in := func(args ...string) {
		run(append([]string{"nsenter", "--net=/var/run/netns/" + name, "--"}, args...)...)
	}
	in("ip", "link", "add", "ansh0", "mtu", fmt.Sprint(mtu), "type", "veth", "peer", "name", "ansh1", "mtu", fmt.Sprint(mtu))
	in("ip", "link", "set", "lo", "up")
	in("ip", "link", "set", "ansh0", "up")
	in("ip", "link", "set", "ansh1", "up")
	in("ip", "addr", "add", "198.51.100.2/24", "dev", "ansh0")
	in("ip", "route", "add", "default", "via", "198.51.100.1", "dev", "ansh0")
	return "/var/run/netns/" + name
}

// ansAgent runs the agent against e inside netns (a path; "" for the
// test's own), with env added and the proxy environment cleared.
func ansAgent(t *testing.T, e ansEngine, netns string, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	argv := append([]string{agentBin}, args...)
	if netns != "" {
		argv = append([]string{"nsenter", "--net=" + netns, "--"}, argv...)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch strings.ToUpper(k) {
		case "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "DOCKER_HOST", "DOCKER_CONTEXT":
			continue
		}
		cmd.Env = append(cmd.Env, kv)
	}
	cmd.Env = append(append(cmd.Env, "DOCKER_HOST="+e.host), env...)
	return runResult(t, cmd)
}

// ansDoctor runs `agent doctor -o json` and checks the exit code and the
// JSON contract of issue 13's paths.
func ansDoctor(t *testing.T, e ansEngine, netns string, env []string, wantCode int) *ansDoc {
	t.Helper()
	r := ansAgent(t, e, netns, env, "doctor", "-o", "json")
	if r.code != wantCode {
		t.Fatalf("agent doctor exited %d, want %d\nstderr: %s\nstdout: %.3000s", r.code, wantCode, r.stderr, r.stdout)
	}
	var d ansDoc
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
		t.Fatalf("doctor -o json: %v\n%.2000s", err, r.stdout)
	}
	if err := contract.CheckAnswers([]byte(r.stdout)); err != nil {
		t.Errorf("issue 13 contract: %v", err)
	}
	return &d
}

// ansHogImage builds the hog workload into a FROM scratch image on e with
// docker import (nothing is pulled) and returns its reference.
func ansHogImage(t *testing.T, e ansEngine) string {
	t.Helper()
	const ref = "dockprobe-e2e/ans-hog:1"
	dir := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "hog"), "./internal/hog")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build hog: %v\n%s", err, out)
	}
	imp := exec.Command("bash", "-c", `tar -C "$1" -c hog | docker -H "$2" import -c 'ENTRYPOINT ["/hog"]' - "$3"`, "import", dir, e.host, ref)
	if out, err := imp.CombinedOutput(); err != nil {
		t.Fatalf("docker import: %v\n%s", err, out)
	}
	return ref
}

// TestAnswersClean: on the LinuxKit-shaped engine as it is, with a host
// path of MTU 1500, no proxy anywhere and nothing OOM-killed or bound from
// a drive share, every issue 13 check passes, with its facts.
func TestAnswersClean(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ee *engineEnv) {
		e := ansOn(ee)
		d := ansDoctor(t, e, ansHostNetns(t, 1500), nil, 0)
		disk := d.want(t, "vm.disk", "pass")
		if d.VMState.DataRoot.Path != e.env.Env["LK_STATE"]+"/docker" && !strings.HasSuffix(d.VMState.DataRoot.Path, "/docker") {
			t.Errorf("data root %q", d.VMState.DataRoot.Path)
		}
		if d.VMState.DataRoot.TotalBytes <= 0 || !strings.Contains(strings.Join(disk.Evidence, "\n"), "data-root ") {
			t.Errorf("vm.disk evidence %q, facts %+v", disk.Evidence, d.VMState.DataRoot)
		}
		if !d.EngineUsage.DfMeasured && !strings.HasPrefix(d.EngineUsage.DfError, "not measured") {
			t.Errorf("engine usage neither measured nor said why: %+v", d.EngineUsage)
		}
		d.want(t, "net.forwarding", "pass")
		if d.VMState.Forwarding.IPv4 != "1" {
			t.Errorf("ip_forward %q (%s)", d.VMState.Forwarding.IPv4, d.VMState.Forwarding.Error)
		}
		d.want(t, "net.mtu", "pass")
		clock := d.want(t, "vm.clock", "pass")
		// Both clocks were read, each bracketed by the agent's.
		if ev := strings.Join(clock.Evidence, "\n"); !strings.Contains(ev, "engine (/info SystemTime): ") || !strings.Contains(ev, "probe (in the VM): ") {
			t.Errorf("vm.clock evidence %q", clock.Evidence)
		}
		d.want(t, "engine.proxy", "pass")
		d.want(t, "shares.slow-binds", "pass")
		mem := d.want(t, "vm.memory", "pass")
		if d.VMState.Memory.TotalBytes <= 0 || !strings.Contains(strings.Join(mem.Evidence, "\n"), "VM memory") {
			t.Errorf("vm.memory evidence %q", mem.Evidence)
		}
		anc := d.want(t, "target.ancestry", "pass")
		chain := d.Target.Ancestry
		if len(chain) < 2 || chain[len(chain)-1].Pid != d.Target.Pid || chain[len(chain)-1].Comm != "dockerd" {
			t.Fatalf("ancestry %+v does not end at the target %d", chain, d.Target.Pid)
		}
		if fmt.Sprint(d.Target.Pid) != e.env.Env["LK_DOCKERD_PID"] {
			t.Errorf("target %d, lkenv's dockerd %s", d.Target.Pid, e.env.Env["LK_DOCKERD_PID"])
		}
		// lkenv's dockerd runs in the network namespace the environment
		// created: some step on the way enters it.
		entersNet := false
		for _, s := range chain {
			for _, ns := range s.Enters {
				entersNet = entersNet || strings.HasPrefix(ns, "net:")
			}
		}
		if chain[0].Pid != 1 && !strings.Contains(strings.Join(anc.Evidence, "\n"), "could not be read") {
			t.Errorf("the chain starts at %d without saying why: %q", chain[0].Pid, anc.Evidence)
		}
		if !entersNet && !strings.Contains(strings.Join(anc.Evidence, "\n"), "could not read") {
			t.Errorf("no step enters the environment's network namespace and nothing says why: %q", anc.Evidence)
		}
		t.Logf("ancestry: %s", anc.Summary)

		// Every output format carries the ancestry.
		for format, want := range map[string]string{"text": "Ancestry (pid 1 first", "yaml": "ancestry:", "html": "Ancestry: PID", "json": `"ancestry"`} {
			r := ansAgent(t, e, "", nil, "probe", "-o", format)
			if r.code != 0 || !strings.Contains(r.stdout, want) {
				t.Errorf("agent probe -o %s exited %d, has %q: %v\n%s", format, r.code, want, strings.Contains(r.stdout, want), r.stderr)
			}
		}
	})
}

// TestAnswersLowMTU: the agent's host path has MTU 1400 (as behind a
// VPN) while the VM's eth0 and docker0 have 1500.
func TestAnswersLowMTU(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ee *engineEnv) {
		e := ansOn(ee)
		d := ansDoctor(t, e, ansHostNetns(t, 1400), nil, 0)
		f := d.want(t, "net.mtu", "warn")
		if !strings.Contains(f.Summary, "eth0 (1500)") || !strings.Contains(f.Summary, "docker0 (1500)") || !strings.Contains(f.Fix, `"mtu": 1400`) {
			t.Errorf("net.mtu = %s; fix %s", f.Summary, f.Fix)
		}
		if !strings.Contains(strings.Join(f.Evidence, "\n"), "dev ansh0: MTU 1400") {
			t.Errorf("evidence %q", f.Evidence)
		}
	})
}

// TestAnswersForwardingOff: net.ipv4.ip_forward turned off in dockerd's
// network namespace is an error (doctor exits 20).
func TestAnswersForwardingOff(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ee *engineEnv) {
		e := ansOn(ee)
		e.env.exec(t, "sysctl", "-q", "-w", "net.ipv4.ip_forward=0")
		t.Cleanup(func() { e.env.exec(t, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1") })
		d := ansDoctor(t, e, ansHostNetns(t, 1500), nil, 20)
		f := d.want(t, "net.forwarding", "fail")
		if !strings.Contains(f.Summary, "IPv4 forwarding is off") || d.VMState.Forwarding.IPv4 != "0" {
			t.Errorf("net.forwarding = %s, ip_forward %q", f.Summary, d.VMState.Forwarding.IPv4)
		}
	})
}

// TestAnswersOOMKilled: a container that eats memory under a 16 MiB
// limit is killed by the kernel; the engine marks it OOMKilled and doctor
// names it, its image and its limit.
func TestAnswersOOMKilled(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ee *engineEnv) {
		e := ansOn(ee)
		img := ansHogImage(t, e)
		const name = "dpans-hog"
		_ = exec.Command("docker", "-H", e.host, "rm", "-f", name).Run()
		t.Cleanup(func() { _ = exec.Command("docker", "-H", e.host, "rm", "-f", name).Run() })
		out, _ := exec.Command("docker", "-H", e.host, "run", "--name", name, "--network", "none", "-m", "16m", "--memory-swap", "16m", img, "eat").CombinedOutput()
		// The engine learns of the OOM kill from an event that may come
		// after the exit it reported (Docker 20.10 on cgroup v1): wait
		// for its mark a little.
		var st string
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			st = docker(t, e.host, "inspect", "-f", "{{.State.OOMKilled}} {{.State.ExitCode}}", name)
			if strings.HasPrefix(st, "true ") || time.Now().After(deadline) {
				break
			}
		}
		if !strings.HasPrefix(st, "true ") {
			t.Fatalf("the hog was not marked OOMKilled within 10 s (state %s): %s", st, out)
		}
		d := ansDoctor(t, e, ansHostNetns(t, 1500), nil, 0)
		f := d.want(t, "vm.memory", "warn")
		want := "container " + name + " (image " + img + ", exited) OOMKilled, limit 16.0 MiB"
		if !strings.Contains(strings.Join(f.Evidence, "\n"), want) {
			t.Errorf("vm.memory evidence %q lacks %q", f.Evidence, want)
		}
		if d.VMState.Memory.OomKills < 1 {
			t.Errorf("the kernel's oom_kill count is %v after an OOM kill", d.VMState.Memory.OomKills)
		}
	})
}

// TestAnswersSlowBinds: a running container that bind-mounts the drive
// share /run/desktop/mnt/host/c is listed (info, not a failure).
func TestAnswersSlowBinds(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ee *engineEnv) {
		e := ansOn(ee)
		img := ansHogImage(t, e)
		const name = "dpans-share"
		_ = exec.Command("docker", "-H", e.host, "rm", "-f", name).Run()
		t.Cleanup(func() { _ = exec.Command("docker", "-H", e.host, "rm", "-f", name).Run() })
		docker(t, e.host, "run", "-d", "--name", name, "--network", "none", "-v", "/run/desktop/mnt/host/c:/src", img, "sleep")
		d := ansDoctor(t, e, ansHostNetns(t, 1500), nil, 0)
		f := d.want(t, "shares.slow-binds", "pass")
		if !strings.Contains(strings.Join(f.Evidence, "\n"), "container "+name+" (image "+img+") binds /run/desktop/mnt/host/c at /src") || !strings.Contains(f.Fix, "WSL file system") {
			t.Errorf("shares.slow-binds = %s %q", f.Summary, f.Evidence)
		}
	})
}

// TestAnswersClockSkew: the engine's clock, as its /info says through the
// fault proxy, an hour behind the host's is an error; 5 s ahead a warning.
func TestAnswersClockSkew(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ee *engineEnv) {
		p := startProxy(t, ee)
		e := ansEngine{host: "unix://" + p.Socket, env: ee}
		for _, tt := range []struct {
			skew   time.Duration
			status string
			code   int
		}{{-time.Hour, "fail", 20}, {5 * time.Second, "warn", 0}} {
			p.Reset()
			p.AddResponse(func(path string, body map[string]any) bool {
				if path != "/info" {
					return false
				}
				body["SystemTime"] = time.Now().Add(tt.skew).Format(time.RFC3339Nano)
				return true
			})
			d := ansDoctor(t, e, ansHostNetns(t, 1500), nil, tt.code)
			f := d.want(t, "vm.clock", tt.status)
			var got float64
			for _, ev := range f.Evidence {
				if rest, ok := strings.CutPrefix(ev, "engine (/info SystemTime): "); ok {
					fmt.Sscanf(rest, "%fs", &got)
				}
			}
			if !strings.Contains(f.Fix, "wsl --shutdown") || got < tt.skew.Seconds()-1 || got > tt.skew.Seconds()+1 {
				t.Errorf("vm.clock (skew %s) = %s %q", tt.skew, f.Summary, f.Evidence)
			}
		}
	})
}

// TestAnswersHostProxyEngineNone: the host is behind a proxy (the
// agent's environment, with credentials) and the engine is not; the
// credentials appear in no output.
func TestAnswersHostProxyEngineNone(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ee *engineEnv) {
		e := ansOn(ee)
		env := []string{"HTTPS_PROXY=http://ansuser:ans-s3cret-pw@proxy.invalid:3128", "NO_PROXY=localhost"}
		d := ansDoctor(t, e, ansHostNetns(t, 1500), env, 0)
		f := d.want(t, "engine.proxy", "warn")
		if !strings.Contains(f.Summary, "the engine does not") {
			t.Errorf("engine.proxy = %s", f.Summary)
		}
		for _, args := range [][]string{{"doctor"}, {"probe", "-o", "json"}, {"probe", "-o", "html"}, {"probe"}} {
			r := ansAgent(t, e, "", env, args...)
			if strings.Contains(r.stdout+r.stderr, "ans-s3cret-pw") {
				t.Errorf("agent %s prints the proxy's password", strings.Join(args, " "))
			}
			if args[len(args)-1] != "probe" && !strings.Contains(r.stdout, "proxy.invalid:3128") {
				t.Errorf("agent %s does not show the host's proxy", strings.Join(args, " "))
			}
		}
	})
}

// ansSmallEngine starts a second LinuxKit-shaped engine whose data-root
// lies on a 256 MiB tmpfs of its own and whose dockerd runs with a proxy
// in its environment (as Docker Desktop's proxy settings give it). It
// returns the engine and the data-root's filesystem, which the test may
// fill. Its names are the test's own (dockprobe-ans2, …), apart from the
// suite's engine.
func ansSmallEngine(t *testing.T, e *engineEnv) (ansEngine, string) {
	t.Helper()
	small := "/var/lib/" + e2eID() + "-ans-small-" + e.spec.tag
	if err := os.MkdirAll(small, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=256m,mode=0700", "dpans-small", small).CombinedOutput(); err != nil {
		t.Fatalf("mount the small data-root: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", small).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v\n%s", small, err, out)
		}
		_ = os.Remove(small)
	})
	// lkenv's environment is dockerd's: the proxy reaches the engine as
	// Docker Desktop's proxy settings do.
	s := e.sibling(t, "ans2", "LK_EXTRA_DOCKERD_ARGS=--data-root "+small+"/docker",
		"HTTP_PROXY=http://ansuser:ans-eng-pw@proxy.invalid:3128", "HTTPS_PROXY=http://ansuser:ans-eng-pw@proxy.invalid:3128", "NO_PROXY=localhost,127.0.0.1")
	return ansOn(s), small
}

// ansFill makes the filesystem at dir pct percent full (df's way) with
// one file, replacing the previous fill.
func ansFill(t *testing.T, dir string, pct float64) {
	t.Helper()
	fill := filepath.Join(dir, "dpans-fill")
	_ = os.Remove(fill)
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	bs := float64(st.Bsize)
	used := float64(st.Blocks-st.Bfree) * bs
	size := float64(st.Blocks) * bs
	need := int64(pct/100*size - used)
	if need <= 0 {
		t.Fatalf("%s is already past %.0f%%", dir, pct)
	}
	if out, err := exec.Command("fallocate", "-l", fmt.Sprint(need), fill).CombinedOutput(); err != nil {
		t.Fatalf("fallocate: %v\n%s", err, out)
	}
}

// TestAnswersSmallDiskAndEngineProxy: on an engine whose data-root has
// room, vm.disk passes with the engine's own totals; filled to 96% it
// fails (doctor exits 20), to 88% it warns. The engine's proxy (with
// credentials) lacks host.docker.internal and the Docker subnet in its
// NO_PROXY: a warning, and the password appears nowhere.
func TestAnswersSmallDiskAndEngineProxy(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ee *engineEnv) {
		e, small := ansSmallEngine(t, ee)
		netns := ansHostNetns(t, 1500)
		d := ansDoctor(t, e, netns, nil, 0)
		f := d.want(t, "vm.disk", "pass")
		if !strings.HasPrefix(d.VMState.DataRoot.Path, small) || !d.EngineUsage.DfMeasured || !strings.Contains(strings.Join(f.Evidence, "\n"), "engine: images ") {
			t.Errorf("vm.disk on the small engine: %+v %+v %q", d.VMState.DataRoot, d.EngineUsage, f.Evidence)
		}
		if ev := strings.Join(f.Evidence, "\n"); !strings.Contains(ev, "tmpfs dpans-small") {
			t.Errorf("vm.disk does not name the mount holding the data-root: %q", f.Evidence)
		}
		p := d.want(t, "engine.proxy", "warn")
		if !strings.Contains(p.Summary, "lacks host.docker.internal and 192.168.65.0/24") {
			t.Errorf("engine.proxy = %s %q", p.Summary, p.Evidence)
		}
		for _, args := range [][]string{{"doctor", "-o", "json"}, {"probe"}, {"probe", "-o", "yaml"}, {"probe", "-o", "html"}} {
			r := ansAgent(t, e, netns, nil, args...)
			if strings.Contains(r.stdout+r.stderr, "ans-eng-pw") {
				t.Errorf("agent %s prints the engine proxy's password", strings.Join(args, " "))
			}
		}

		ansFill(t, small, 96)
		d = ansDoctor(t, e, netns, nil, 20)
		if f := d.want(t, "vm.disk", "fail"); !strings.Contains(f.Summary, "full") || !strings.Contains(f.Fix, "docker builder prune") {
			t.Errorf("vm.disk at 96%%: %s / %s", f.Summary, f.Fix)
		}
		ansFill(t, small, 88)
		d = ansDoctor(t, e, netns, nil, 0)
		d.want(t, "vm.disk", "warn")
	})
}

// ansArtifacts is where the tests leave pictures for people to look at.
func ansArtifacts(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("DOCKPROBE_E2E_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "dockprobe-e2e-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestAnswersNetworkPictureInChromium: the HTML report of the engine seen
// from a host path of MTU 1400 opens with the summary card and the
// network picture; headless Chromium lays the SVG out at its size with no
// console error, and a screenshot of the page is written for people.
// `agent probe -o svg` gives the same picture alone, well-formed.
func TestAnswersNetworkPictureInChromium(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ee *engineEnv) {
		e := ansOn(ee)
		netns := ansHostNetns(t, 1400)
		r := ansAgent(t, e, netns, nil, "probe", "-o", "html")
		if r.code != 0 {
			t.Fatalf("agent probe -o html: exit %d\n%s", r.code, r.stderr)
		}
		dir := t.TempDir()
		page := filepath.Join(dir, "report.html")
		if err := os.WriteFile(page, []byte(r.stdout), 0o644); err != nil {
			t.Fatal(err)
		}
		dom, console := chromium(t, dir, "file://"+page)
		for _, want := range []string{`data-ready="1"`, `id="summary"`, `<svg xmlns="http://www.w3.org/2000/svg" id="netpic"`,
			"Docker subnet 192.168.65.0/24", "host.docker.internal → 192.168.65.254", "C: → /run/desktop/mnt/host/c", "Kubernetes pods 10.1.0.0/16",
			"ansh0 198.51.100.2/24 MTU 1400", `<g id="eth0"><rect x="410" y="`} {
			if !strings.Contains(dom, want) {
				t.Errorf("the rendered page lacks %q", want)
			}
		}
		if !regexp.MustCompile(`<g id="eth0"><rect [^>]*stroke="#bf8700"`).MatchString(dom) {
			t.Error("eth0 (MTU 1500 over a 1400 host path) is not drawn in the warning's colour")
		}
		m := regexp.MustCompile(`data-picture="(\d+)x(\d+)"`).FindStringSubmatch(dom)
		if m == nil || m[1] != "1160" || m[2] == "0" {
			t.Errorf("the picture's laid-out size is %v, want 1160 wide and some height", m)
		}
		for _, line := range strings.Split(console, "\n") {
			if strings.Contains(line, "CONSOLE") || strings.Contains(line, "Uncaught") || strings.Contains(line, "Content Security Policy") {
				t.Errorf("browser console: %s", line)
			}
		}

		// A screenshot of the page, for people to look at.
		shot := filepath.Join(ansArtifacts(t), "report-network-picture.png")
		_ = os.Remove(shot)
		ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
			"--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage", "--hide-scrollbars",
			"--user-data-dir="+filepath.Join(dir, "profile-shot"), "--window-size=1280,1400", "--screenshot="+shot, "file://"+page)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("chromium --screenshot: %v\n%s", err, out)
		}
		if st, err := os.Stat(shot); err != nil || st.Size() < 10_000 {
			t.Fatalf("no screenshot at %s (%v)", shot, err)
		}
		t.Logf("screenshot: %s", shot)

		s := ansAgent(t, e, netns, nil, "probe", "-o", "svg")
		if s.code != 0 || !strings.HasPrefix(s.stdout, `<?xml version="1.0" encoding="UTF-8"?>`) {
			t.Fatalf("agent probe -o svg: exit %d\n%.300s\n%s", s.code, s.stdout, s.stderr)
		}
		dec := xml.NewDecoder(strings.NewReader(s.stdout))
		for {
			if _, err := dec.Token(); err == io.EOF {
				break
			} else if err != nil {
				t.Fatalf("agent probe -o svg is not well-formed: %v", err)
			}
		}
		if err := os.WriteFile(filepath.Join(ansArtifacts(t), "network-picture.svg"), []byte(s.stdout), 0o644); err != nil {
			t.Fatal(err)
		}
	})
}
