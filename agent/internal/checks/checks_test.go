package checks

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/dockprobe/dockprobe/agent/internal/knowledge"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

func load(t *testing.T, name string) *probev1.Report {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".report.json"))
	if err != nil {
		t.Fatal(err)
	}
	rep := &probev1.Report{}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(b, rep); err != nil {
		t.Fatal(err)
	}
	rep.Findings, rep.Knowledge = nil, nil
	return rep
}

// run analyses rep and returns its findings by ID.
func run(rep *probev1.Report) map[string]*probev1.Finding {
	knowledge.Analyze(rep, nil)
	m := map[string]*probev1.Finding{}
	for _, f := range Run(rep) {
		m[f.Id] = f
	}
	return m
}

// want is "status" or "status severity" per check ID.
func expect(t *testing.T, got map[string]*probev1.Finding, want map[string]string) {
	t.Helper()
	for id, w := range want {
		f := got[id]
		if f == nil {
			t.Errorf("%s: no finding", id)
			continue
		}
		st, sev, _ := strings.Cut(w, " ")
		if f.Status != st || (sev != "" && f.Severity != sev) {
			t.Errorf("%s = %s/%s (%s), want %s\n  evidence: %q", id, f.Status, f.Severity, f.Summary, w, f.Evidence)
		}
	}
}

func TestEveryCheckHasOneFinding(t *testing.T) {
	rep := load(t, "desktop")
	fs := Run(rep)
	if len(fs) != len(All()) {
		t.Fatalf("%d findings for %d checks", len(fs), len(All()))
	}
	ids := map[string]bool{}
	for _, c := range All() {
		if ids[c.ID] || c.Title == "" {
			t.Errorf("check %q: duplicate ID or no title", c.ID)
		}
		ids[c.ID] = true
	}
	// Most severe first.
	for i := 1; i < len(fs); i++ {
		if Rank(fs[i].Severity) > Rank(fs[i-1].Severity) {
			t.Errorf("findings not sorted: %s after %s", fs[i].Severity, fs[i-1].Severity)
		}
	}
	// docs/findings.md documents every ID.
	doc, err := os.ReadFile("../../../docs/findings.md")
	if err != nil {
		t.Fatal(err)
	}
	for id := range ids {
		if !strings.Contains(string(doc), "`"+id+"`") {
			t.Errorf("docs/findings.md does not document %s", id)
		}
	}
}

// TestDesktopCurrent is the Docker Desktop (WSL 2) layout with current
// flags (.254), a 9p C: drive shared under /run/desktop and private under
// /mnt/host, Kubernetes on.
func TestDesktopCurrent(t *testing.T) {
	rep := load(t, "desktop")
	rep.Host = &probev1.Host{Os: "windows", Routes: []*probev1.Route{
		{Destination: "default", Gateway: "10.0.0.1", Device: "Wi-Fi"},
		{Destination: "10.0.0.0/24", Device: "Wi-Fi"},
		{Destination: "127.0.0.0/8", Device: "Loopback Pseudo-Interface 1"},
	}}
	got := run(rep)
	expect(t, got, map[string]string{
		IDProbeRan: "pass ok", IDDaemonFound: "pass", IDDaemonConfigJSON: "pass", IDDaemonConflicts: "pass",
		IDDaemonUnknownKeys: "pass", IDDaemonDefaults: "pass ok", IDNetSubnet: "pass ok", IDHostRoutes: "pass",
		IDNetOverlap: "pass ok", IDNetNextSubnet: "pass info", IDNetKubernetes: "pass info",
		IDNamesHostGateway: "pass ok", IDSharesHostPath: "pass ok",
	})
	if s := got[IDNetNextSubnet].Summary; !strings.Contains(s, "172.18.0.0/16") {
		t.Errorf("next subnet: %s", s)
	}
	ev := strings.Join(got[IDSharesHostPath].Evidence, "\n")
	for _, w := range []string{"mount 1126 /run/desktop/mnt/host/c: 9p C:\\ root / dev 0:57 propagation shared", "mount 1203 /mnt/host/c", "propagation private", "same filesystem and root as /run/desktop/mnt/host/c"} {
		if !strings.Contains(ev, w) {
			t.Errorf("hostPath evidence lacks %q:\n%s", w, ev)
		}
	}
}

// TestDesktopOlderFlags: Docker Desktop before .254, with
// --swarm-default-advertise-addr=eth0 and --host-gateway-ip 192.168.65.2.
func TestDesktopOlderFlags(t *testing.T) {
	rep := load(t, "desktop")
	for _, f := range rep.Daemon.Flags {
		switch f.Name {
		case "host-gateway-ip":
			f.Value = "192.168.65.2"
		case "swarm-default-advertise-addr":
			f.Value = "eth0"
		}
	}
	rep.Engine.HostGatewayIp = "192.168.65.2"
	got := run(rep)
	expect(t, got, map[string]string{IDDaemonDefaults: "pass info", IDNamesHostGateway: "pass ok", IDNetSubnet: "pass ok"})
	ev := strings.Join(got[IDDaemonDefaults].Evidence, "\n")
	if !strings.Contains(ev, "--host-gateway-ip 192.168.65.2: older Docker Desktop") || !strings.Contains(ev, "--swarm-default-advertise-addr=eth0: older") {
		t.Errorf("evidence:\n%s", ev)
	}
}

func TestHostGatewayDisagrees(t *testing.T) {
	rep := load(t, "desktop")
	rep.Engine.HostGatewayIp = "172.17.0.1"
	expect(t, run(rep), map[string]string{IDNamesHostGateway: "fail error"})
	rep = load(t, "desktop")
	rep.Engine.HostGatewayIp = ""
	expect(t, run(rep), map[string]string{IDNamesHostGateway: "warn warning"})
}

// TestVPNOverlap: a VPN on the host routes 172.18.0.0/15 and 192.168.64.0/22.
func TestVPNOverlap(t *testing.T) {
	rep := load(t, "desktop")
	rep.Host = &probev1.Host{Os: "windows", Routes: []*probev1.Route{
		{Destination: "172.18.0.0/15", Gateway: "10.8.0.1", Device: "vpn0"},
		{Destination: "192.168.64.0/22", Gateway: "10.8.0.1", Device: "vpn0"},
		{Destination: "10.0.0.0/8", Gateway: "10.8.0.1", Device: "vpn0"},
	}}
	got := run(rep)
	expect(t, got, map[string]string{IDNetOverlap: "fail error", IDNetNextSubnet: "warn warning"})
	ev := strings.Join(got[IDNetOverlap].Evidence, "\n")
	for _, w := range []string{
		"the Docker subnet 192.168.65.0/24 overlaps host route 192.168.64.0/22 via 10.8.0.1 dev vpn0",
		"the Kubernetes pod network (cni0) 10.1.0.0/16 overlaps host route 10.0.0.0/8",
		"address pool 172.18.0.0/16 (size /16, default) 172.18.0.0/16 overlaps host route 172.18.0.0/15",
	} {
		if !strings.Contains(ev, w) {
			t.Errorf("evidence lacks %q:\n%s", w, ev)
		}
	}
}

// TestOwnBridgeIsNoConflict: agent and engine on one Linux machine; the
// host's docker0 route is the engine's own bridge.
func TestOwnBridgeIsNoConflict(t *testing.T) {
	rep := load(t, "lkenv-user-network")
	rep.Host = &probev1.Host{Os: "linux",
		Interfaces: []*probev1.Interface{{Name: "docker0", Addresses: []*probev1.Address{{Family: "inet", Cidr: "172.17.0.1/16"}}}},
		Routes:     []*probev1.Route{{Destination: "172.17.0.0/16", Device: "docker0"}}}
	expect(t, run(rep), map[string]string{IDNetOverlap: "pass ok"})
}

func TestDaemonConfigProblems(t *testing.T) {
	rep := load(t, "desktop")
	rep.Daemon.Config = nil
	rep.Daemon.ConfigRaw = "{\n  \"experimental\": false,\n}\n"
	rep.Daemon.ConfigError = `invalid JSON: line 3, column 1: invalid character '}' looking for beginning of object key string: "}"`
	got := run(rep)
	expect(t, got, map[string]string{IDDaemonConfigJSON: "fail error", IDDaemonConflicts: "skip", IDDaemonUnknownKeys: "skip"})
	if Worst(Run(rep)) != Error {
		t.Error("worst is not error")
	}

	rep = load(t, "desktop")
	cfg, _ := structpb.NewValue(map[string]any{"experimantal": true, "host-gateway-ip": "192.168.65.2"})
	rep.Daemon.Config = cfg
	got = run(rep)
	expect(t, got, map[string]string{IDDaemonConfigJSON: "pass", IDDaemonConflicts: "fail error", IDDaemonUnknownKeys: "fail error"})
	if ev := strings.Join(got[IDDaemonUnknownKeys].Evidence, ""); !strings.Contains(ev, `did you mean "experimental"?`) {
		t.Errorf("no suggestion: %s", ev)
	}
}

// TestProbeBlockedByECI: the reduced report when Enhanced Container
// Isolation refuses --pid=host: only the engine's facts.
func TestProbeBlockedByECI(t *testing.T) {
	full := load(t, "desktop")
	rep := &probev1.Report{Engine: full.Engine, Errors: []*probev1.SectionError{{Section: "probe", Code: "Unavailable",
		Message: "the engine refused to start the probe container: Error response from daemon: sysbox containers can't share namespaces [pid] with the host (because they use the linux user-namespace for isolation)"}}}
	got := run(rep)
	expect(t, got, map[string]string{IDProbeRan: "fail error", IDDaemonFound: "skip", IDDaemonConfigJSON: "skip",
		IDNetRoles: "skip", IDSharesHostPath: "skip", IDNetNextSubnet: "pass info", IDHostRoutes: "skip"})
	if !strings.Contains(got[IDProbeRan].Summary, "Enhanced Container Isolation") || got[IDProbeRan].DocUrl != docECI {
		t.Errorf("probe.ran = %v", got[IDProbeRan])
	}
	cause, _, _ := Classify("Windows containers", nil)
	if !strings.Contains(cause, "Windows containers") {
		t.Errorf("windows: %s", cause)
	}
	cause, _, _ = Classify("start: operation not permitted", &probev1.Engine{SecurityOptions: []string{"name=seccomp,profile=default", "name=rootless"}})
	if !strings.Contains(cause, "rootless") {
		t.Errorf("rootless: %s", cause)
	}
}

// TestLinuxKitCapture is the LinuxKit-shaped engine's own report: every
// check passes, but for net.mtu (the machine it was captured on really has
// MTU 1400 on its default route and 1500 in the VM) and issue 13's checks
// whose facts the capture predates (skip).
func TestLinuxKitCapture(t *testing.T) {
	got := run(load(t, "lkenv-user-network"))
	expect(t, got, map[string]string{IDNetMTU: "warn warning"})
	for id, f := range got {
		predates := map[string]bool{IDTargetAncestry: true, IDVMDisk: true, IDVMClock: true, IDNetForwarding: true, IDVMMemory: true, IDSharesSlowBinds: true}
		if id == IDNetMTU || (predates[id] && f.Status == Skip) {
			continue
		}
		if f.Status != Pass {
			t.Errorf("%s = %s: %s %q", id, f.Status, f.Summary, f.Evidence)
		}
	}
}

func TestPlainLinuxSkipsDesktopChecks(t *testing.T) {
	rep := load(t, "lkenv-user-network")
	rep.Engine.Os = "Debian GNU/Linux 12"
	rep.Daemon.Flags = []*probev1.Flag{{Name: "H", Value: "fd://", HasValue: true}}
	rep.Interfaces = slicesDelete(rep.Interfaces, "services1")
	rep.Mounts = nil
	expect(t, run(rep), map[string]string{IDNetSubnet: "skip", IDDaemonDefaults: "skip", IDSharesHostPath: "skip"})
}

func slicesDelete(ifs []*probev1.Interface, name string) []*probev1.Interface {
	var out []*probev1.Interface
	for _, i := range ifs {
		if i.Name != name {
			out = append(out, i)
		}
	}
	return out
}

func TestSpecialNames(t *testing.T) {
	dns := func(name, addr, errMsg string) *probev1.NameLookup {
		l := &probev1.NameLookup{Name: name, Source: "dns 192.168.65.7 (the target's resolv.conf)", Error: errMsg, Milliseconds: 3}
		if addr != "" {
			l.Addresses = []string{addr}
		}
		return l
	}
	hosts := &probev1.NameLookup{Name: "host.docker.internal", Source: "target /etc/hosts", Error: "not in /etc/hosts"}
	tests := []struct {
		name   string
		names  []*probev1.NameLookup
		status string
		sev    string
	}{
		{"Docker Desktop's DNS agrees", []*probev1.NameLookup{hosts, dns("host.docker.internal", "192.168.65.254", ""), dns("gateway.docker.internal", "192.168.65.1", "")}, Pass, OK},
		{"DNS disagrees with host-gateway", []*probev1.NameLookup{dns("host.docker.internal", "192.168.65.2", "")}, Warn, Warning},
		{"pinned in /etc/hosts, stale", []*probev1.NameLookup{{Name: "host.docker.internal", Source: "target /etc/hosts", Addresses: []string{"10.0.0.5"}}}, Warn, Warning},
		{"resolver never answers", []*probev1.NameLookup{dns("host.docker.internal", "", "no answer within the deadline")}, Warn, Warning},
		{"resolver not asked (across a router)", []*probev1.NameLookup{hosts, dns("host.docker.internal", "", "not asked: 10.255.255.53 is not on the VM's own link")}, Pass, Info},
	}
	for _, tt := range tests {
		rep := load(t, "desktop")
		rep.Names = tt.names
		f := run(rep)[IDNamesSpecial]
		if f.Status != tt.status || f.Severity != tt.sev {
			t.Errorf("%s: %s/%s %s %q", tt.name, f.Status, f.Severity, f.Summary, f.Evidence)
		}
	}
}

func TestEffectiveConfigEvidence(t *testing.T) {
	f := run(load(t, "desktop"))[IDDaemonEffective]
	ev := strings.Join(f.Evidence, "\n")
	for _, w := range []string{
		"host-gateway-ip = 192.168.65.254 (flag: --host-gateway-ip 192.168.65.254)",
		`builder = {"gc":{"defaultKeepStorage":"20GB","enabled":true}} (config: "builder" in /run/config/docker/daemon.json)`,
		`experimental = false (config: "experimental" in /run/config/docker/daemon.json)`,
	} {
		if !strings.Contains(ev, w) {
			t.Errorf("evidence lacks %q:\n%s", w, ev)
		}
	}
	if f.Status != Pass || !strings.Contains(f.Summary, "from flags, 2 from /run/config/docker/daemon.json") {
		t.Errorf("%s: %s", f.Status, f.Summary)
	}
}

// TestHostPathWithKubeletView: the Docker Desktop layout with kubelet in a
// mount namespace of its own that has only the /run/desktop path.
func TestHostPathWithKubeletView(t *testing.T) {
	rep := load(t, "desktop")
	var desk, mnt *probev1.Mount
	for _, m := range rep.Mounts {
		switch m.MountPoint {
		case "/run/desktop/mnt/host/c":
			desk = m
		case "/mnt/host/c":
			mnt = m
		}
	}
	rep.MountViews = []*probev1.MountView{
		{Pid: 143, Comm: "dockerd", MntNamespace: "mnt:[4026532380]", Mounts: []*probev1.Mount{desk, mnt}},
		{Pid: 2231, Comm: "kubelet", MntNamespace: "mnt:[4026532511]", Mounts: []*probev1.Mount{desk}},
	}
	f := run(rep)[IDSharesHostPath]
	if f.Status != Pass || !strings.Contains(f.Summary, "kubelet's mount namespace (kubelet 2231 (mnt:[4026532511])) lacks /mnt/host/c") {
		t.Errorf("%s: %s", f.Status, f.Summary)
	}
	// Without the shared propagation, hostPath cannot rely on it.
	desk.Propagation = "private"
	if f := run(rep)[IDSharesHostPath]; f.Status != Warn {
		t.Errorf("private /run/desktop: %s %s", f.Status, f.Summary)
	}
}

// cmdlineFlags reads a /proc/<pid>/cmdline capture into flags the way the
// probe reports them (name without dashes; "--a=b" and "--a b").
func cmdlineFlags(t *testing.T, name string) []*probev1.Flag {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	argv := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
	var out []*probev1.Flag
	for i := 1; i < len(argv); i++ {
		n := strings.TrimLeft(argv[i], "-")
		if k, v, ok := strings.Cut(n, "="); ok {
			out = append(out, &probev1.Flag{Name: k, Value: v, HasValue: true})
			continue
		}
		f := &probev1.Flag{Name: n}
		if i+1 < len(argv) && !strings.HasPrefix(argv[i+1], "-") {
			f.Value, f.HasValue = argv[i+1], true
			i++
		}
		out = append(out, f)
	}
	return out
}

// TestDesktopContainerdFlagSet: a Docker Desktop dockerd with its own
// containerd socket and no --config-file (captured cmdline).
func TestDesktopContainerdFlagSet(t *testing.T) {
	rep := load(t, "desktop")
	rep.Daemon.Flags = cmdlineFlags(t, "desktop-containerd.cmdline")
	got := run(rep)
	expect(t, got, map[string]string{IDDaemonDefaults: "pass info", IDNetSubnet: "pass ok", IDNamesHostGateway: "pass ok"})
	ev := strings.Join(got[IDDaemonDefaults].Evidence, "\n")
	for _, w := range []string{"--config-file not given", "--containerd /var/run/desktop-containerd/containerd.sock differs"} {
		if !strings.Contains(ev, w) {
			t.Errorf("evidence lacks %q:\n%s", w, ev)
		}
	}
}

// TestRootlessFlagSet: a rootless dockerd (captured cmdline) is not
// Docker Desktop: no Docker subnet, no Desktop defaults.
func TestRootlessFlagSet(t *testing.T) {
	rep := load(t, "lkenv-user-network")
	rep.Engine.Os = "Ubuntu 24.04 LTS"
	rep.Daemon.Flags = cmdlineFlags(t, "rootless.cmdline")
	rep.Interfaces = slicesDelete(rep.Interfaces, "services1")
	rep.Engine.HostGatewayIp = "172.17.0.1"
	got := run(rep)
	expect(t, got, map[string]string{IDNetSubnet: "skip", IDDaemonDefaults: "skip", IDNamesHostGateway: "pass ok"})
}

// TestContainerdHostSkipsDockerdChecks: on a containerd host (nerdctl) the
// dockerd checks are skipped, never failed.
func TestContainerdHostSkipsDockerdChecks(t *testing.T) {
	rep := &probev1.Report{
		Target: &probev1.Target{Pid: 300, Method: "containerd-daemon"},
		Daemon: &probev1.Daemon{Found: true, Pid: 300, Argv: []string{"containerd", "--config", "/etc/containerd/config.toml"}},
		Engine: &probev1.Engine{},
	}
	for _, f := range Run(rep) {
		switch f.GetId() {
		case IDDaemonFound, IDDaemonConfigJSON, IDDaemonConflicts, IDDaemonUnknownKeys, IDDaemonEffective, IDDaemonDefaults, IDNamesHostGateway, IDNetNextSubnet:
			if f.GetStatus() != Skip {
				t.Errorf("%s on a containerd host: status %s (%s), want skip", f.GetId(), f.GetStatus(), f.GetSummary())
			}
		}
	}
}

// An overlap with an address pool that no network uses yet breaks nothing
// today: a warning. One with a network in use is an error (issue 11).
func TestPoolOnlyOverlapIsAWarning(t *testing.T) {
	rep := load(t, "desktop")
	rep.Host = &probev1.Host{Os: "windows", Routes: []*probev1.Route{
		{Destination: "172.20.0.0/16", Gateway: "10.8.0.1", Device: "vpn0"},
	}}
	got := run(rep)
	expect(t, got, map[string]string{IDNetOverlap: "warn warning"})
	rep.Host.Routes = append(rep.Host.Routes, &probev1.Route{Destination: "172.17.0.0/16", Gateway: "10.8.0.1", Device: "vpn0"})
	expect(t, run(rep), map[string]string{IDNetOverlap: "fail error"})
}
