package kubelet

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/dockprobe/dockprobe/probe/internal/hostfs"
	"github.com/dockprobe/dockprobe/probe/internal/procs"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// Command lines as /proc/<pid>/cmdline shows them.
var (
	// kind's node image (kubeadm, flags from kubeadm-flags.env).
	kindArgv = strings.Fields("/usr/bin/kubelet --bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf --config=/var/lib/kubelet/config.yaml --container-runtime-endpoint=unix:///run/containerd/containerd.sock --node-ip=172.18.0.2 --node-labels= --pod-infra-container-image=registry.k8s.io/pause:3.10 --provider-id=kind://docker/kind/kind-control-plane --fail-swap-on=false --cgroup-root=/kubelet")
	// A hand-started second node of a test cluster: space-separated
	// values and a bare boolean before a valued flag.
	handArgv = strings.Fields("kubelet --config /etc/dp/node2/kubelet.yaml --kubeconfig /etc/dp/node2/kubeconfig --root-dir /var/lib/dp/node2/kubelet --fail-swap-on --hostname-override node2 --v 2")
)

func flagString(fs []*probev1.Flag) string {
	var b []string
	for _, f := range fs {
		if f.HasValue {
			b = append(b, f.Name+"="+f.Value)
		} else {
			b = append(b, f.Name)
		}
	}
	return strings.Join(b, " ")
}

func TestParseArgs(t *testing.T) {
	for _, tc := range []struct {
		argv []string
		want string
	}{
		{kindArgv, "bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf kubeconfig=/etc/kubernetes/kubelet.conf config=/var/lib/kubelet/config.yaml container-runtime-endpoint=unix:///run/containerd/containerd.sock node-ip=172.18.0.2 node-labels= pod-infra-container-image=registry.k8s.io/pause:3.10 provider-id=kind://docker/kind/kind-control-plane fail-swap-on=false cgroup-root=/kubelet"},
		{handArgv, "config=/etc/dp/node2/kubelet.yaml kubeconfig=/etc/dp/node2/kubeconfig root-dir=/var/lib/dp/node2/kubelet fail-swap-on hostname-override=node2 v=2"},
		{[]string{"kubelet", "stray", "--", "--x=1"}, ""},
		{[]string{"kubelet", "-", "--=", "--v"}, "v"},
	} {
		if got := flagString(ParseArgs(tc.argv[1:])); got != tc.want {
			t.Errorf("%v:\n got %s\nwant %s", tc.argv, got, tc.want)
		}
	}
}

func TestParseConfig(t *testing.T) {
	for _, tc := range []struct {
		file, input string
		check       func(t *testing.T, js string)
		err         string
	}{
		{file: "kubeadm-config.yaml", check: func(t *testing.T, js string) {
			for _, want := range []string{`"cgroupDriver":"systemd"`, `"mode":"Webhook"`, `"clientCAFile":"/etc/kubernetes/pki/ca.crt"`, `"clusterDNS":["10.96.0.10"]`} {
				if !strings.Contains(js, want) {
					t.Errorf("missing %s in %s", want, js)
				}
			}
		}},
		{file: "standalone-config.yaml", check: func(t *testing.T, js string) {
			if strings.Contains(js, "s3cr3t") || !strings.Contains(js, `"Authorization":"REDACTED"`) {
				t.Errorf("the static pod URL's header must be masked: %s", js)
			}
			if !strings.Contains(js, `"mode":"AlwaysAllow"`) || !strings.Contains(js, `"failCgroupV1":false`) {
				t.Errorf("%s", js)
			}
		}},
		{input: "a: [1, 2\nb: c", err: "invalid kubelet config"},
		{input: "kind: KubeletConfiguration\ncgroupDriver: systemd: x\n", err: `(line "cgroupDriver: systemd: x")`},
		{input: "- a\n- b\n", err: "not a mapping of settings (got a list)"},
		{input: "", err: "an empty document"},
	} {
		in := tc.input
		if tc.file != "" {
			b, err := os.ReadFile(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			in = string(b)
		}
		v, err := ParseConfig(strings.NewReader(in))
		if tc.err != "" {
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.err) || strings.Contains(err.Error(), "\n") {
				t.Errorf("%q: %v, want one line with %q", in, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		js, _ := protojson.Marshal(v)
		tc.check(t, string(js))
	}
}

func TestParseConfigTooLarge(t *testing.T) {
	if _, err := ParseConfig(strings.NewReader("a: " + strings.Repeat("x", MaxConfigSize))); !errors.Is(err, ErrConfig) {
		t.Error(err)
	}
}

func FuzzParseConfig(f *testing.F) {
	for _, name := range []string{"kubeadm-config.yaml", "standalone-config.yaml"} {
		b, _ := os.ReadFile(filepath.Join("testdata", name))
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, s string) {
		ParseConfig(strings.NewReader(s))
	})
}

func FuzzParseArgs(f *testing.F) {
	f.Add(strings.Join(kindArgv[1:], "\x00"))
	f.Add(strings.Join(handArgv[1:], "\x00"))
	f.Fuzz(func(t *testing.T, s string) {
		ParseArgs(strings.Split(s, "\x00"))
	})
}

// procTree builds <dir>/proc/<pid> as a kubelet whose root holds files.
func procTree(t *testing.T, pid string, files map[string]string) *hostfs.FS {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "proc", pid)
	if err := os.MkdirAll(filepath.Join(p, "root"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/usr/bin/kubelet", filepath.Join(p, "exe")); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		f := filepath.Join(p, "root", name)
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return hostfs.New(filepath.Join(dir, "proc"))
}

func TestInspect(t *testing.T) {
	kubeadm, _ := os.ReadFile("testdata/kubeadm-config.yaml")
	standalone, _ := os.ReadFile("testdata/standalone-config.yaml")
	for _, tc := range []struct {
		name            string
		argv            []string
		files           map[string]string
		root, endpoint  string
		configErr       string
		configFile      string
		wantConfigField string
	}{
		{"kind", kindArgv, map[string]string{"var/lib/kubelet/config.yaml": string(kubeadm)}, DefaultRootDir, "unix:///run/containerd/containerd.sock", "", "/var/lib/kubelet/config.yaml", "cgroupDriver"},
		// The endpoint comes from the config file when no flag gives it.
		{"hand-started", handArgv, map[string]string{"etc/dp/node2/kubelet.yaml": string(standalone)}, "/var/lib/dp/node2/kubelet", "unix:///run/dockprobe-k8s/node2/containerd/containerd.sock", "", "/etc/dp/node2/kubelet.yaml", "failSwapOn"},
		{"missing config", kindArgv, nil, DefaultRootDir, "unix:///run/containerd/containerd.sock", "/var/lib/kubelet/config.yaml, given by --config, does not exist", "/var/lib/kubelet/config.yaml", ""},
		{"bad config", kindArgv, map[string]string{"var/lib/kubelet/config.yaml": "kind: [\n"}, DefaultRootDir, "unix:///run/containerd/containerd.sock", "invalid kubelet config", "/var/lib/kubelet/config.yaml", ""},
		{"no config flag", []string{"kubelet", "--v=2"}, nil, DefaultRootDir, "", "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := procTree(t, "77", tc.files)
			p := procs.Process{PID: 77, PPID: 1, Comm: "kubelet", Argv: tc.argv}
			if !IsKubelet(p) {
				t.Fatal("not a kubelet")
			}
			d := Inspect(fsys, p)
			if d.DataRoot != tc.root || d.ContainerdAddress != tc.endpoint || d.ConfigFile != tc.configFile || d.Executable != "/usr/bin/kubelet" {
				t.Errorf("root %q endpoint %q config %q exe %q", d.DataRoot, d.ContainerdAddress, d.ConfigFile, d.Executable)
			}
			if !strings.Contains(d.ConfigError, tc.configErr) || (tc.configErr == "") != (d.ConfigError == "") {
				t.Errorf("config error %q, want %q", d.ConfigError, tc.configErr)
			}
			if tc.wantConfigField != "" && d.Config.GetStructValue().GetFields()[tc.wantConfigField] == nil {
				t.Errorf("config lacks %s", tc.wantConfigField)
			}
			if d.ConfigRaw != "" {
				t.Error("the raw text is never kept")
			}
		})
	}
}

func TestIsKubelet(t *testing.T) {
	for _, tc := range []struct {
		p    procs.Process
		want bool
	}{
		{procs.Process{Comm: "kubelet", Argv: []string{"/usr/bin/kubelet"}}, true},
		{procs.Process{Comm: "hyperkube", Argv: []string{"/usr/local/bin/kubelet", "--v=2"}}, true},
		{procs.Process{Comm: "kubelet"}, false}, // a zombie
		{procs.Process{Comm: "k3s-server", Argv: []string{"/usr/local/bin/k3s", "server"}}, false},
	} {
		if got := IsKubelet(tc.p); got != tc.want {
			t.Errorf("%+v: %v", tc.p, got)
		}
	}
}

func TestChoose(t *testing.T) {
	k := func(pid int32, ep, ns string) Kubelet {
		return Kubelet{Daemon: &probev1.Daemon{Pid: pid, ContainerdAddress: ep}, MntNS: ns}
	}
	one := k(10, "unix:///run/containerd/containerd.sock", "mnt:[1]")
	two := k(20, "unix:///run/n2/containerd.sock", "mnt:[2]")
	twin := k(30, "unix:///run/containerd/containerd.sock", "mnt:[3]")
	for _, tc := range []struct {
		name     string
		ks       []Kubelet
		addr, ns string
		want     int32
	}{
		{"by address", []Kubelet{one, two}, "/run/n2/containerd.sock", "", 20},
		{"by address and mount namespace", []Kubelet{one, twin, two}, "/run/containerd/containerd.sock", "mnt:[3]", 30},
		{"the only one", []Kubelet{two}, "/run/other.sock", "", 20},
		{"ambiguous", []Kubelet{one, twin}, "/run/containerd/containerd.sock", "", 0},
		{"none", nil, "/run/containerd/containerd.sock", "", 0},
	} {
		d, reason, ok := Choose(tc.ks, tc.addr, tc.ns)
		if d.GetPid() != tc.want || ok != (tc.want != 0) || (ok && reason == "") {
			t.Errorf("%s: pid %d ok %v (%s)", tc.name, d.GetPid(), ok, reason)
		}
	}
}

func TestCNIConfDir(t *testing.T) {
	for _, tc := range []struct{ toml, want string }{
		{"", DefaultCNIConfDir},
		{`{"version": 2, "plugins": {"io.containerd.grpc.v1.cri": {"cni": {"conf_dir": "/var/lib/rancher/k3s/agent/etc/cni/net.d", "bin_dir": "/bin"}}}}`, "/var/lib/rancher/k3s/agent/etc/cni/net.d"},
		{`{"version": 3, "plugins": {"io.containerd.cri.v1.runtime": {"cni": {"conf_dir": "/etc/dp/n2/cni"}}}}`, "/etc/dp/n2/cni"},
		{`{"version": 3, "plugins": {"io.containerd.cri.v1.runtime": {"cni": {"bin_dir": "/opt/cni/bin"}}}}`, DefaultCNIConfDir},
	} {
		var v *structpb.Value
		if tc.toml != "" {
			v = &structpb.Value{}
			if err := protojson.Unmarshal([]byte(tc.toml), v); err != nil {
				t.Fatal(err)
			}
		}
		if got := CNIConfDir(v); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.toml, got, tc.want)
		}
	}
}
