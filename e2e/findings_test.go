package e2e

import (
	"bytes"
	"context"
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

// The tests of issue 3: findings, `agent doctor` and `agent path` against
// the LinuxKit-shaped engine, with variants the tests make themselves and
// undo: a custom Docker subnet, Kubernetes off, a host route in the test's
// own network namespace, a user network with a running container, a
// broken daemon.json. None of them lets the engine allocate a network
// subnet (that would move dockerd's round-robin pool index under
// linuxkit_test.go's feet); netmap_test.go does, after it.

type finding struct {
	ID       string   `json:"id"`
	Severity string   `json:"severity"`
	Status   string   `json:"status"`
	Summary  string   `json:"summary"`
	Evidence []string `json:"evidence"`
	Fix      string   `json:"fix"`
}

type doctorDoc struct {
	Findings   []finding `json:"findings"`
	Interfaces []struct {
		Name    string `json:"name"`
		Role    string `json:"role"`
		Meaning string `json:"meaning"`
	} `json:"interfaces"`
	Knowledge struct {
		DockerSubnet struct {
			Subnet, VMAddress, HostAddress, Gateway, SettingsSubnet string
		} `json:"dockerSubnet"`
		NextNetworkSubnet string `json:"nextNetworkSubnet"`
		Shares            []struct {
			Path, Propagation, SameFilesystemAs string
			SeenBy, NotSeenBy                   []string
		} `json:"shares"`
	} `json:"knowledge"`
	Host struct {
		Routes []struct{ Destination, Device string } `json:"routes"`
	} `json:"host"`
	Names []struct {
		Name, Source, Error string
		Addresses           []string
		Milliseconds        float64
	} `json:"names"`
}

func (d *doctorDoc) finding(t *testing.T, id string) finding {
	t.Helper()
	for _, f := range d.Findings {
		if f.ID == id {
			return f
		}
	}
	t.Fatalf("no finding %s in %d findings", id, len(d.Findings))
	return finding{}
}

func (d *doctorDoc) role(name string) string {
	for _, i := range d.Interfaces {
		if i.Name == name {
			return i.Role + ": " + i.Meaning
		}
	}
	return ""
}

// runAgent runs the agent against e (nil: no engine of the suite's; env
// then names one) with extra environment, optionally inside the network
// namespace netns (via ip netns exec).
func runAgent(t *testing.T, e *engineEnv, env []string, netns string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	argv := append([]string{agentBin}, args...)
	if netns != "" {
		argv = append([]string{"ip", "netns", "exec", netns}, argv...)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "DOCKER_CONTEXT=")
	if e != nil {
		cmd.Env = append(cmd.Env, "DOCKER_HOST="+e.Host)
	}
	cmd.Env = append(cmd.Env, env...)
	return runResult(t, cmd)
}

// doctor runs `agent doctor -o json` and decodes it; wantCode is the exit
// status the test expects.
func doctor(t *testing.T, e *engineEnv, env []string, netns string, wantCode int) *doctorDoc {
	t.Helper()
	r := runAgent(t, e, env, netns, "doctor", "-o", "json")
	if r.code != wantCode {
		t.Fatalf("agent doctor exited %d, want %d\nstderr: %s\nstdout: %.2000s", r.code, wantCode, r.stderr, r.stdout)
	}
	var d doctorDoc
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
		t.Fatalf("doctor -o json: %v\n%.2000s", err, r.stdout)
	}
	if err := contract.CheckKnowledge([]byte(r.stdout)); err != nil {
		t.Errorf("findings contract: %v", err)
	}
	return &d
}

func wantStatus(t *testing.T, d *doctorDoc, id, status string) finding {
	t.Helper()
	f := d.finding(t, id)
	if f.Status != status {
		t.Errorf("%s = %s (%s), want %s\n  evidence: %q", id, f.Status, f.Summary, status, f.Evidence)
	}
	return f
}

func TestDoctorOnLinuxKit(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *engineEnv) {
		d := doctor(t, e, nil, "", 0)
		for _, id := range []string{"probe.ran", "probe.sections", "daemon.found", "daemon.config-json", "daemon.config-conflicts",
			"daemon.config-unknown-keys", "daemon.desktop-defaults", "net.interface-roles", "net.docker-subnet",
			"host.routes", "net.host-overlap", "names.host-gateway", "shares.k8s-hostpath"} {
			wantStatus(t, d, id, "pass")
		}
		// The effective configuration, with the source of each value.
		ev := strings.Join(wantStatus(t, d, "daemon.effective-config", "pass").Evidence, "\n")
		for _, w := range []string{"host-gateway-ip = 192.168.65.254 (flag: --host-gateway-ip 192.168.65.254)",
			`builder = {"gc":{"defaultKeepStorage":"20GB","enabled":true}} (config: "builder" in /run/config/docker/daemon.json)`} {
			if !strings.Contains(ev, w) {
				t.Errorf("effective config lacks %q:\n%s", w, ev)
			}
		}
		// Interface roles: the article's five interfaces.
		for name, want := range map[string]string{
			"eth0":      "vm: the VM's own address in the Docker subnet",
			"docker0":   "bridge: Docker's default `bridge` network (172.17.0.0/16)",
			"cni0":      "kubernetes: the Kubernetes pod network",
			"services1": "services: ",
			"lo":        "loopback: ",
		} {
			if got := d.role(name); !strings.HasPrefix(got, want) {
				t.Errorf("role of %s = %q, want prefix %q", name, got, want)
			}
		}
		ds := d.Knowledge.DockerSubnet
		if ds.Subnet != "192.168.65.0/24" || ds.VMAddress != "192.168.65.3" || ds.HostAddress != "192.168.65.254" || ds.Gateway != "192.168.65.1" {
			t.Errorf("docker subnet = %+v", ds)
		}
		// Host shares: both paths, the same filesystem, shared vs private, and
		// seen from dockerd's and containerd's namespaces.
		byPath := map[string]int{}
		for i, s := range d.Knowledge.Shares {
			byPath[s.Path] = i
		}
		for _, drive := range []string{"c", "d", "wsl", "wslg"} {
			run, ok1 := byPath["/run/desktop/mnt/host/"+drive]
			mnt, ok2 := byPath["/mnt/host/"+drive]
			if !ok1 || !ok2 {
				t.Errorf("drive %s: shares %v", drive, byPath)
				continue
			}
			r, m := d.Knowledge.Shares[run], d.Knowledge.Shares[mnt]
			if r.Propagation != "shared" || m.Propagation != "private" || r.SameFilesystemAs != m.Path {
				t.Errorf("drive %s: %+v / %+v", drive, r, m)
			}
			seen := strings.Join(r.SeenBy, " ")
			if !strings.Contains(seen, "dockerd "+e.Env["LK_DOCKERD_PID"]) || !strings.Contains(seen, "containerd "+e.Env["LK_CONTAINERD_PID"]) {
				t.Errorf("drive %s seen by %q", drive, seen)
			}
		}
		f := d.finding(t, "shares.k8s-hostpath")
		if !strings.Contains(f.Summary, "/run/desktop/mnt/host/c/temp/WebApplication1") || !strings.Contains(f.Summary, "private") {
			t.Errorf("hostPath finding: %s", f.Summary)
		}
		// Names: each looked up in the VM's /etc/hosts and from its resolver
		// (here the host's resolv.conf, whose server is not on the VM's link,
		// so it is not asked; TestSpecialNamesFromTheVMResolver asks one).
		if len(d.Names) != 6 {
			t.Errorf("names = %+v", d.Names)
		}
		for _, n := range d.Names {
			if n.Source != "target /etc/hosts" && !strings.HasPrefix(n.Source, "dns ") {
				t.Errorf("name %+v", n)
			}
		}
		// The text form: one line per check.
		r := runAgent(t, e, nil, "", "doctor")
		if r.code != 0 || !strings.Contains(r.stdout, "PASS  shares.k8s-hostpath") || !strings.Contains(r.stdout, " checks: ") {
			t.Errorf("doctor text (exit %d):\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		// agent probe carries the same findings.
		doc, _ := probeJSON(t, e.Host)
		if fs := list(doc, "findings"); len(fs) != len(d.Findings) {
			t.Errorf("probe has %d findings, doctor %d", len(fs), len(d.Findings))
		}
	})
}

// TestUserNetworkVethAndBridgeNamed: a user-defined network with a running
// container; its br- interface is named by the network and its veth by the
// container. The subnet is explicit, so the pool index does not move.
func TestUserNetworkVethAndBridgeNamed(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *engineEnv) {
		net, ctr := fmt.Sprintf("know-net-%d", time.Now().UnixNano()%1e6), fmt.Sprintf("know-web-%d", time.Now().UnixNano()%1e6)
		id := docker(t, e.Host, "network", "create", "--subnet", "10.123.0.0/24", net)
		t.Cleanup(func() { exec.Command("docker", "-H", e.Host, "network", "rm", net).Run() })
		// The probe image is the container's (the agent loads it; the test
		// must not depend on an earlier test having run the agent).
		if r := agent(t, e.Host, "probe", "-o", "json"); r.code != 0 {
			t.Fatalf("agent probe exited %d: %s", r.code, r.stderr)
		}
		docker(t, e.Host, "run", "-d", "-i", "--name", ctr, "--network", net, "dockprobe/probe:"+imageTag(t, e.Host), "--deadline", "90s")
		t.Cleanup(func() { exec.Command("docker", "-H", e.Host, "rm", "-f", ctr).Run() })

		d := doctor(t, e, nil, "", 0)
		if got, want := d.role("br-"+id[:12]), fmt.Sprintf("bridge: the Docker network %q (10.123.0.0/24)", net); got != want {
			t.Errorf("br- role = %q, want %q", got, want)
		}
		found := false
		for _, i := range d.Interfaces {
			if i.Role == "veth" && strings.HasPrefix(i.Meaning, fmt.Sprintf("container %s on network %q", ctr, net)) {
				found = true
			}
		}
		if !found {
			t.Errorf("no veth named after %s on %s: %+v", ctr, net, d.Interfaces)
		}
		wantStatus(t, d, "net.interface-roles", "pass")

		// A host route in the test's own network namespace that overlaps the
		// network: the agent runs in that namespace.
		ns := e2eID() + "-know-host" // the agent's own host, per run
		exec.Command("ip", "netns", "del", ns).Run()
		for _, c := range [][]string{
			{"ip", "netns", "add", ns},
			// A VPN-like link: a veth pair that never leaves the namespace.
			{"ip", "-n", ns, "link", "add", "vpn0", "type", "veth", "peer", "name", "vpn0-p"},
			{"ip", "-n", ns, "addr", "add", "10.123.0.200/16", "dev", "vpn0"},
			{"ip", "-n", ns, "link", "set", "vpn0-p", "up"},
			{"ip", "-n", ns, "link", "set", "vpn0", "up"},
		} {
			if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
				t.Fatalf("%v: %v\n%s", c, err, out)
			}
		}
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
		// A network in use overlapping a host route is an error: doctor
		// exits 20 (issue 11).
		d = doctor(t, e, nil, ns, 20)
		f := wantStatus(t, d, "net.host-overlap", "fail")
		ev := strings.Join(f.Evidence, "\n")
		if !strings.Contains(ev, fmt.Sprintf("Docker network %q 10.123.0.0/24 overlaps host route 10.123.0.0/16 dev vpn0", net)) {
			t.Errorf("overlap evidence:\n%s", ev)
		}
		if len(d.Host.Routes) != 1 || d.Host.Routes[0].Device != "vpn0" {
			t.Errorf("host routes seen from %s: %+v", ns, d.Host.Routes)
		}

		// Only an address pool that no network uses yet (172.30.0.0/16, in
		// dockerd's default 172.28.0.0/14): a warning, and doctor exits 0.
		for _, c := range [][]string{
			{"ip", "-n", ns, "addr", "flush", "dev", "vpn0"},
			{"ip", "-n", ns, "addr", "add", "172.30.0.200/16", "dev", "vpn0"},
		} {
			if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
				t.Fatalf("%v: %v\n%s", c, err, out)
			}
		}
		d = doctor(t, e, nil, ns, 0)
		f = wantStatus(t, d, "net.host-overlap", "warn")
		if ev := strings.Join(f.Evidence, "\n"); !strings.Contains(ev, "overlaps host route 172.30.0.0/16 dev vpn0") || strings.Contains(ev, "Docker network") {
			t.Errorf("pool-only overlap evidence:\n%s", ev)
		}
	})
}

// TestKubernetesOff removes cni0, as Docker Desktop has it with
// Kubernetes disabled.
func TestKubernetesOff(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *engineEnv) {
		e.exec(t, "ip", "link", "del", "cni0")
		t.Cleanup(func() {
			e.exec(t, "ip", "link", "add", "cni0", "type", "bridge")
			e.exec(t, "ip", "addr", "add", "10.1.0.1/16", "brd", "+", "dev", "cni0")
			e.exec(t, "ip", "link", "set", "cni0", "up")
		})
		d := doctor(t, e, nil, "", 0)
		f := wantStatus(t, d, "net.kubernetes", "pass")
		if f.Severity != "ok" || !strings.Contains(f.Summary, "Kubernetes is off") {
			t.Errorf("net.kubernetes = %+v", f)
		}
		if d.role("cni0") != "" {
			t.Error("cni0 still listed")
		}
	})
}

// TestCustomDockerSubnet moves the VM to 192.168.100.3/24 (as Settings >
// Resources > Network would) while dockerd keeps its .65 flags, and gives
// the agent a settings-store.json asking for that subnet.
func TestCustomDockerSubnet(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *engineEnv) {
		home := t.TempDir()
		dir := filepath.Join(home, ".docker", "desktop")
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, "settings-store.json"), []byte(`{"AutoStart":true,"vpnKitCIDR":"192.168.100.0/24","KubernetesEnabled":true}`), 0o644)
		env := []string{"HOME=" + home}

		// The settings ask for a subnet the VM does not have yet: a restart is
		// pending (or Desktop moved it).
		d := doctor(t, e, env, "", 0)
		f := wantStatus(t, d, "net.docker-subnet", "warn")
		if !strings.Contains(f.Summary, "settings ask for 192.168.100.0/24") || d.Knowledge.DockerSubnet.SettingsSubnet != "192.168.100.0/24" {
			t.Errorf("settings mismatch: %+v", f)
		}

		e.exec(t, "ip", "addr", "flush", "dev", "eth0")
		e.exec(t, "ip", "addr", "add", "192.168.100.3/24", "brd", "+", "dev", "eth0")
		e.exec(t, "ip", "route", "replace", "default", "via", "192.168.100.1", "dev", "eth0", "onlink")
		t.Cleanup(func() {
			e.exec(t, "ip", "addr", "flush", "dev", "eth0")
			e.exec(t, "ip", "addr", "add", "192.168.65.3/24", "brd", "+", "dev", "eth0")
			e.exec(t, "ip", "route", "replace", "default", "via", "192.168.65.1", "dev", "eth0", "onlink")
		})
		d = doctor(t, e, env, "", 0)
		ds := d.Knowledge.DockerSubnet
		if ds.Subnet != "192.168.100.0/24" || ds.VMAddress != "192.168.100.3" || ds.Gateway != "192.168.100.1" {
			t.Errorf("custom subnet = %+v", ds)
		}
		// dockerd still says --host-gateway-ip 192.168.65.254: outside.
		f = wantStatus(t, d, "net.docker-subnet", "warn")
		if !strings.Contains(f.Summary, "192.168.65.254") || !strings.Contains(f.Summary, "outside the Docker subnet 192.168.100.0/24") {
			t.Errorf("custom subnet finding: %+v", f)
		}
		// Without the stale flag the same VM is just "not the default".
		if got := d.role("eth0"); !strings.HasPrefix(got, "vm:") {
			t.Errorf("eth0 role %q", got)
		}
	})
}

// TestDaemonConfigBroken edits the VM's daemon.json the way a user might in
// Settings > Docker Engine; the running dockerd is unaffected, but it would
// refuse to start.
func TestDaemonConfigBroken(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *engineEnv) {
		const file = "/run/config/docker/daemon.json"
		orig := e.exec(t, "cat", file)
		t.Cleanup(func() {
			cmd := e.command("exec", "sh", "-c", "cat > "+file)
			cmd.Stdin = strings.NewReader(orig)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("restore %s: %v\n%s", file, err, out)
			}
		})

		e.exec(t, "sh", "-c", `printf '{"experimantal": true, "host-gateway-ip": "192.168.65.2"}' > `+file)
		d := doctor(t, e, nil, "", 20)
		f := wantStatus(t, d, "daemon.config-unknown-keys", "fail")
		if !strings.Contains(strings.Join(f.Evidence, " "), `did you mean "experimental"?`) {
			t.Errorf("unknown keys: %+v", f)
		}
		wantStatus(t, d, "daemon.config-conflicts", "fail")

		e.exec(t, "sh", "-c", `printf '{\n  "experimental": false,\n}\n' > `+file)
		d = doctor(t, e, nil, "", 20)
		f = wantStatus(t, d, "daemon.config-json", "fail")
		if !strings.Contains(strings.Join(f.Evidence, " "), "line 3") {
			t.Errorf("invalid JSON evidence: %+v", f)
		}
		// Its dependents are skipped, not failed.
		wantStatus(t, d, "daemon.config-conflicts", "skip")
		wantStatus(t, d, "daemon.config-unknown-keys", "skip")
		r := runAgent(t, e, nil, "", "doctor")
		// 20 is ExitDoctorErrors; the findings are the output, stderr stays empty.
		if r.code != 20 || !strings.Contains(r.stdout, "FAIL  daemon.config-json") || !strings.Contains(r.stdout, "SKIP  daemon.config-conflicts") ||
			strings.TrimSpace(r.stderr) != "" {
			t.Errorf("doctor text (exit %d):\n%s\n%s", r.code, r.stdout, r.stderr)
		}
	})
}

func TestDoctorEngineUnreachable(t *testing.T) {
	r := runAgent(t, nil, []string{"DOCKER_HOST=unix:///nonexistent/dockprobe.sock"}, "", "doctor")
	if r.code != 3 || !strings.Contains(r.stdout, "FAIL  engine.reachable") {
		t.Errorf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

func TestPathTranslator(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *engineEnv) {
		r := runAgent(t, e, []string{"DOCKER_HOST=unix:///nonexistent/dockprobe.sock"}, "", "path", `C:\temp\WebApplication1`)
		for _, want := range []string{"/run/desktop/mnt/host/c/temp/WebApplication1", "C:/temp/WebApplication1", "/mnt/host/c/temp/WebApplication1", "/mnt/c/temp/WebApplication1"} {
			if r.code != 0 || !strings.Contains(r.stdout, want) {
				t.Errorf("offline path (exit %d) lacks %q:\n%s%s", r.code, want, r.stdout, r.stderr)
			}
		}
		r = runAgent(t, e, []string{"DOCKER_HOST=unix:///nonexistent/dockprobe.sock"}, "", "path", `\\wsl$\Ubuntu\mnt\wsl\shared\app`)
		if r.code != 0 || !strings.Contains(r.stdout, "Kubernetes hostPath:   /run/desktop/mnt/host/wsl/shared/app") || !strings.Contains(r.stdout, "/mnt/wsl/shared/app") {
			t.Errorf("WSL shared path (exit %d):\n%s%s", r.code, r.stdout, r.stderr)
		}
		r = runAgent(t, e, nil, "", "path", "--check", "-o", "json", "/run/desktop/mnt/host/c/temp/WebApplication1")
		var doc struct {
			Windows string `json:"windows"`
			InVM    struct {
				Mounted     bool   `json:"mounted"`
				MntMounted  bool   `json:"mntMounted"`
				Propagation string `json:"propagation"`
			} `json:"inVM"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || r.code != 0 {
			t.Fatalf("path --check: %v (exit %d)\n%s%s", err, r.code, r.stdout, r.stderr)
		}
		if doc.Windows != `C:\temp\WebApplication1` || !doc.InVM.Mounted || !doc.InVM.MntMounted || doc.InVM.Propagation != "shared" {
			t.Errorf("path --check = %+v", doc)
		}
		r = runAgent(t, e, nil, "", "path", "--check", `Q:\nowhere`)
		if r.code != 0 || !strings.Contains(r.stdout, "/run/desktop/mnt/host/q is not mounted") {
			t.Errorf("drive q (exit %d):\n%s%s", r.code, r.stdout, r.stderr)
		}
		if r := runAgent(t, e, nil, "", "path", "relative/x"); r.code != 2 {
			t.Errorf("bad path exit %d", r.code)
		}
	})
}

// TestSpecialNamesFromTheVMResolver gives the VM Docker Desktop's DNS
// layout: resolv.conf says nameserver 192.168.65.7, and a resolver there
// (e2e/tools/fakedns, inside the test's namespace) knows the special names.
// The probe asks it from inside dockerd's network namespace. Then the
// resolver is one that never answers: the lookups cost at most 2 s.
func TestSpecialNamesFromTheVMResolver(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *engineEnv) {
		bin := filepath.Join(t.TempDir(), "fakedns")
		if out, err := exec.Command("go", "build", "-o", bin, "./tools/fakedns").CombinedOutput(); err != nil {
			t.Fatalf("build fakedns: %v\n%s", err, out)
		}
		resolv := filepath.Join(t.TempDir(), "resolv.conf")
		os.WriteFile(resolv, []byte("# Docker Desktop's VM\nnameserver 192.168.65.7\n"), 0o644)
		e.exec(t, "ip", "addr", "add", "192.168.65.7/32", "dev", "vm-host0")
		t.Cleanup(func() { e.exec(t, "ip", "addr", "del", "192.168.65.7/32", "dev", "vm-host0") })
		e.exec(t, "mount", "--bind", resolv, "/etc/resolv.conf")
		t.Cleanup(func() { e.exec(t, "umount", "/etc/resolv.conf") })

		dns := e.command("exec", bin, "-addr", "192.168.65.7:53")
		var dnsLog bytes.Buffer
		dns.Stdout, dns.Stderr = &dnsLog, &dnsLog
		// Its own process group: bash, then nsenter exec'ing fakedns.
		dns.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := dns.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			syscall.Kill(-dns.Process.Pid, syscall.SIGKILL)
			dns.Wait()
		})
		time.Sleep(300 * time.Millisecond)

		d := doctor(t, e, nil, "", 0)
		got := map[string]string{}
		for _, n := range d.Names {
			if strings.HasPrefix(n.Source, "dns 192.168.65.7") {
				got[n.Name] = strings.Join(n.Addresses, ",") + n.Error
			}
		}
		want := map[string]string{"host.docker.internal": "192.168.65.254", "gateway.docker.internal": "192.168.65.1", "kubernetes.docker.internal": "127.0.0.1"}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s = %q, want %q (all: %+v)\nfakedns: %s", k, got[k], v, d.Names, dnsLog.String())
			}
		}
		f := wantStatus(t, d, "names.special", "pass")
		if f.Severity != "ok" || !strings.Contains(f.Summary, "agrees with host-gateway 192.168.65.254") {
			t.Errorf("names.special = %+v", f)
		}

		// A resolver on the VM's link that never answers.
		os.WriteFile(resolv, []byte("nameserver 192.168.65.9\n"), 0o644)
		start := time.Now()
		d = doctor(t, e, nil, "", 0)
		if el := time.Since(start); el > 20*time.Second {
			t.Errorf("doctor took %v", el)
		}
		f = wantStatus(t, d, "names.special", "warn")
		if !strings.Contains(f.Summary, "host.docker.internal does not resolve") {
			t.Errorf("names.special = %+v", f)
		}
		for _, n := range d.Names {
			if strings.HasPrefix(n.Source, "dns") && (n.Error == "" || n.Milliseconds > 2100) {
				t.Errorf("lookup %+v: want an error within 2 s", n)
			}
		}
	})
}

// TestKubeletMountNamespace starts a kubelet stand-in (a copy of sleep
// named kubelet, so the probe lists it) in a mount namespace of its own
// made the way a service container's is: a slave copy of the VM's, in
// which the shared /run/desktop/mnt/host mounts stay and the private
// /mnt/host binds are absent. The report must say which namespace sees
// which path.
func TestKubeletMountNamespace(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *engineEnv) {
		kubelet := filepath.Join(t.TempDir(), "kubelet")
		b, err := os.ReadFile("/bin/sleep")
		if err != nil {
			t.Skip("no /bin/sleep to copy")
		}
		os.WriteFile(kubelet, b, 0o755)
		cmd := e.command("exec", "unshare", "--mount", "--propagation", "slave", "sh", "-c",
			"umount /mnt/host/c /mnt/host/d /mnt/host/wsl /mnt/host/wslg && exec "+kubelet+" 120")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			cmd.Wait()
		})
		time.Sleep(500 * time.Millisecond)

		d := doctor(t, e, nil, "", 0)
		var run, mnt []string
		for _, s := range d.Knowledge.Shares {
			switch s.Path {
			case "/run/desktop/mnt/host/c":
				run = s.SeenBy
				if strings.Contains(strings.Join(s.NotSeenBy, " "), "kubelet") {
					t.Errorf("kubelet does not see %s: %+v\n%s", s.Path, s, out.String())
				}
			case "/mnt/host/c":
				mnt = s.NotSeenBy
			}
		}
		if !strings.Contains(strings.Join(run, " "), "kubelet ") {
			t.Errorf("/run/desktop/mnt/host/c seen by %q, want kubelet too\n%s", run, out.String())
		}
		if !strings.Contains(strings.Join(mnt, " "), "kubelet ") {
			t.Errorf("/mnt/host/c not seen by %q, want kubelet\n%s", mnt, out.String())
		}
		f := wantStatus(t, d, "shares.k8s-hostpath", "pass")
		ev := strings.Join(f.Evidence, "\n")
		if !strings.Contains(ev, "/mnt/host/c: ") || !strings.Contains(ev, "NOT seen by kubelet ") {
			t.Errorf("evidence: %q", f.Evidence)
		}
		// Only the processes on the VM's network are compared: not the other
		// engines that run on this test machine.
		for _, s := range d.Knowledge.Shares {
			for _, who := range append(s.SeenBy, s.NotSeenBy...) {
				pid := strings.Fields(who)[1]
				if pid != e.Env["LK_DOCKERD_PID"] && pid != e.Env["LK_CONTAINERD_PID"] && !strings.HasPrefix(who, "kubelet ") {
					t.Errorf("%s: view of %q, not the VM's", s.Path, who)
				}
			}
		}
	})
}
