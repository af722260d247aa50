package daemon

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/dockprobe/dockprobe/probe/internal/procs"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// f builds an expected flag: f("H", "fd://") has a value, f("D") has none.
func f(name string, value ...string) *probev1.Flag {
	if len(value) == 0 {
		return &probev1.Flag{Name: name}
	}
	return &probev1.Flag{Name: name, Value: value[0], HasValue: true}
}

var argsCases = []struct {
	name       string
	args       []string
	want       []*probev1.Flag
	positional []string
}{
	{
		name: "space and equals forms",
		args: []string{"--containerd", "/run/containerd/containerd.sock", "--swarm-default-advertise-addr=192.168.65.3"},
		want: []*probev1.Flag{f("containerd", "/run/containerd/containerd.sock"), f("swarm-default-advertise-addr", "192.168.65.3")},
	},
	{
		name: "boolean does not swallow the next flag",
		args: []string{"--debug", "-H", "fd://", "--tlsverify", "--experimental"},
		want: []*probev1.Flag{f("debug"), f("H", "fd://"), f("tlsverify"), f("experimental")},
	},
	{
		name: "boolean with explicit value",
		args: []string{"--iptables=false", "--tlsverify=false", "--icc=true"},
		want: []*probev1.Flag{f("iptables", "false"), f("tlsverify", "false"), f("icc", "true")},
	},
	{
		name: "repeated flags kept in order",
		args: []string{"-H", "unix:///var/run/docker.sock", "--host", "tcp://0.0.0.0:2375", "-H=fd://"},
		want: []*probev1.Flag{f("H", "unix:///var/run/docker.sock"), f("host", "tcp://0.0.0.0:2375"), f("H", "fd://")},
	},
	{
		name: "short flags",
		args: []string{"-D", "-l", "debug", "-p", "/run/docker.pid", "-g", "/srv/docker", "-s", "overlay2", "-G", "docker"},
		want: []*probev1.Flag{f("D"), f("l", "debug"), f("p", "/run/docker.pid"), f("g", "/srv/docker"), f("s", "overlay2"), f("G", "docker")},
	},
	{
		name: "attached short value",
		args: []string{"-Hunix:///run/docker.sock", "-ldebug"},
		want: []*probev1.Flag{f("H", "unix:///run/docker.sock"), f("l", "debug")},
	},
	{
		name: "grouped shorthands",
		args: []string{"-Dl", "debug", "-DH", "fd://"},
		want: []*probev1.Flag{f("D"), f("l", "debug"), f("D"), f("H", "fd://")},
	},
	{
		name: "short boolean with value",
		args: []string{"-D=false"},
		want: []*probev1.Flag{f("D", "false")},
	},
	{
		name: "value flag takes a dash value",
		args: []string{"--oom-score-adjust", "-500", "--mtu", "1400"},
		want: []*probev1.Flag{f("oom-score-adjust", "-500"), f("mtu", "1400")},
	},
	{
		name: "userns-remap takes a value",
		args: []string{"--userns-remap", "default", "--live-restore"},
		want: []*probev1.Flag{f("userns-remap", "default"), f("live-restore")},
	},
	{
		name: "value flag at the end has none",
		args: []string{"--debug", "--data-root"},
		want: []*probev1.Flag{f("debug"), f("data-root")},
	},
	{
		name: "unknown flag takes a plain next argument",
		args: []string{"--future-flag", "on", "--future-bool", "--debug"},
		want: []*probev1.Flag{f("future-flag", "on"), f("future-bool"), f("debug")},
	},
	{
		name:       "positional and terminator",
		args:       []string{"extra", "--debug", "--", "--not-a-flag", "x"},
		want:       []*probev1.Flag{f("debug")},
		positional: []string{"extra", "--not-a-flag", "x"},
	},
	{
		name:       "lone dashes are positional",
		args:       []string{"-", "--=x"},
		positional: []string{"-", "--=x"},
	},
	{name: "empty", args: nil},
}

func TestParseArgs(t *testing.T) {
	for _, tt := range argsCases {
		t.Run(tt.name, func(t *testing.T) {
			got, pos := ParseArgs(tt.args)
			if !flagsEqual(got, tt.want) {
				t.Errorf("ParseArgs(%q) flags =\n%s\nwant\n%s", tt.args, showFlags(got), showFlags(tt.want))
			}
			if !reflect.DeepEqual(pos, tt.positional) {
				t.Errorf("ParseArgs(%q) positional = %q, want %q", tt.args, pos, tt.positional)
			}
		})
	}
}

// TestParseArgsCaptures parses real command lines captured from
// /proc/<pid>/cmdline and checks what the probe derives from them.
func TestParseArgsCaptures(t *testing.T) {
	tests := []struct {
		file       string
		wantFlags  int
		configFile string
		source     string
		settings   Settings
	}{
		{
			file: "desktop", wantFlags: 4, configFile: DefaultConfigFile, source: SourceDefault,
			settings: Settings{DataRoot: DefaultDataRoot, ExecRoot: DefaultExecRoot, ContainerdAddress: "/var/run/desktop-containerd/containerd.sock", Pidfile: "/run/desktop/docker.pid"},
		},
		{
			file: "systemd", wantFlags: 2, configFile: DefaultConfigFile, source: SourceDefault,
			settings: Settings{DataRoot: DefaultDataRoot, ExecRoot: DefaultExecRoot, ContainerdAddress: "/run/containerd/containerd.sock", Hosts: []string{"fd://"}, Pidfile: DefaultPidfile},
		},
		{
			file: "dind", wantFlags: 6, configFile: DefaultConfigFile, source: SourceDefault,
			settings: Settings{DataRoot: DefaultDataRoot, ExecRoot: DefaultExecRoot, Hosts: []string{"unix:///var/run/docker.sock", "tcp://0.0.0.0:2376"}, Pidfile: DefaultPidfile},
		},
		{
			file: "ci-second", wantFlags: 8, configFile: "/etc/docker/ci.json", source: SourceFlag,
			settings: Settings{DataRoot: "/var/lib/docker-ci", ExecRoot: "/run/docker-ci", Hosts: []string{"unix:///run/docker-ci.sock"}, Pidfile: "/run/docker-ci.pid"},
		},
		{
			file: "rootless", wantFlags: 6, configFile: DefaultConfigFile, source: SourceDefault,
			settings: Settings{DataRoot: "/home/runner/.local/share/docker", ExecRoot: "/run/user/1001/docker", Hosts: []string{"unix:///run/user/1001/docker.sock"}, Pidfile: "/run/user/1001/docker.pid"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata/cmdline", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			argv := procs.ParseCmdline(b)
			flags, pos := ParseArgs(argv[1:])
			if len(flags) != tt.wantFlags || len(pos) != 0 {
				t.Errorf("got %d flags %s and positional %q, want %d flags", len(flags), showFlags(flags), pos, tt.wantFlags)
			}
			file, source := ConfigFile(flags)
			if file != tt.configFile || source != tt.source {
				t.Errorf("ConfigFile = %q (%s), want %q (%s)", file, source, tt.configFile, tt.source)
			}
			if got := Resolve(flags, nil); !reflect.DeepEqual(got, tt.settings) {
				t.Errorf("Resolve =\n%+v\nwant\n%+v", got, tt.settings)
			}
		})
	}
}

func flagsEqual(a, b []*probev1.Flag) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].GetName() != b[i].GetName() || a[i].GetValue() != b[i].GetValue() || a[i].GetHasValue() != b[i].GetHasValue() {
			return false
		}
	}
	return true
}

func showFlags(fs []*probev1.Flag) string {
	var s []string
	for _, f := range fs {
		if f.GetHasValue() {
			s = append(s, f.GetName()+"="+f.GetValue())
		} else {
			s = append(s, f.GetName())
		}
	}
	return "[" + strings.Join(s, " ") + "]"
}

func FuzzParseArgs(f *testing.F) {
	for _, tt := range argsCases {
		f.Add(strings.Join(tt.args, "\x00"))
	}
	for _, name := range []string{"desktop", "systemd", "dind", "ci-second", "rootless"} {
		if b, err := os.ReadFile(filepath.Join("testdata/cmdline", name)); err == nil {
			f.Add(string(b))
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		args := strings.Split(s, "\x00")
		flags, pos := ParseArgs(args)
		// Every argument ends up somewhere: flags consume one or two,
		// grouped shorthands one; nothing is invented.
		if len(flags)+len(pos) > 0 && len(pos) > len(args) {
			t.Fatalf("more positional arguments than arguments: %q", args)
		}
		for _, fl := range flags {
			if fl.GetName() == "" {
				t.Fatalf("flag without a name from %q", args)
			}
			if !fl.GetHasValue() && fl.GetValue() != "" {
				t.Fatalf("flag %q has a value but HasValue is false", fl.GetName())
			}
		}
		Resolve(flags, nil)
		ConfigFile(flags)
	})
}

func BenchmarkParseArgs(b *testing.B) {
	raw, err := os.ReadFile("testdata/cmdline/ci-second")
	if err != nil {
		b.Fatal(err)
	}
	args := procs.ParseCmdline(raw)[1:]
	b.ReportAllocs()
	for b.Loop() {
		ParseArgs(args)
	}
}
