package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dockprobe/dockprobe/proto/probe/v1/contract"
)

// The nerdctl runtime (issue 7) against the real thing: containerd driven by
// nerdctl v1 (e2e/tools/install-nerdctl.sh), in two layouts: the suite's
// LinuxKit-shaped engine (dockerd and containerd), and a containerd-only one
// (LK_RUNTIME=containerd: Rancher Desktop, Lima, Finch, colima).
//
// nerdctl runs inside the environment (a wrapper enters its mount and
// network namespaces), as `lima nerdctl` and Rancher Desktop's nerdctl.exe
// run it inside their VM: the client creates the stdio FIFOs the shim
// opens, so it must see the same /run as containerd.

// nctl is a nerdctl to run and the containerd namespace the tests use:
// the environment's netns name, so that the containers' cgroups
// (/<namespace>/<id>) are below the cgroup parent lkenv down removes.
type nctl struct{ path, ns string }

// ctrSecrets are planted in the containerd-only environment's config.
var ctrSecrets = []string{"S3cret-ctr-Passw0rd", "YWxpY2U6UzNjcmV0LWN0cg==", "idtok-ctr-0123456789"}

// cniPath is where Debian's containernetworking-plugins installs them.
const cniPath = "/usr/lib/cni"

// nerdctlIn writes a "nerdctl" that runs inside env's namespaces, with its
// data root and CNI configuration in env's state directory (removed by
// lkenv down) and Debian's CNI plugins (containernetworking-plugins), and
// returns its path. It execs, so signals reach nerdctl itself.
func nerdctlIn(t *testing.T, env map[string]string) nctl {
	t.Helper()
	bin, err := exec.LookPath("nerdctl")
	if err != nil {
		t.Fatalf("nerdctl is not installed (run e2e/tools/install-nerdctl.sh): %v", err)
	}
	if _, err := os.Stat(filepath.Join(cniPath, "bridge")); err != nil {
		t.Fatalf("CNI plugins missing (apt-get install containernetworking-plugins): %v", err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "nerdctl")
	script := "#!/bin/sh\nexec nsenter --mount=/proc/" + env["LK_HOLDER_PID"] + "/ns/mnt --net=" + env["LK_NETNS_PATH"] +
		" -- " + bin + " --data-root " + env["LK_STATE"] + "/nerdctl --cni-path " + cniPath +
		" --cni-netconfpath " + env["LK_STATE"] + "/cni \"$@\"\n"
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return nctl{path: path, ns: env["LK_NETNS"]}
}

// runAgentEnv runs the agent with extra environment.
func runAgentEnv(t *testing.T, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, agentBin, args...)
	cmd.Env = append(os.Environ(), env...)
	return runResult(t, cmd)
}

// noDocker is an environment where no Docker engine answers.
func noDocker(t *testing.T) []string {
	return []string{"DOCKER_HOST=unix://" + filepath.Join(t.TempDir(), "no-docker.sock"), "DOCKER_CONTEXT="}
}

// noDockerByContext makes the current docker context (not DOCKER_HOST,
// which names an engine explicitly and so is never replaced by nerdctl)
// point at a socket nobody listens on.
func noDockerByContext(t *testing.T) []string {
	dir := t.TempDir()
	const name = "dead"
	sum := sha256.Sum256([]byte(name))
	meta := filepath.Join(dir, "contexts", "meta", hex.EncodeToString(sum[:]))
	if err := os.MkdirAll(meta, 0o755); err != nil {
		t.Fatal(err)
	}
	host := "unix://" + filepath.Join(dir, "no-docker.sock")
	files := map[string]string{
		filepath.Join(dir, "config.json"): `{"currentContext":"` + name + `"}`,
		filepath.Join(meta, "meta.json"):  `{"Name":"` + name + `","Metadata":{},"Endpoints":{"docker":{"Host":"` + host + `"}}}`,
	}
	for f, content := range files {
		if err := os.WriteFile(f, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return []string{"DOCKER_CONFIG=" + dir, "DOCKER_HOST=", "DOCKER_CONTEXT="}
}

func nerdctlReport(t *testing.T, nerdctl nctl, extra ...string) (map[string]any, []byte) {
	t.Helper()
	args := append([]string{"probe", "-o", "json", "--runtime", "nerdctl", "--nerdctl", nerdctl.path, "--namespace", nerdctl.ns}, extra...)
	r := runAgentEnv(t, noDocker(t), args...)
	if r.code != 0 {
		t.Fatalf("agent %s exited %d\nstderr: %s", strings.Join(args, " "), r.code, r.stderr)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, r.stdout)
	}
	return doc, []byte(r.stdout)
}

// probesIn lists the probe containers nerdctl sees, running or not.
func probesIn(t *testing.T, nerdctl nctl) string {
	t.Helper()
	out, err := exec.Command(nerdctl.path, "--namespace", nerdctl.ns, "ps", "-a", "-q", "--filter", "label=io.dockprobe.probe").CombinedOutput()
	if err != nil {
		t.Fatalf("nerdctl ps: %v\n%s", err, out)
	}
	return strings.TrimSpace(string(out))
}

func requireNoNerdctlProbes(t *testing.T, nerdctl nctl, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		left := probesIn(t, nerdctl)
		if left == "" {
			return
		}
		if time.Now().After(deadline) {
			// What is still running for this namespace says which side held on.
			out, _ := exec.Command(nerdctl.path, "--namespace", nerdctl.ns, "ps", "-a", "--no-trunc").CombinedOutput()
			ps, _ := exec.Command("sh", "-c", "ps -eo pid,ppid,stat,etime,args | grep -F -- '"+nerdctl.ns+"' | grep -v grep | cut -c1-240").CombinedOutput()
			t.Fatalf("probe containers left after %s: %s\n%s\nprocesses:\n%s", within, left, out, ps)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// checkVM asserts what both layouts share: the LinuxKit interfaces (docker0
// only where dockerd runs), the default route and the host shares.
func checkVM(t *testing.T, doc map[string]any, withDocker bool) {
	t.Helper()
	cidrs := map[string][]string{}
	for _, it := range list(doc, "interfaces") {
		m := it.(map[string]any)
		for _, a := range m["addresses"].([]any) {
			cidrs[m["name"].(string)] = append(cidrs[m["name"].(string)], a.(map[string]any)["cidr"].(string))
		}
	}
	for _, w := range wantInterfaces {
		if w.name == "docker0" && !withDocker {
			if _, ok := cidrs["docker0"]; ok {
				t.Errorf("docker0 present in the containerd-only layout: %v", cidrs["docker0"])
			}
			continue
		}
		if !strings.Contains(strings.Join(cidrs[w.name], " "), w.cidr) {
			t.Errorf("interface %s: addresses %v, want %s", w.name, cidrs[w.name], w.cidr)
		}
	}
	route := false
	for _, r := range list(doc, "routes") {
		rm := r.(map[string]any)
		route = route || (rm["destination"] == "default" && rm["gateway"] == "192.168.65.1" && rm["device"] == "eth0")
	}
	if !route {
		t.Error("no default route via 192.168.65.1 dev eth0")
	}
	props := map[string]any{}
	for _, m := range list(doc, "mounts") {
		mm := m.(map[string]any)
		props[mm["mountPoint"].(string)] = mm["propagation"]
	}
	for _, d := range []string{"c", "d", "wsl", "wslg"} {
		if props["/run/desktop/mnt/host/"+d] != "shared" || props["/mnt/host/"+d] != "private" {
			t.Errorf("drive %s: propagation %v and %v, want shared and private", d, props["/run/desktop/mnt/host/"+d], props["/mnt/host/"+d])
		}
	}
}

func TestNerdctlContainerdOnly(t *testing.T) {
	forEachContainerd(t, func(t *testing.T, c *ctrEnv) {
		env, nerdctl := c.Env, c.Nerdctl
		// A user network, as `nerdctl network create` makes it (a CNI
		// conflist with a bridge plugin): the report must show its bridge and
		// subnet where Docker's networks go.
		if out, err := exec.Command(nerdctl.path, "network", "create", "dp-net", "--subnet", "10.4.1.0/24").CombinedOutput(); err != nil {
			t.Fatalf("nerdctl network create: %v\n%s", err, out)
		}
		// A buildkitd next to containerd, as Rancher Desktop and Finch run
		// one (a sleep by that name: its argv is what the report shows).
		buildkitd := filepath.Join(env["LK_STATE"], "bin", "buildkitd")
		if err := os.MkdirAll(filepath.Dir(buildkitd), 0o755); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("cp", "/bin/sleep", buildkitd).CombinedOutput(); err != nil {
			t.Fatalf("cp: %v\n%s", err, out)
		}
		bk := exec.Command("nsenter", "--mount=/proc/"+env["LK_HOLDER_PID"]+"/ns/mnt", "--net="+env["LK_NETNS_PATH"], "--", buildkitd, "300")
		if err := bk.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { bk.Process.Kill(); bk.Wait() })
		// Registry credentials in config.toml, as a private registry's setup
		// puts them there: they never leave the VM. The CRI image service
		// that reads them is its own plugin since containerd 2.0.
		f, err := os.OpenFile(env["LK_STATE"]+"/containerd.toml", os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		cri := "io.containerd.grpc.v1.cri"
		if !strings.HasPrefix(c.Version, "1.") {
			cri = "io.containerd.cri.v1.images"
		}
		fmt.Fprintf(f, "\n[plugins.%q.registry.configs.\"registry.example.com\".auth]\n"+
			"  username = \"alice\"\n  password = %q\n  auth = %q\n  identitytoken = %q\n", cri, ctrSecrets[0], ctrSecrets[1], ctrSecrets[2])
		f.Close()

		t0 := time.Now()
		doc, raw := nerdctlReport(t, nerdctl)
		// Findings adapted to containerd: dockerd's checks are skipped, and
		// nothing on a healthy containerd host is a failure.
		if len(list(doc, "findings")) == 0 {
			t.Error("the containerd host's report has no findings")
		}
		for _, f := range list(doc, "findings") {
			fm := f.(map[string]any)
			if fm["id"] == "daemon.found" && fm["status"] != "skip" {
				t.Errorf("daemon.found on a containerd host: %v, want skip", fm)
			}
			if fm["status"] == "fail" {
				t.Errorf("finding %v fails on a healthy containerd host: %v", fm["id"], fm["summary"])
			}
		}
		t.Logf("first run (image load included): %s", time.Since(t0).Round(time.Millisecond))
		for _, secret := range ctrSecrets {
			if bytes.Contains(raw, []byte(secret)) {
				t.Errorf("registry credential %q is in the report", secret)
			}
		}

		if err := contract.Check(raw); err != nil {
			t.Errorf("JSON contract: %v", err)
		}
		if errs := list(doc, "errors"); len(errs) != 0 {
			t.Errorf(".errors = %v, want none", errs)
		}
		if got := get(doc, "target", "method"); got != "containerd-daemon" {
			t.Errorf(".target.method = %v, want containerd-daemon (reason: %v)", got, get(doc, "target", "reason"))
		}
		if got := str(num(doc, "target", "pid")); got != env["LK_CONTAINERD_PID"] {
			t.Errorf(".target.pid = %s, want the environment's containerd %s", got, env["LK_CONTAINERD_PID"])
		}
		if got := str(num(doc, "daemon", "pid")); got != env["LK_CONTAINERD_PID"] {
			t.Errorf(".daemon.pid = %s, want %s", got, env["LK_CONTAINERD_PID"])
		}
		if exe, _ := get(doc, "daemon", "executable").(string); !strings.HasSuffix(exe, "containerd") {
			t.Errorf(".daemon.executable = %q", exe)
		}
		if got := get(doc, "daemon", "configFile"); got != env["LK_STATE"]+"/containerd.toml" {
			t.Errorf(".daemon.configFile = %v", got)
		}
		// The address's key is the config schema's: [grpc] up to containerd
		// 2.2, the grpc server plugin's table from 2.3 (config version 4).
		// The address the probe resolves from it is the same on both.
		addrKey, addrTable := []string{"daemon", "config", "grpc", "address"}, "[grpc]"
		if !strings.HasPrefix(c.Version, "1.") {
			addrKey, addrTable = []string{"daemon", "config", "plugins", "io.containerd.server.v1.grpc", "address"}, `[plugins."io.containerd.server.v1.grpc"]`
		}
		if got := get(doc, addrKey...); got != "/run/containerd/containerd.sock" {
			t.Errorf(".%s = %v (config %v, error %v)", strings.Join(addrKey, "."), got, get(doc, "daemon", "config"), get(doc, "daemon", "configError"))
		}
		if got := get(doc, "daemon", "containerdAddress"); got != "/run/containerd/containerd.sock" {
			t.Errorf(".daemon.containerdAddress = %v, want /run/containerd/containerd.sock", got)
		}
		if raw, _ := get(doc, "daemon", "configRaw").(string); !strings.Contains(raw, addrTable) {
			t.Errorf(".daemon.configRaw = %q, want the TOML text", raw)
		}
		if got := get(doc, "daemon", "dataRoot"); got != env["LK_STATE"]+"/containerd" {
			t.Errorf(".daemon.dataRoot = %v", got)
		}
		if v, _ := get(doc, "engine", "serverVersion").(string); v == "" {
			t.Error(".engine.serverVersion is empty")
		}
		nets := networks(doc)
		if nets["host"].driver != "host" || nets["none"].driver != "null" {
			t.Errorf(".engine.networks = %v, want host and none", nets)
		}
		if n := nets["dp-net"]; n.driver != "bridge" || n.subnet != "10.4.1.0/24" || n.gateway != "10.4.1.1" || !strings.HasPrefix(n.bridge, "br-") {
			t.Errorf(".engine.networks dp-net = %+v, want bridge br-..., 10.4.1.0/24 via 10.4.1.1", n)
		}
		checkVM(t, doc, false)
		foundBK := false
		for _, p := range list(doc, "processes") {
			pm := p.(map[string]any)
			if pm["comm"] == "buildkitd" {
				foundBK = true
				if argv := pm["argv"].([]any); len(argv) != 2 || argv[0] != buildkitd {
					t.Errorf("buildkitd argv = %v", argv)
				}
			}
		}
		if !foundBK {
			t.Error(".processes has no buildkitd")
		}

		// Debris of a run whose nerdctl died (an exited probe container past
		// its deadline label) is swept by the next run.
		out, err := exec.Command(nerdctl.path, "--namespace", nerdctl.ns, "run", "-d", "--name", "dockprobe-probe-stale",
			"--label", "io.dockprobe.probe=true", "--label", "io.dockprobe.deadline=1", "--net", "none",
			get(doc, "tool", "probeImage").(string), "--deadline", "1s").CombinedOutput()
		if err != nil {
			t.Fatalf("plant a stale probe: %v\n%s", err, out)
		}
		// A second run finds the image loaded and sweeps the stale one.
		t0 = time.Now()
		nerdctlReport(t, nerdctl)
		t.Logf("second run: %s", time.Since(t0).Round(time.Millisecond))
		requireNoNerdctlProbes(t, nerdctl, 10*time.Second)
	})
}

// TestNerdctlOnLinuxKit runs the nerdctl runtime against the suite's
// engine: the same VM facts as through the Docker API.
func TestNerdctlOnLinuxKit(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *engineEnv) {
		nerdctl := nerdctlIn(t, e.Env)
		doc, raw := nerdctlReport(t, nerdctl)
		if err := contract.Check(raw); err != nil {
			t.Errorf("JSON contract: %v", err)
		}
		pid := str(num(doc, "target", "pid"))
		if pid != e.Env["LK_DOCKERD_PID"] && pid != e.Env["LK_CONTAINERD_PID"] {
			t.Errorf(".target.pid = %s (%v: %v), want the environment's dockerd %s or containerd %s", pid,
				get(doc, "target", "method"), get(doc, "target", "reason"), e.Env["LK_DOCKERD_PID"], e.Env["LK_CONTAINERD_PID"])
		}
		t.Logf("target %v: %v", get(doc, "target", "method"), get(doc, "target", "reason"))
		checkVM(t, doc, true)
		requireNoNerdctlProbes(t, nerdctl, 10*time.Second)
	})
}

// TestNerdctlAutomaticWhenNoDocker: no Docker engine answers and nerdctl
// is on PATH, so `agent probe` uses it without being told.
func TestNerdctlAutomaticWhenNoDocker(t *testing.T) {
	forEachContainerd(t, func(t *testing.T, c *ctrEnv) {
		env, nerdctl := c.Env, c.Nerdctl
		r := runAgentEnv(t, append(noDocker(t), "PATH="+filepath.Dir(nerdctl.path)+":"+os.Getenv("PATH")), "probe", "-o", "json", "--namespace", nerdctl.ns)
		if r.code != 0 {
			t.Fatalf("agent probe exited %d\nstderr: %s", r.code, r.stderr)
		}
		// --namespace implies nerdctl; without it, the fallback must say so.
		// CONTAINERD_NAMESPACE (nerdctl reads it) keeps this run in the tests' namespace.
		r = runAgentEnv(t, append(noDockerByContext(t), "PATH="+filepath.Dir(nerdctl.path)+":"+os.Getenv("PATH"), "CONTAINERD_NAMESPACE="+nerdctl.ns), "probe", "-o", "json")
		if r.code != 0 || !strings.Contains(r.stderr, "using nerdctl") {
			t.Fatalf("agent probe (no flags) exited %d\nstderr: %s", r.code, r.stderr)
		}
		var doc map[string]any
		if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
			t.Fatal(err)
		}
		if got := str(num(doc, "target", "pid")); got != env["LK_CONTAINERD_PID"] {
			t.Errorf(".target.pid = %s, want %s", got, env["LK_CONTAINERD_PID"])
		}
		// Without nerdctl on PATH the Docker failure stands.
		r = runAgentEnv(t, append(noDockerByContext(t), "PATH=/usr/bin:/bin"), "probe", "-o", "json")
		if r.code != 3 {
			t.Errorf("no Docker and no nerdctl: exit %d, want 3\nstderr: %s", r.code, r.stderr)
		}
		// An engine named by DOCKER_HOST is never replaced by nerdctl.
		r = runAgentEnv(t, append(noDocker(t), "PATH="+filepath.Dir(nerdctl.path)+":"+os.Getenv("PATH")), "probe", "-o", "json")
		if r.code != 3 || strings.Contains(r.stderr, "using nerdctl") {
			t.Errorf("DOCKER_HOST set and dead: exit %d, want 3 without nerdctl\nstderr: %s", r.code, r.stderr)
		}
		requireNoNerdctlProbes(t, nerdctl, 10*time.Second)
	})
}

// TestNerdctlSIGKILLNeverLeaks kills the agent while the probe runs: the
// probe sees EOF on its stdin, exits, and nerdctl's --rm removes it.
func TestNerdctlSIGKILLNeverLeaks(t *testing.T) {
	forEachContainerd(t, func(t *testing.T, c *ctrEnv) {
		nerdctl := c.Nerdctl
		nerdctlReport(t, nerdctl) // the image is loaded before the kills
		// The agent's --debug steps: kill as nerdctl starts the probe, during
		// the handshake and during collection.
		for _, step := range []string{"nerdctl run", "handshake", "collect"} {
			cmd := exec.Command(agentBin, "--debug", "probe", "-o", "json", "--runtime", "nerdctl", "--nerdctl", nerdctl.path, "--namespace", nerdctl.ns)
			cmd.Env = append(os.Environ(), noDocker(t)...)
			stderr, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(stderr)
			killed := false
			for sc.Scan() {
				if !killed && strings.HasSuffix(sc.Text(), " "+step) {
					cmd.Process.Signal(syscall.SIGKILL)
					killed = true
				}
			}
			cmd.Wait()
			if !killed {
				t.Fatalf("the agent never reached step %q", step)
			}
			t0 := time.Now()
			requireNoNerdctlProbes(t, nerdctl, 15*time.Second)
			t.Logf("killed at %q: no probe container after %s", step, time.Since(t0).Round(10*time.Millisecond))
		}
		// A container still being created when the agent died appears late:
		// look again once everything has settled.
		time.Sleep(3 * time.Second)
		requireNoNerdctlProbes(t, nerdctl, 15*time.Second)
	})
}

func TestNerdctlUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"probe", "--runtime", "podman"},
		{"probe", "--runtime", "docker", "--namespace", "x"},
		{"-H", "unix:///x.sock", "probe", "--runtime", "nerdctl"},
	} {
		if r := runAgentEnv(t, nil, args...); r.code != 2 {
			t.Errorf("agent %v: exit %d, want 2\nstderr: %s", args, r.code, r.stderr)
		}
	}
}
