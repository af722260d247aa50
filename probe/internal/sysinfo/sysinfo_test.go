package sysinfo

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/dockprobe/dockprobe/probe/internal/hostfs"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

func open(t testing.TB, path string) *os.File {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", path))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

var osReleaseCases = []struct {
	file    string
	want    map[string]string
	pretty  string
	errLine string // quoted in the error, "" for none
}{
	{file: "docker-desktop", want: map[string]string{"PRETTY_NAME": "Docker Desktop"}, pretty: "Docker Desktop"},
	{
		file:   "alpine-3.20",
		pretty: "Alpine Linux v3.20",
		want: map[string]string{
			"NAME": "Alpine Linux", "ID": "alpine", "VERSION_ID": "3.20.3", "PRETTY_NAME": "Alpine Linux v3.20",
			"HOME_URL": "https://alpinelinux.org/", "BUG_REPORT_URL": "https://gitlab.alpinelinux.org/alpine/aports/-/issues",
		},
	},
	{
		file:   "quoting",
		pretty: `Weird Linux 1.0 "quoted" $HOME \ back` + "`tick`",
		want: map[string]string{
			"NAME": "Weird Linux", "VERSION": `1.0 "quoted" $HOME \ back` + "`tick`", "ID": "weird linux",
			"ID_LIKE": "debian", "VARIANT": "Server's", "EMPTY": "", "CONCAT": "abc",
		},
	},
	{
		file:    "broken",
		pretty:  "Linux",
		want:    map[string]string{"ID": "fine", "VERSION_ID": "9"},
		errLine: `line 1: "NAME=\"Broken": unterminated double quote`,
	},
}

func TestParseOSRelease(t *testing.T) {
	for _, tt := range osReleaseCases {
		t.Run(tt.file, func(t *testing.T) {
			got, err := ParseOSRelease(open(t, "os-release/"+tt.file))
			if tt.errLine == "" && err != nil {
				t.Fatalf("ParseOSRelease: %v", err)
			}
			if tt.errLine != "" && (!errors.Is(err, ErrParse) || !strings.Contains(err.Error(), tt.errLine)) {
				t.Errorf("error = %v, want one quoting %s", err, tt.errLine)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseOSRelease =\n%q\nwant\n%q", got, tt.want)
			}
			if p := PrettyName(got); p != tt.pretty {
				t.Errorf("PrettyName = %q, want %q", p, tt.pretty)
			}
		})
	}
	got, err := ParseOSRelease(open(t, "os-release/ubuntu-24.04"))
	if err != nil || got["VERSION_CODENAME"] != "noble" || len(got) != 13 {
		t.Errorf("ubuntu: %d keys, %v", len(got), err)
	}
}

func TestParseHosts(t *testing.T) {
	tests := []struct {
		file    string
		want    []*probev1.HostsEntry
		errLine string
	}{
		{
			file: "container",
			want: []*probev1.HostsEntry{
				{Address: "127.0.0.1", Names: []string{"localhost"}},
				{Address: "::1", Names: []string{"localhost", "ip6-localhost", "ip6-loopback"}},
				{Address: "fe00::0", Names: []string{"ip6-localnet"}},
				{Address: "ff00::0", Names: []string{"ip6-mcastprefix"}},
				{Address: "ff02::1", Names: []string{"ip6-allnodes"}},
				{Address: "ff02::2", Names: []string{"ip6-allrouters"}},
				{Address: "192.168.65.254", Names: []string{"host.docker.internal"}},
				{Address: "192.168.65.254", Names: []string{"dockprobe-host-gateway"}},
				{Address: "172.17.0.2", Names: []string{"3f1c9a0d2b7e"}},
			},
		},
		{
			file: "bad",
			want: []*probev1.HostsEntry{
				{Address: "127.0.0.1", Names: []string{"localhost"}},
				{Address: "fe80::1%eth0", Names: []string{"router.local"}},
			},
			errLine: `line 3: "localhost 127.0.0.1": bad address "localhost"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := ParseHosts(open(t, "hosts/"+tt.file))
			checkErr(t, err, tt.errLine)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d entries %v, want %d", len(got), got, len(tt.want))
			}
			for i := range got {
				if !proto.Equal(got[i], tt.want[i]) {
					t.Errorf("entry %d = %v, want %v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestParseResolvConf(t *testing.T) {
	tests := []struct {
		file    string
		want    ResolvConf
		errLine string
	}{
		{file: "desktop", want: ResolvConf{Nameservers: []string{"192.168.65.7"}}},
		{file: "user-network", want: ResolvConf{
			Nameservers: []string{"127.0.0.11"}, Search: []string{"corp.example.com", "example.com"},
			Options: []string{"edns0", "trust-ad", "ndots:0"},
		}},
		{
			file:    "bad",
			want:    ResolvConf{Nameservers: []string{"fe80::1%eth0"}, Search: []string{"a.example", "b.example"}},
			errLine: `line 3: "nameserver": nameserver without an address`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := ParseResolvConf(open(t, "resolv/"+tt.file))
			checkErr(t, err, tt.errLine)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseResolvConf = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseCapabilities(t *testing.T) {
	got, err := ParseCapabilities(open(t, "status/probe"))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"CAP_SYS_PTRACE", "CAP_SYS_ADMIN"}; !reflect.DeepEqual(got, want) {
		t.Errorf("ParseCapabilities = %q, want %q", got, want)
	}
	if _, err := ParseCapabilities(strings.NewReader("CapEff:\tzz\n")); !errors.Is(err, ErrParse) || !strings.Contains(err.Error(), `"CapEff:\tzz"`) {
		t.Errorf("bad CapEff: error = %v", err)
	}
	if _, err := ParseCapabilities(strings.NewReader("Name:\tx\n")); !errors.Is(err, ErrParse) {
		t.Errorf("no CapEff: error = %v", err)
	}
	if got := CapabilityNames(1<<41 | 1); !reflect.DeepEqual(got, []string{"CAP_CHOWN", "CAP_41"}) {
		t.Errorf("CapabilityNames = %q", got)
	}
}

func TestContainer(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	for dst, src := range map[string]string{"etc/hosts": "hosts/container", "etc/resolv.conf": "resolv/user-network"} {
		b, err := os.ReadFile(filepath.Join("testdata", src))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, dst), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "etc/hostname"), []byte("3f1c9a0d2b7e\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The proc fixture: pid 4242 is the probe with SYS_ADMIN and SYS_PTRACE.
	proc := filepath.Join(root, "proc")
	if err := os.MkdirAll(filepath.Join(proc, "4242"), 0o755); err != nil {
		t.Fatal(err)
	}
	status, _ := os.ReadFile("testdata/status/probe")
	if err := os.WriteFile(filepath.Join(proc, "4242", "status"), status, 0o644); err != nil {
		t.Fatal(err)
	}

	c, err := Container(root, hostfs.New(proc), 4242)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.GetEtcHosts()) != 9 || c.GetHostname() != "3f1c9a0d2b7e" || c.GetNameservers()[0] != "127.0.0.11" ||
		len(c.GetSearch()) != 2 || len(c.GetCapabilities()) != 2 {
		t.Errorf("Container = %v", c)
	}

	// Without the files: no error for what is simply absent.
	empty := t.TempDir()
	c, err = Container(empty, hostfs.New(proc), 4242)
	if err != nil || len(c.GetEtcHosts()) != 0 || c.GetHostname() != "" {
		t.Errorf("Container(empty) = %v, %v", c, err)
	}
}

func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if !errors.Is(err, ErrParse) || !strings.Contains(err.Error(), want) {
		t.Errorf("error = %v, want one containing %s", err, want)
	}
}

func seed(f *testing.F, dir string) {
	entries, err := os.ReadDir(filepath.Join("testdata", dir))
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("testdata", dir, e.Name()))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
}

func FuzzParseOSRelease(f *testing.F) {
	seed(f, "os-release")
	f.Add(`A="\`)
	f.Add("A='")
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseOSRelease(strings.NewReader(s))
		for k := range m {
			if !validKey(k) {
				t.Fatalf("bad key %q accepted", k)
			}
		}
		if err != nil && !errors.Is(err, ErrParse) && !strings.Contains(err.Error(), "token too long") {
			t.Fatalf("unexpected error class: %v", err)
		}
	})
}

func FuzzParseHosts(f *testing.F) {
	seed(f, "hosts")
	f.Fuzz(func(t *testing.T, s string) {
		es, _ := ParseHosts(strings.NewReader(s))
		for _, e := range es {
			if len(e.GetNames()) == 0 {
				t.Fatalf("entry without names: %v", e)
			}
		}
	})
}

func FuzzParseResolvConf(f *testing.F) {
	seed(f, "resolv")
	f.Fuzz(func(t *testing.T, s string) {
		ParseResolvConf(strings.NewReader(s))
	})
}

func FuzzParseCapabilities(f *testing.F) {
	seed(f, "status")
	f.Add("CapEff:\tffffffffffffffff\n")
	f.Fuzz(func(t *testing.T, s string) {
		names, err := ParseCapabilities(strings.NewReader(s))
		if err == nil && len(names) > 64 {
			t.Fatalf("%d capabilities", len(names))
		}
	})
}

func BenchmarkParseOSRelease(b *testing.B) {
	raw, _ := os.ReadFile("testdata/os-release/ubuntu-24.04")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseOSRelease(strings.NewReader(string(raw))); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseHosts(b *testing.B) {
	raw, _ := os.ReadFile("testdata/hosts/container")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseHosts(strings.NewReader(string(raw))); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseResolvConf(b *testing.B) {
	raw, _ := os.ReadFile("testdata/resolv/user-network")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseResolvConf(strings.NewReader(string(raw))); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseCapabilities(b *testing.B) {
	raw, _ := os.ReadFile("testdata/status/probe")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseCapabilities(strings.NewReader(string(raw))); err != nil {
			b.Fatal(err)
		}
	}
}
