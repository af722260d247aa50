package report

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
	"github.com/dockprobe/dockprobe/proto/probe/v1/contract"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// fixtures are reports in testdata/<name>.report.json:
//   - desktop: Docker Desktop on WSL 2 as the source article shows it.
//   - partial: the same machine with two failed sections and a bad
//     daemon.json.
var fixtures = []string{"desktop", "partial", "findings"}

func loadFixture(t testing.TB, name string) *probev1.Report {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name+".report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r probev1.Report
	if err := (protojson.UnmarshalOptions{}).Unmarshal(data, &r); err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	return &r
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (run go test -update after checking the diff)\n--- got ---\n%s\n--- want ---\n%s", path, got, want)
	}
}

func TestTextGolden(t *testing.T) {
	for _, name := range fixtures {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Text(&buf, loadFixture(t, name), TextOptions{}); err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("testdata", name+".golden.txt"), buf.Bytes())
		})
	}
}

func TestJSONGolden(t *testing.T) {
	for _, name := range fixtures {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := JSON(&buf, loadFixture(t, name)); err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("testdata", name+".golden.json"), buf.Bytes())
		})
	}
}

// The source article's ifconfig summary, line for line.
func TestTextArticleInterfaces(t *testing.T) {
	var buf bytes.Buffer
	if err := Text(&buf, loadFixture(t, "desktop"), TextOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		"[cni0] inet addr:10.1.0.1 Bcast:10.1.255.255 Mask:255.255.0.0",
		"[docker0] inet addr:172.17.0.1 Bcast:172.17.255.255 Mask:255.255.0.0",
		"[eth0] inet addr:192.168.65.3 Bcast:192.168.65.255 Mask:255.255.255.0",
		"[lo] inet addr:127.0.0.1 Mask:255.0.0.0",
		"[services1] inet addr:192.168.65.6 Bcast:0.0.0.0 Mask:255.255.255.255",
	} {
		if !strings.Contains(buf.String(), "  "+line+"\n") {
			t.Errorf("text report lacks the line %q", line)
		}
	}
}

func TestJSONFormat(t *testing.T) {
	r := loadFixture(t, "desktop")
	var a, b bytes.Buffer
	if err := JSON(&a, r); err != nil {
		t.Fatal(err)
	}
	if err := JSON(&b, r); err != nil {
		t.Fatal(err)
	}
	out := a.Bytes()
	if !bytes.Equal(out, b.Bytes()) {
		t.Error("JSON output is not stable between calls")
	}
	if bytes.HasPrefix(out, []byte("\xef\xbb\xbf")) || !utf8.Valid(out) {
		t.Error("JSON output is not UTF-8 without BOM")
	}
	if !bytes.HasSuffix(out, []byte("}\n")) || bytes.HasSuffix(out, []byte("\n\n")) {
		t.Error("JSON output does not end with exactly one newline")
	}
	if !bytes.HasPrefix(out, []byte("{\n  \"schemaVersion\": 1,\n")) {
		t.Errorf("JSON output does not start with two-space indented lowerCamelCase:\n%.80s", out)
	}
	for _, want := range []string{`"mtu": 65536`, `"pid": 143`, `"hostGatewayIp": "192.168.65.254"`, `"errors": []`, `"master": ""`} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("JSON output lacks %s", want)
		}
	}
	// Round trip: the output is the same report.
	var back probev1.Report
	if err := protojson.Unmarshal(out, &back); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(&back, r) {
		t.Error("JSON output does not read back as the same report")
	}
}

func TestJSONFillsMissingSections(t *testing.T) {
	r := &probev1.Report{SchemaVersion: probev1.SchemaVersion, Errors: []*probev1.SectionError{{Section: "target", Message: "no dockerd", Code: "NotFound"}}}
	var buf bytes.Buffer
	if err := JSON(&buf, r); err != nil {
		t.Fatal(err)
	}
	if err := contract.Check(buf.Bytes()); err != nil {
		t.Errorf("a report with empty sections breaks the contract: %v", err)
	}
	if r.Target != nil {
		t.Error("JSON modified its input")
	}
	if err := JSON(&buf, nil); err != nil {
		t.Errorf("JSON(nil) error = %v", err)
	}
}

func TestContractOnFixtures(t *testing.T) {
	for _, name := range fixtures {
		t.Run(name, func(t *testing.T) {
			doc, err := MarshalJSON(loadFixture(t, name))
			if err != nil {
				t.Fatal(err)
			}
			if err := contract.Check(doc); err != nil {
				t.Error(err)
			}
		})
	}
	// The desktop fixture plus the partial one's errors reach every path.
	d, p := loadFixture(t, "desktop"), loadFixture(t, "partial")
	d.Errors = p.Errors
	doc, err := MarshalJSON(d)
	if err != nil {
		t.Fatal(err)
	}
	if err := contract.CheckStrict(doc); err != nil {
		t.Errorf("strict contract check: %v", err)
	}
}

func TestCheckContractViolations(t *testing.T) {
	valid, err := MarshalJSON(loadFixture(t, "desktop"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		edit    func(string) string
		wantMsg string
	}{
		{"int64-style quoted number", func(s string) string {
			return strings.Replace(s, `"schemaVersion": 1`, `"schemaVersion": "1"`, 1)
		}, ".schemaVersion: want number, got string"},
		{"missing member", func(s string) string {
			return strings.Replace(s, `"hostGatewayIp": "192.168.65.254",`, ``, 1)
		}, ".engine.hostGatewayIp: missing"},
		{"null list", func(s string) string {
			return strings.Replace(s, `"errors": []`, `"errors": null`, 1)
		}, ".errors: want array, got null"},
		{"wrong element type", func(s string) string {
			return strings.Replace(s, `"mtu": 65536`, `"mtu": "65536"`, 1)
		}, ".interfaces[0].mtu: want number, got string"},
		{"config not an object", func(s string) string {
			return strings.Replace(s, `"configFile": "/run/config/docker/daemon.json",`, `"configFile": 7,`, 1)
		}, ".daemon.configFile: want string, got number"},
		{"not JSON", func(string) string { return "{" }, "not JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := contract.Check([]byte(tt.edit(string(valid))))
			if !errors.Is(err, contract.ErrViolation) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("contract.Check() = %v, want contract.ErrViolation mentioning %q", err, tt.wantMsg)
			}
		})
	}
}

func TestInetLine(t *testing.T) {
	bcastFlags := []string{"UP", "BROADCAST", "RUNNING", "MULTICAST"}
	tests := []struct {
		name string
		ifc  *probev1.Interface
		addr *probev1.Address
		want string
	}{
		{"broadcast address", &probev1.Interface{Flags: bcastFlags},
			&probev1.Address{Cidr: "192.168.65.3/24", Address: "192.168.65.3", Netmask: "255.255.255.0", Broadcast: "192.168.65.255"},
			"inet addr:192.168.65.3 Bcast:192.168.65.255 Mask:255.255.255.0"},
		{"/32 on a broadcast interface", &probev1.Interface{Flags: bcastFlags},
			&probev1.Address{Cidr: "192.168.65.6/32", PrefixLength: 32},
			"inet addr:192.168.65.6 Bcast:0.0.0.0 Mask:255.255.255.255"},
		{"loopback", &probev1.Interface{Flags: []string{"up", "loopback"}},
			&probev1.Address{Cidr: "127.0.0.1/8"},
			"inet addr:127.0.0.1 Mask:255.0.0.0"},
		{"point to point", &probev1.Interface{Flags: []string{"UP", "POINTOPOINT"}},
			&probev1.Address{Cidr: "10.8.0.2/32", Peer: "10.8.0.1/32"},
			"inet addr:10.8.0.2 P-t-P:10.8.0.1 Mask:255.255.255.255"},
		{"no flags known", &probev1.Interface{},
			&probev1.Address{Cidr: "10.0.0.5/8", Broadcast: "10.255.255.255"},
			"inet addr:10.0.0.5 Bcast:10.255.255.255 Mask:255.0.0.0"},
		{"garbage cidr", &probev1.Interface{},
			&probev1.Address{Cidr: "nonsense"},
			"inet addr:nonsense"},
	}
	for _, tt := range tests {
		if got := inetLine(tt.ifc, tt.addr); got != tt.want {
			t.Errorf("%s: inetLine() = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestTextNetworksWithSeveralSubnets(t *testing.T) {
	r := &probev1.Report{Engine: &probev1.Engine{Networks: []*probev1.Network{
		{Name: "bridge", Driver: "bridge", Scope: "local", Bridge: "docker0", Subnets: []*probev1.Subnet{{Subnet: "172.17.0.0/16", Gateway: "172.17.0.1"}}},
		{Name: "dual", Driver: "bridge", Scope: "local", Bridge: "br-0123456789ab", Subnets: []*probev1.Subnet{
			{Subnet: "172.18.0.0/16", Gateway: "172.18.0.1"}, {Subnet: "fd00:1::/64", Gateway: "fd00:1::1"}}},
		{Name: "none", Driver: "null", Scope: "local"},
	}}}
	var buf bytes.Buffer
	if err := Text(&buf, r, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	want := `
Docker networks
  NAME    DRIVER  SCOPE  SUBNET         GATEWAY     BRIDGE
  bridge  bridge  local  172.17.0.0/16  172.17.0.1  docker0
  dual    bridge  local  172.18.0.0/16  172.18.0.1  br-0123456789ab
                         fd00:1::/64    fd00:1::1
  none    null    local  -              -           -
`
	if !strings.Contains(buf.String(), want) {
		t.Errorf("networks table:\n%s\nwant:%s", buf.String(), want)
	}
}

func TestTextEmptyReport(t *testing.T) {
	for _, r := range []*probev1.Report{nil, {}} {
		var buf bytes.Buffer
		if err := Text(&buf, r, TextOptions{}); err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{"Engine", "Target", "Daemon", "Interfaces", "Routes", "Docker networks", "Host shares", "Host gateway", "Processes of interest", "Errors"} {
			if !strings.Contains(buf.String(), "\n"+s+"\n") {
				t.Errorf("empty report lacks section %q:\n%s", s, buf.String())
			}
		}
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteErrors(t *testing.T) {
	r := &probev1.Report{SchemaVersion: 1}
	if err := Text(failingWriter{}, r, TextOptions{}); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("Text() error = %v", err)
	}
	if err := JSON(failingWriter{}, r); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("JSON() error = %v", err)
	}
}

func TestIsHostShare(t *testing.T) {
	for mp, want := range map[string]bool{
		"/run/desktop/mnt/host/c":     true,
		"/run/desktop/mnt/host/wsl/x": true,
		"/mnt/host/c":                 true,
		"/mnt/host":                   false,
		"/run/desktop/mnt/hostile":    false,
		"/var/lib/docker":             false,
		"/host_mnt/c":                 false,
	} {
		if got := IsHostShare(mp); got != want {
			t.Errorf("IsHostShare(%q) = %v, want %v", mp, got, want)
		}
	}
}

func TestTextMissingSections(t *testing.T) {
	tests := []struct {
		errSection string
		section    string
		want       string
	}{
		{"engine.networks", "Docker networks", "(not collected: see Errors)"},
		{"engine", "Docker networks", "(not collected: see Errors)"},
		{"engine.info", "Docker networks", "(none)"},
		{"mounts", "Host shares", "(not collected: see Errors)"},
		{"processes.kubelet", "Processes of interest", "(not collected: see Errors)"},
		{"routes", "Processes of interest", "(none)"},
	}
	for _, tt := range tests {
		r := &probev1.Report{Errors: []*probev1.SectionError{{Section: tt.errSection, Message: "x"}}}
		var buf bytes.Buffer
		if err := Text(&buf, r, TextOptions{}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(buf.String(), "\n"+tt.section+"\n  "+tt.want+"\n") {
			t.Errorf("error in %q: section %q should say %q:\n%s", tt.errSection, tt.section, tt.want, buf.String())
		}
	}
}

// dockerd's -H is one dash on its command line and in every renderer
// (issue 11: the text report printed "--H").
func TestFlagsKeepTheirDashes(t *testing.T) {
	r := &probev1.Report{Daemon: &probev1.Daemon{Found: true, Pid: 42, Flags: []*probev1.Flag{
		{Name: "H", Value: "unix:///var/run/docker.sock", HasValue: true},
		{Name: "config-file", Value: "/run/config/docker/daemon.json", HasValue: true},
	}}}
	for _, format := range []string{"text", "html"} {
		var buf bytes.Buffer
		if err := Write(&buf, r, Options{Format: format}); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		if strings.Contains(out, "--H") || !strings.Contains(out, "-H") || !strings.Contains(out, "--config-file") {
			t.Errorf("%s: flags spelled wrong (want -H and --config-file):\n%s", format, out)
		}
	}
}
