package containerd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dockprobe/dockprobe/probe/internal/hostfs"
	"github.com/dockprobe/dockprobe/probe/internal/procs"
)

// procTree builds <dir>/proc/42 as a containerd with a root holding files.
func procTree(t *testing.T, files map[string]string) *hostfs.FS {
	t.Helper()
	dir := t.TempDir()
	pid := filepath.Join(dir, "proc", "42")
	if err := os.MkdirAll(filepath.Join(pid, "root"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/usr/bin/containerd", filepath.Join(pid, "exe")); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		p := filepath.Join(pid, "root", name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return hostfs.New(filepath.Join(dir, "proc"))
}

func TestInspect(t *testing.T) {
	rd := configInput(t, "file:rancher-desktop.toml")
	for _, tt := range []struct {
		name      string
		argv      string
		files     map[string]string
		check     func(t *testing.T, d string)
		addr      string
		configErr string
	}{
		{
			name: "config from --config", argv: "containerd --config /etc/rd/config.toml",
			files: map[string]string{"etc/rd/config.toml": rd}, addr: "/run/k3s/containerd/containerd.sock",
		},
		{
			name: "default config", argv: "/usr/bin/containerd",
			files: map[string]string{"etc/containerd/config.toml": rd}, addr: "/run/k3s/containerd/containerd.sock",
		},
		{name: "no config file", argv: "containerd", addr: DefaultAddress},
		{
			name: "registry credentials never leave", argv: "containerd",
			files: map[string]string{"etc/containerd/config.toml": "[plugins.\"io.containerd.grpc.v1.cri\".registry.configs.\"r.example.com\".auth]\n  username = \"alice\"\n  password = \"S3cret-XYZ\"\n  auth = \"YWxpY2U6UzNjcmV0\"\n"},
			addr:  DefaultAddress,
		},
		{name: "missing --config", argv: "containerd -c /nope.toml", addr: DefaultAddress, configErr: "/nope.toml, given by --config, does not exist"},
		{name: "relative --config is not read", argv: "containerd --config rd.toml", addr: DefaultAddress, configErr: "relative to containerd's working directory"},
		{
			name: "bad TOML keeps the text", argv: "containerd",
			files: map[string]string{"etc/containerd/config.toml": "root = \"/x\nstate = 1"}, addr: DefaultAddress, configErr: "line 1",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fsys := procTree(t, tt.files)
			d := Inspect(fsys, procs.Process{PID: 42, Comm: "containerd", Argv: strings.Fields(tt.argv)})
			if !d.GetFound() || d.GetPid() != 42 || d.GetExecutable() != "/usr/bin/containerd" {
				t.Errorf("record %v", d)
			}
			if d.GetContainerdAddress() != tt.addr {
				t.Errorf("address %q, want %q", d.GetContainerdAddress(), tt.addr)
			}
			if tt.configErr == "" && d.GetConfigError() != "" {
				t.Errorf("config error %q", d.GetConfigError())
			}
			if tt.configErr != "" && !strings.Contains(d.GetConfigError(), tt.configErr) {
				t.Errorf("config error %q, want it to say %q", d.GetConfigError(), tt.configErr)
			}
			if len(tt.files) > 0 && d.GetConfigRaw() == "" {
				t.Error("config text not kept")
			}
			if strings.Contains(d.GetConfigRaw(), "S3cret") || strings.Contains(d.GetConfigRaw(), "YWxpY2U6") {
				t.Errorf("credentials in config_raw:\n%s", d.GetConfigRaw())
			}
			if js := d.GetConfig().String(); strings.Contains(js, "S3cret") || strings.Contains(js, "YWxpY2U6") {
				t.Errorf("credentials in config: %s", js)
			}
		})
	}
}

func TestIsContainerd(t *testing.T) {
	for _, tt := range []struct {
		p    procs.Process
		want bool
	}{
		{procs.Process{Comm: "containerd", Argv: []string{"/usr/bin/containerd"}}, true},
		{procs.Process{Comm: "containerd-shim", Argv: []string{"/usr/bin/containerd-shim-runc-v2", "-namespace", "moby"}}, false},
		{procs.Process{Comm: "dockerd", Argv: []string{"dockerd"}}, false},
		{procs.Process{Comm: "k3s-server", Argv: []string{"containerd"}}, true},
	} {
		if got := IsContainerd(tt.p); got != tt.want {
			t.Errorf("IsContainerd(%+v) = %v", tt.p, got)
		}
	}
}

func TestCNINetworks(t *testing.T) {
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join("..", "..", "..", "internal", "cni", "testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	fsys := procTree(t, map[string]string{
		"etc/cni/net.d/nerdctl-bridge.conflist": read("nerdctl-bridge.conflist"),
		"etc/cni/net.d/10-flannel.conflist":     read("k3s-flannel.conflist"),
		"etc/cni/net.d/99-broken.conf":          "{",
		"etc/cni/net.d/README":                  "not a network",
	})
	nets, err := CNINetworks(fsys, 42, CNIConfDir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range nets {
		s := n.GetName() + ":" + n.GetDriver() + ":" + n.GetBridge()
		for _, sn := range n.GetSubnets() {
			s += ":" + sn.GetSubnet() + "/" + sn.GetGateway()
		}
		if n.GetOptions()["cni.error"] != "" {
			s += ":error"
		}
		got = append(got, s)
	}
	want := []string{"cbr0:flannel:cni0", "99-broken:::error", "bridge:bridge:nerdctl0:10.4.0.0/24/10.4.0.1"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("networks %q\nwant     %q", got, want)
	}

	none, err := CNINetworks(procTree(t, nil), 42, CNIConfDir)
	if err != nil || len(none) != 0 {
		t.Errorf("no directory: %v, %v; want nothing and no error", none, err)
	}
}

func TestCNIConfDirs(t *testing.T) {
	k3s := strings.Replace(configInput(t, "file:rancher-desktop.toml"), `conf_dir = "/etc/cni/net.d"`, `conf_dir = "/var/lib/rancher/k3s/agent/etc/cni/net.d"`, 1)
	for _, tt := range []struct {
		config string
		want   string
	}{
		{"", CNIConfDir},
		{configInput(t, "file:rancher-desktop.toml"), CNIConfDir},
		{k3s, CNIConfDir + " /var/lib/rancher/k3s/agent/etc/cni/net.d"},
		// containerd 2: the CRI runtime plugin's key.
		{configInput(t, "file:containerd-2.4-k3s.toml"), CNIConfDir + " /var/lib/rancher/k3s/agent/etc/cni/net.d"},
		{configInput(t, "file:lkenv-2.4.toml"), CNIConfDir},
	} {
		d := Inspect(procTree(t, map[string]string{"etc/containerd/config.toml": tt.config}), procs.Process{PID: 42, Comm: "containerd", Argv: []string{"containerd"}})
		if got := strings.Join(CNIConfDirs(d), " "); got != tt.want {
			t.Errorf("dirs %q, want %q", got, tt.want)
		}
	}
}
