package knowledge

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"

	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// load reads a report captured as `agent probe -o json`.
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
	return rep
}

func roles(rep *probev1.Report) map[string]string {
	m := map[string]string{}
	for _, i := range rep.GetInterfaces() {
		m[i.GetName()] = i.GetRole() + ": " + i.GetMeaning()
	}
	return m
}

// TestRolesLinuxKitCapture uses a report from the LinuxKit-shaped engine
// with a user network "know-net" and a running container "web" on it.
func TestRolesLinuxKitCapture(t *testing.T) {
	rep := load(t, "lkenv-user-network")
	for _, i := range rep.Interfaces {
		i.Role, i.Meaning = "", ""
	}
	Analyze(rep, map[string]string{"b19f13a9db8107a51fe2ea9b5b06c59094c358b5ef00392382d067eb602caf6a": "web"})
	got := roles(rep)
	want := map[string]string{
		"lo":              "loopback: loopback",
		"eth0":            "vm: the VM's own address in the Docker subnet (where dockerd runs)",
		"services1":       "services: Docker Desktop's service address (services1)",
		"cni0":            "kubernetes: the Kubernetes pod network: Kubernetes is enabled",
		"docker0":         "bridge: Docker's default `bridge` network (172.17.0.0/16)",
		"br-a303df56dcb9": `bridge: the Docker network "know-net" (172.18.0.0/16)`,
		"vethb79822c":     `veth: container web on network "know-net" (peer ifindex 9)`,
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s = %q, want %q", name, got[name], w)
		}
	}
	// Without names the veth still points at the container, by short id.
	rep = load(t, "lkenv-user-network")
	for _, l := range rep.ContainerLinks {
		l.ContainerName = ""
	}
	Analyze(rep, nil)
	if g := roles(rep)["vethb79822c"]; !strings.Contains(g, "container b19f13a9db81 ") {
		t.Errorf("unnamed veth = %q", g)
	}
}

func TestRolesDesktopCapture(t *testing.T) {
	rep := load(t, "desktop")
	Analyze(rep, nil)
	got := roles(rep)
	if !strings.HasPrefix(got["veth3f2a1b7"], "veth: a Kubernetes pod's link on cni0") {
		t.Errorf("veth on cni0 = %q", got["veth3f2a1b7"])
	}
	if !strings.HasPrefix(got["docker0"], "bridge: Docker's default") || !strings.HasPrefix(got["eth0"], "vm:") {
		t.Errorf("roles = %v", got)
	}
}

func flags(argv ...string) []*probev1.Flag {
	var out []*probev1.Flag
	for i := 0; i < len(argv); i++ {
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

func TestDeriveDockerSubnet(t *testing.T) {
	eth0 := func(cidr string) *probev1.Interface {
		return &probev1.Interface{Name: "eth0", Addresses: []*probev1.Address{{Family: "inet", Cidr: cidr}}}
	}
	tests := []struct {
		name       string
		rep        *probev1.Report
		settings   string
		subnet, vm string
		host       string
		isDefault  bool
		nilWant    bool
	}{
		{name: "current Desktop", rep: &probev1.Report{
			Interfaces: []*probev1.Interface{eth0("192.168.65.3/24")},
			Daemon:     &probev1.Daemon{Flags: flags("--config-file", "/run/config/docker/daemon.json", "--swarm-default-advertise-addr=192.168.65.3", "--host-gateway-ip", "192.168.65.254")},
		}, subnet: "192.168.65.0/24", vm: "192.168.65.3", host: "192.168.65.254", isDefault: true},
		{name: "older Desktop (.2, eth0), no eth0 address", rep: &probev1.Report{
			Engine: &probev1.Engine{Os: "Docker Desktop"},
			Daemon: &probev1.Daemon{Flags: flags("--swarm-default-advertise-addr=eth0", "--host-gateway-ip", "192.168.65.2")},
		}, subnet: "192.168.65.0/24", host: "192.168.65.2", isDefault: true},
		{name: "custom subnet with settings", rep: &probev1.Report{
			Interfaces: []*probev1.Interface{eth0("10.99.0.3/24")},
			Daemon:     &probev1.Daemon{Flags: flags("--config-file", "/run/config/docker/daemon.json", "--host-gateway-ip", "10.99.0.254")},
		}, settings: "10.99.0.0/24", subnet: "10.99.0.0/24", vm: "10.99.0.3", host: "10.99.0.254"},
		{name: "plain Linux: eth0 is the LAN", rep: &probev1.Report{
			Engine:     &probev1.Engine{Os: "Debian GNU/Linux 12 (bookworm)"},
			Interfaces: []*probev1.Interface{eth0("192.0.2.2/24")},
			Daemon:     &probev1.Daemon{Flags: flags("-H", "fd://")},
		}, nilWant: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds := DeriveDockerSubnet(tt.rep, tt.settings)
			if tt.nilWant {
				if ds != nil {
					t.Fatalf("got %v, want none", ds)
				}
				return
			}
			if ds == nil || ds.Subnet != tt.subnet || ds.VmAddress != tt.vm || ds.HostAddress != tt.host || ds.IsDefault != tt.isDefault || ds.SettingsSubnet != tt.settings {
				t.Fatalf("got %v", ds)
			}
		})
	}
}

func TestNextSubnet(t *testing.T) {
	pfx := func(ss ...string) []netip.Prefix {
		var out []netip.Prefix
		for _, s := range ss {
			out = append(out, netip.MustParsePrefix(s))
		}
		return out
	}
	tests := []struct {
		name  string
		pools []*probev1.AddressPool
		used  []netip.Prefix
		want  string
	}{
		{"fresh engine", DefaultPools, pfx("172.17.0.0/16"), "172.18.0.0/16"},
		{"article: each new bridge takes the next", DefaultPools, pfx("172.17.0.0/16", "172.18.0.0/16"), "172.19.0.0/16"},
		{"into the /14 pools", DefaultPools, pfx("172.17.0.0/16", "172.18.0.0/16", "172.19.0.0/16"), "172.20.0.0/16"},
		{"after the highest in use, not the hole", DefaultPools, pfx("172.17.0.0/16", "172.19.0.0/16"), "172.20.0.0/16"},
		{"wraps to the first free", DefaultPools, pfx("172.17.0.0/16", "192.168.240.0/20"), "172.18.0.0/16"},
		{"custom pools", []*probev1.AddressPool{{Base: "10.10.0.0/16", Size: 24}}, pfx("172.17.0.0/16", "10.10.0.0/24"), "10.10.1.0/24"},
		{"exhausted", []*probev1.AddressPool{{Base: "10.10.0.0/23", Size: 24}}, pfx("10.10.0.0/24", "10.10.1.0/24"), ""},
	}
	for _, tt := range tests {
		got, err := NextSubnet(tt.pools, tt.used)
		if err != nil || got != tt.want {
			t.Errorf("%s: got %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
	if _, err := NextSubnet([]*probev1.AddressPool{{Base: "10.0.0.0/16", Size: 8}}, nil); err == nil {
		t.Error("size smaller than the base: no error")
	}
}

func TestPools(t *testing.T) {
	cfg, _ := structpb.NewValue(map[string]any{"default-address-pools": []any{map[string]any{"base": "10.20.0.0/16", "size": 24.0}}})
	if p := Pools(&probev1.Daemon{Config: cfg}); len(p) != 1 || p[0].Base != "10.20.0.0/16" || p[0].Size != 24 || p[0].Source != "config" {
		t.Errorf("config pools = %v", p)
	}
	d := &probev1.Daemon{Flags: flags("--default-address-pool", "base=10.30.0.0/16,size=24")}
	if p := Pools(d); len(p) != 1 || p[0].Base != "10.30.0.0/16" || p[0].Source != "flag" {
		t.Errorf("flag pools = %v", p)
	}
	if p := Pools(nil); len(p) != len(DefaultPools) {
		t.Errorf("default pools = %v", p)
	}
}

func config(t *testing.T, m map[string]any) *structpb.Value {
	v, err := structpb.NewValue(m)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestDaemonConfigExplained(t *testing.T) {
	d := &probev1.Daemon{
		ConfigFile: "/run/config/docker/daemon.json",
		Flags:      flags("--config-file", "/run/config/docker/daemon.json", "--host-gateway-ip", "192.168.65.254", "-H", "unix:///var/run/docker.sock"),
		Config: config(t, map[string]any{
			"builder": map[string]any{"gc": map[string]any{"enabled": true}}, "experimantal": true,
			"host-gateway-ip": "192.168.65.2", "insecure-registry": []any{"r:5000"}, "hosts": []any{"tcp://0.0.0.0:2375"},
			"debug": true,
		}),
	}
	if got := Conflicts(d); !slices.Equal(got, []string{"host-gateway-ip", "hosts"}) {
		t.Errorf("Conflicts = %v", got)
	}
	got := UnknownKeys(d)
	want := []UnknownKey{{"experimantal", "experimental"}, {"insecure-registry", "insecure-registries"}}
	if !slices.Equal(got, want) {
		t.Errorf("UnknownKeys = %v, want %v", got, want)
	}
	eff := EffectiveConfig(d)
	src := map[string]string{}
	for _, v := range eff {
		src[v.Key] = v.Source + " " + v.Value
	}
	if src["host-gateway-ip"] != "flag 192.168.65.254" || src["debug"] != "config true" || src["hosts"] != "flag unix:///var/run/docker.sock" || src["builder"] != `config {"gc":{"enabled":true}}` {
		t.Errorf("EffectiveConfig = %v", src)
	}
	// Docker Desktop's own daemon.json has no problem.
	desk := &probev1.Daemon{Flags: flags("--config-file", "/run/config/docker/daemon.json"),
		Config: config(t, map[string]any{"builder": map[string]any{}, "experimental": false, "features": map[string]any{"buildkit": true}})}
	if c, u := Conflicts(desk), UnknownKeys(desk); len(c)+len(u) != 0 {
		t.Errorf("Desktop config: conflicts %v unknown %v", c, u)
	}
}

func TestSettings(t *testing.T) {
	for _, tt := range []struct{ goos, home, appdata, want string }{
		{"windows", `C:\Users\me`, `C:\Users\me\AppData\Roaming`, filepath.Join(`C:\Users\me\AppData\Roaming`, "Docker", "settings-store.json")},
		{"darwin", "/Users/me", "", filepath.Join("/Users/me", "Library", "Group Containers", "group.com.docker", "settings-store.json")},
		{"linux", "/home/me", "", filepath.Join("/home/me", ".docker", "desktop", "settings-store.json")},
	} {
		if got := SettingsFile(tt.goos, tt.home, tt.appdata); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.goos, got, tt.want)
		}
	}
	f, err := os.Open("testdata/settings-store.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	v, err := ParseSettings(f)
	if err != nil {
		t.Fatal(err)
	}
	if s := SettingsSubnet(&probev1.DesktopSettings{Values: v}); s != "192.168.100.0/24" {
		t.Errorf("subnet = %q from %v", s, v)
	}
	if _, ok := v["KubernetesEnabled"]; !ok {
		t.Errorf("KubernetesEnabled not kept: %v", v)
	}
	if _, err := ParseSettings(strings.NewReader("{")); err == nil {
		t.Error("invalid JSON: no error")
	}
}

// TestSharesDesktopLayout uses the Docker Desktop (WSL 2) layout: a 9p
// drive mounted twice, shared under /run/desktop and private under
// /mnt/host, with kubelet in a mount namespace of its own.
func TestSharesDesktopLayout(t *testing.T) {
	rep := load(t, "desktop")
	var c1, c2 *probev1.Mount
	for _, m := range rep.Mounts {
		switch m.MountPoint {
		case "/run/desktop/mnt/host/c":
			c1 = m
		case "/mnt/host/c":
			c2 = m
		}
	}
	rep.MountViews = []*probev1.MountView{
		{Pid: 143, Comm: "dockerd", MntNamespace: "mnt:[4026532380]", Mounts: []*probev1.Mount{c1, c2}},
		{Pid: 112, Comm: "containerd", MntNamespace: "mnt:[4026532380]"},
		{Pid: 2231, Comm: "kubelet", MntNamespace: "mnt:[4026532511]", Mounts: []*probev1.Mount{c1}},
	}
	shares := Shares(rep)
	if len(shares) != 2 {
		t.Fatalf("shares = %v", shares)
	}
	run, mnt := ShareFor(shares, ShareRootDesktop, "c"), ShareFor(shares, ShareRootMnt, "c")
	if run == nil || mnt == nil || run.SameFilesystemAs != "/mnt/host/c" || mnt.SameFilesystemAs != "/run/desktop/mnt/host/c" {
		t.Fatalf("run %v mnt %v", run, mnt)
	}
	if len(run.SeenBy) != 3 || len(run.NotSeenBy) != 0 {
		t.Errorf("/run/desktop/mnt/host/c seen by %v, not by %v", run.SeenBy, run.NotSeenBy)
	}
	if len(mnt.NotSeenBy) != 1 || !strings.HasPrefix(mnt.NotSeenBy[0], "kubelet 2231") {
		t.Errorf("/mnt/host/c not seen by %v", mnt.NotSeenBy)
	}
	if !IsShared(run.Propagation) || IsShared(mnt.Propagation) {
		t.Errorf("propagation %s / %s", run.Propagation, mnt.Propagation)
	}
}

// TestFlannelIsKubernetes: k3s on Rancher Desktop carries pod traffic on
// flannel.1 beside cni0; it is the pod network, not "unknown".
func TestFlannelIsKubernetes(t *testing.T) {
	for _, name := range []string{"flannel.1", "flannel-wg"} {
		if r, m := role(&probev1.Interface{Name: name, Kind: "vxlan"}, nil, nil); r != RoleKubePods || !strings.Contains(m, "flannel") {
			t.Errorf("role(%s) = %s: %s, want %s", name, r, m, RoleKubePods)
		}
	}
}

// Docker 20.10 leaves the default bridge's gateway out (the capture); the
// VM's docker0 has it. A user network's gateway is the engine's, kept.
func TestBridgeGateways(t *testing.T) {
	rep := load(t, "lkenv-user-network")
	gw := func() map[string]string {
		m := map[string]string{}
		for _, n := range rep.GetEngine().GetNetworks() {
			for _, s := range n.GetSubnets() {
				m[n.GetName()+" "+s.GetSubnet()] = s.GetGateway()
			}
		}
		return m
	}
	if g := gw()["bridge 172.17.0.0/16"]; g != "" {
		t.Fatalf("capture's default bridge gateway = %q, want it empty as Docker 20.10 gives it", g)
	}
	BridgeGateways(rep)
	if g := gw(); g["bridge 172.17.0.0/16"] != "172.17.0.1" || g["know-net 172.18.0.0/16"] != "172.18.0.1" {
		t.Errorf("gateways = %v, want 172.17.0.1 from docker0 and know-net's own", g)
	}
	// A gateway the engine names stays; a subnet the bridge has no address in stays empty.
	for _, n := range rep.Engine.Networks {
		if n.GetName() == "bridge" {
			n.Subnets = []*probev1.Subnet{{Subnet: "172.17.0.0/16", Gateway: "172.17.0.254"}, {Subnet: "fd00::/64"}}
		}
	}
	BridgeGateways(rep)
	if g := gw(); g["bridge 172.17.0.0/16"] != "172.17.0.254" || g["bridge fd00::/64"] != "" {
		t.Errorf("gateways = %v, want the engine's 172.17.0.254 kept and no IPv6 gateway invented", g)
	}
}
