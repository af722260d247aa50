package cni

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var parseTests = []struct {
	name  string
	input string // or file:<testdata name>
	want  *Network
	err   bool
}{
	{
		name:  "nerdctl default bridge",
		input: "file:nerdctl-bridge.conflist",
		want: &Network{
			Name: "bridge", CNIVersion: "1.0.0", Type: "bridge",
			Plugins:   []string{"bridge", "portmap", "firewall", "tuning"},
			Bridge:    "nerdctl0",
			Subnets:   []Subnet{{Subnet: "10.4.0.0/24", Gateway: "10.4.0.1"}},
			NerdctlID: "17f29b073143d8cd97b5bbe492bdeffec1c5fee55cc1fe2112c8b9335f8b6121",
			Labels:    map[string]string{},
		},
	},
	{
		name:  "k3s flannel (Rancher Desktop's Kubernetes)",
		input: "file:k3s-flannel.conflist",
		want: &Network{
			Name: "cbr0", CNIVersion: "1.0.0", Type: "flannel",
			Plugins: []string{"flannel", "portmap", "bandwidth"},
			Bridge:  "cni0",
		},
	},
	{
		name:  "single-plugin .conf",
		input: "file:legacy-bridge.conf",
		want: &Network{
			Name: "mynet", CNIVersion: "0.4.0", Type: "bridge", Plugins: []string{"bridge"},
			Bridge: "cni0", Subnets: []Subnet{{Subnet: "10.22.0.0/16", Gateway: "10.22.0.1"}},
		},
	},
	{
		name:  "dual stack ranges",
		input: `{"name":"ds","plugins":[{"type":"bridge","bridge":"br-ds","ipam":{"type":"host-local","ranges":[[{"subnet":"10.5.0.0/24","rangeStart":"10.5.0.10","rangeEnd":"10.5.0.20"}],[{"subnet":"fd00::/64","gateway":"fd00::1"}]]}}]}`,
		want: &Network{
			Name: "ds", Type: "bridge", Plugins: []string{"bridge"}, Bridge: "br-ds",
			Subnets: []Subnet{{Subnet: "10.5.0.0/24", RangeStart: "10.5.0.10", RangeEnd: "10.5.0.20"}, {Subnet: "fd00::/64", Gateway: "fd00::1"}},
		},
	},
	{name: "empty", input: ``, err: true},
	{name: "not JSON", input: `name = "bridge"`, err: true},
	{name: "no name", input: `{"plugins":[{"type":"bridge"}]}`, err: true},
	{name: "no type", input: `{"name":"x"}`, err: true},
	{name: "plugin without type", input: `{"name":"x","plugins":[{"bridge":"b"}]}`, err: true},
	{name: "wrong types", input: `{"name":"x","plugins":"bridge"}`, err: true},
}

func input(t testing.TB, s string) string {
	if f, ok := strings.CutPrefix(s, "file:"); ok {
		b, err := os.ReadFile(filepath.Join("testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	return s
}

func TestParse(t *testing.T) {
	for _, tt := range parseTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(strings.NewReader(input(t, tt.input)))
			if tt.err {
				if !errors.Is(err, ErrParse) {
					t.Fatalf("got %+v, %v; want an ErrParse", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestProto(t *testing.T) {
	n, err := Parse(strings.NewReader(input(t, "file:nerdctl-bridge.conflist")))
	if err != nil {
		t.Fatal(err)
	}
	p := n.Proto("/etc/cni/net.d/nerdctl-bridge.conflist")
	if p.GetName() != "bridge" || p.GetDriver() != "bridge" || p.GetBridge() != "nerdctl0" || p.GetScope() != "local" {
		t.Errorf("network %v", p)
	}
	if len(p.GetSubnets()) != 1 || p.GetSubnets()[0].GetSubnet() != "10.4.0.0/24" || p.GetSubnets()[0].GetGateway() != "10.4.0.1" {
		t.Errorf("subnets %v", p.GetSubnets())
	}
	if p.GetOptions()["cni.file"] != "/etc/cni/net.d/nerdctl-bridge.conflist" || p.GetOptions()["cni.plugins"] != "bridge,portmap,firewall,tuning" {
		t.Errorf("options %v", p.GetOptions())
	}
}

func TestParseTooLarge(t *testing.T) {
	big := `{"name":"x","type":"bridge","pad":"` + strings.Repeat("a", MaxSize) + `"}`
	if _, err := Parse(strings.NewReader(big)); !errors.Is(err, ErrParse) {
		t.Fatalf("got %v, want ErrParse", err)
	}
}

func FuzzParse(f *testing.F) {
	for _, tt := range parseTests {
		f.Add(input(f, tt.input))
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Parse(strings.NewReader(s))
		if err == nil && (n.Name == "" || n.Type == "" || len(n.Plugins) == 0) {
			t.Fatalf("accepted %q as %+v", s, n)
		}
		if err == nil {
			n.Proto("f")
		}
	})
}
