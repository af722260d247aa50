package containerd

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"

	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

func flagsString(fs []*probev1.Flag) string {
	var parts []string
	for _, f := range fs {
		if f.GetHasValue() {
			parts = append(parts, f.GetName()+"="+f.GetValue())
		} else {
			parts = append(parts, f.GetName())
		}
	}
	return strings.Join(parts, " ")
}

func TestParseArgs(t *testing.T) {
	for _, tt := range []struct {
		args string
		want string
	}{
		{"", ""},
		{"--config /run/lk/containerd.toml", "config=/run/lk/containerd.toml"},
		{"-c /etc/c.toml --log-level debug", "config=/etc/c.toml log-level=debug"},
		{"--address=/run/k3s/containerd/containerd.sock --root /var/lib/rancher/k3s/agent/containerd", "address=/run/k3s/containerd/containerd.sock root=/var/lib/rancher/k3s/agent/containerd"},
		{"-a /x.sock -l info --state /run/x", "address=/x.sock log-level=info state=/run/x"},
		{"--help --config c", "help config=c"},
		{"--config", "config"},
		{"--log-level --config c", "log-level config=c"},
		{"config dump --config c", ""},
		{"-- --config c", ""},
	} {
		got := flagsString(ParseArgs(strings.Fields(tt.args)))
		if got != tt.want {
			t.Errorf("ParseArgs(%q) = %q, want %q", tt.args, got, tt.want)
		}
	}
}

var configTests = []struct {
	name string
	in   string // or file:<testdata name>
	// want are JSON fragments the parsed value must contain.
	want []string
	err  bool
}{
	{name: "lkenv", in: "file:lkenv.toml", want: []string{`"grpc":{"address":"/run/containerd/containerd.sock"}`, `"disabled_plugins":["io.containerd.grpc.v1.cri"]`, `"version":2`}},
	{name: "lkenv, containerd 2.4", in: "file:lkenv-2.4.toml", want: []string{`"io.containerd.server.v1.grpc":{"address":"/run/containerd/containerd.sock"}`, `"version":4`}},
	{name: "containerd 2.4 default (k3s paths)", in: "file:containerd-2.4-k3s.toml", want: []string{`"address":"/run/k3s/containerd/containerd.sock"`, `"conf_dir":"/var/lib/rancher/k3s/agent/etc/cni/net.d"`, `"version":4`}},
	{name: "rancher desktop (k3s)", in: "file:rancher-desktop.toml", want: []string{`"address":"/run/k3s/containerd/containerd.sock"`, `"sandbox_image":"rancher/mirrored-pause:3.6"`, `"SystemdCgroup":false`}},
	{name: "empty", in: "", want: []string{`{}`}},
	{name: "dates", in: "a = 1979-05-27T07:32:00Z\nb = 1979-05-27\nc = 07:32:00\nd = 1979-05-27T07:32:00", want: []string{`"a":"1979-05-27T07:32:00Z"`, `"b":"1979-05-27"`, `"c":"07:32:00"`, `"d":"1979-05-27T07:32:00"`}},
	{name: "big int stays exact", in: "n = 9007199254740993", want: []string{`"n":"9007199254740993"`}},
	{name: "floats and arrays", in: "f = 1.5\nx = [[1, 2], [\"a\"]]\n[[t]]\nk = true", want: []string{`"f":1.5`, `"x":[[1,2],["a"]]`, `"t":[{"k":true}]`}},
	{name: "JSON is not TOML", in: `{"version": 2}`, err: true},
	{name: "duplicate key", in: "a = 1\na = 2", err: true},
	{name: "unterminated string", in: "root = \"/var/lib", err: true},
}

func configInput(t testing.TB, s string) string {
	if f, ok := strings.CutPrefix(s, "file:"); ok {
		b, err := os.ReadFile(filepath.Join("testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	return s
}

func TestParseConfig(t *testing.T) {
	for _, tt := range configTests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := ParseConfig(strings.NewReader(configInput(t, tt.in)))
			if tt.err {
				if !errors.Is(err, ErrConfig) {
					t.Fatalf("got %v, %v; want ErrConfig", v, err)
				}
				if !strings.Contains(err.Error(), "line ") {
					t.Errorf("error %q does not say where", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b, _ := protojson.MarshalOptions{}.Marshal(v)
			js := strings.ReplaceAll(string(b), " ", "")
			for _, w := range tt.want {
				if !strings.Contains(js, w) {
					t.Errorf("parsed %s\nlacks %s", js, w)
				}
			}
		})
	}
}

func TestResolve(t *testing.T) {
	parse := func(in string) *structpb.Value {
		v, err := ParseConfig(strings.NewReader(configInput(t, in)))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	rd, v4 := parse("file:rancher-desktop.toml"), parse("file:containerd-2.4-k3s.toml")
	for _, tt := range []struct {
		name string
		args string
		cfg  *structpb.Value
		want Settings
	}{
		{name: "defaults", want: Settings{ConfigFile: DefaultConfigFile, ConfigFileSource: "default", Root: DefaultRoot, State: DefaultState, Address: DefaultAddress}},
		{name: "config", args: "--config /etc/rd.toml", cfg: rd, want: Settings{ConfigFile: "/etc/rd.toml", ConfigFileSource: "flag", Root: "/var/lib/containerd", State: "/run/k3s/containerd", Address: "/run/k3s/containerd/containerd.sock"}},
		{name: "flags win", args: "-c /c --address /a.sock --root /r", cfg: rd, want: Settings{ConfigFile: "/c", ConfigFileSource: "flag", Root: "/r", State: "/run/k3s/containerd", Address: "/a.sock"}},
		// containerd 2.3+: the address is the grpc server plugin's.
		{name: "version 4", args: "--config /etc/c.toml", cfg: v4, want: Settings{ConfigFile: "/etc/c.toml", ConfigFileSource: "flag", Root: "/var/lib/containerd", State: "/run/k3s/containerd", Address: "/run/k3s/containerd/containerd.sock"}},
		{name: "version 4 flag wins", args: "--address /a.sock", cfg: v4, want: Settings{ConfigFile: DefaultConfigFile, ConfigFileSource: "default", Root: "/var/lib/containerd", State: "/run/k3s/containerd", Address: "/a.sock"}},
		// Version 4 ignores [grpc]; version 3 migrates it, unless the plugin's table is there.
		{name: "version 4 ignores [grpc]", cfg: parse("version = 4\n[grpc]\naddress = \"/old.sock\"\n"), want: Settings{ConfigFile: DefaultConfigFile, ConfigFileSource: "default", Root: DefaultRoot, State: DefaultState, Address: DefaultAddress}},
		{name: "version 3 [grpc]", cfg: parse("version = 3\n[grpc]\naddress = \"/old.sock\"\n"), want: Settings{ConfigFile: DefaultConfigFile, ConfigFileSource: "default", Root: DefaultRoot, State: DefaultState, Address: "/old.sock"}},
		{name: "version 3 plugin table wins", cfg: parse("version = 3\n[grpc]\naddress = \"/old.sock\"\n[plugins.\"io.containerd.server.v1.grpc\"]\naddress = \"/new.sock\"\n"), want: Settings{ConfigFile: DefaultConfigFile, ConfigFileSource: "default", Root: DefaultRoot, State: DefaultState, Address: "/new.sock"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := Resolve(ParseArgs(strings.Fields(tt.args)), tt.cfg); got != tt.want {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func FuzzParseConfig(f *testing.F) {
	for _, tt := range configTests {
		f.Add(configInput(f, tt.in))
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseConfig(strings.NewReader(s))
		if err == nil {
			if v.GetStructValue() == nil {
				t.Fatalf("%q parsed to a non-table %v", s, v)
			}
			_ = Resolve(nil, v)
			if _, err := protojson.Marshal(v); err != nil {
				t.Fatalf("%q: value does not marshal: %v", s, err)
			}
		}
	})
}

func FuzzParseArgs(f *testing.F) {
	f.Add("--config /c -a x --root=/r")
	f.Add("-- -c")
	f.Fuzz(func(t *testing.T, s string) {
		for _, fl := range ParseArgs(strings.Fields(s)) {
			if fl.GetName() == "" {
				t.Fatalf("%q gave a flag without a name", s)
			}
		}
	})
}
