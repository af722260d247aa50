package diff

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

func load(t *testing.T, path string) *probev1.Report {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Load(data)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// afterVPN is the desktop fixture once a VPN is up: a tun0 with a route
// over the Docker subnet, a changed MTU, a new network, a new finding.
func afterVPN(r *probev1.Report) *probev1.Report {
	a := proto.CloneOf(r)
	a.Interfaces = append(a.Interfaces, &probev1.Interface{Name: "tun0", Kind: "tun", Mtu: 1400, OperState: "UP",
		Addresses: []*probev1.Address{{Cidr: "192.168.64.2/22"}}})
	a.Interfaces[1].Mtu = 1400
	a.Routes = append(a.Routes, &probev1.Route{Destination: "192.168.64.0/22", Device: "tun0", Protocol: "kernel"})
	a.Engine.Networks = append(a.Engine.Networks, &probev1.Network{Name: "app_default", Driver: "bridge",
		Subnets: []*probev1.Subnet{{Subnet: "172.18.0.0/16", Gateway: "172.18.0.1"}}})
	a.Mounts = a.Mounts[:len(a.Mounts)-1]
	for _, f := range a.Daemon.Flags {
		if f.Name == "host-gateway-ip" {
			f.Value = "192.168.65.2"
		}
	}
	a.Findings = append(a.Findings, &probev1.Finding{Id: "net.subnet-overlap", Severity: "error", Summary: "overlap"})
	return a
}

func TestCompare(t *testing.T) {
	before := load(t, "../report/testdata/desktop.report.json")
	if cs := Compare(before, before); len(cs) != 0 {
		t.Fatalf("a report differs from itself: %v", cs)
	}
	cs := Compare(before, afterVPN(before))
	got := map[string]Change{}
	for _, c := range cs {
		got[c.Section+"/"+c.Change+"/"+c.Key] = c
	}
	for _, want := range []string{
		"interfaces/added/tun0", "interfaces/changed/eth0", "addresses/added/tun0 192.168.64.2/22",
		"routes/added/192.168.64.0/22", "networks/added/app_default", "flags/changed/--host-gateway-ip",
		"findings/added/net.subnet-overlap", "mounts/removed/" + before.Mounts[len(before.Mounts)-1].MountPoint,
	} {
		if _, ok := got[want]; !ok {
			t.Errorf("missing change %s in %v", want, cs)
		}
	}
	if c := got["flags/changed/--host-gateway-ip"]; c.Before != "192.168.65.254" || c.After != "192.168.65.2" {
		t.Errorf("flag change: %+v", c)
	}
	if c := got["interfaces/changed/eth0"]; !strings.Contains(c.Before, "mtu 1500") || !strings.Contains(c.After, "mtu 1400") {
		t.Errorf("mtu change: %+v", c)
	}
}

func TestOutputs(t *testing.T) {
	before := load(t, "../report/testdata/desktop.report.json")
	res := Result{A: "before.json", B: "after.json", Changes: Compare(before, afterVPN(before))}
	res.Differ = len(res.Changes) > 0
	var txt, js bytes.Buffer
	if err := Text(&txt, res); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"--- before.json\n+++ after.json\n", "\n  + tun0  kind tun mtu 1400", "\nflags\n  ~ --host-gateway-ip\n      before: 192.168.65.254\n      after:  192.168.65.2\n"} {
		if !strings.Contains(txt.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, txt.String())
		}
	}
	if err := JSON(&js, res); err != nil {
		t.Fatal(err)
	}
	var back Result
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || !back.Differ || len(back.Changes) != len(res.Changes) {
		t.Errorf("JSON round trip: %v %+v", err, back)
	}
	var same bytes.Buffer
	if err := JSON(&same, Result{A: "a", B: "a"}); err != nil || !strings.Contains(same.String(), `"changes": []`) {
		t.Errorf("no-change JSON: %s", same.String())
	}
}

func TestLoadRejectsGarbage(t *testing.T) {
	if _, err := Load([]byte("not json")); err == nil {
		t.Error("garbage loaded")
	}
	if _, err := Load([]byte("PK\x03\x04garbage")); err == nil {
		t.Error("a broken zip loaded")
	}
}

// A real pair from the LinuxKit-shaped engine: before, and after a tun0
// with 10.20.30.40/16, a route to 10.30.0.0/24 over it and a new Docker
// network (vpn_test, 172.29.0.0/16) appeared.
func TestRealPairBeforeAfterVPN(t *testing.T) {
	before, after := load(t, "testdata/lkenv-before.report.json"), load(t, "testdata/lkenv-after.report.json")
	cs := Compare(before, after)
	got := map[string]Change{}
	for _, c := range cs {
		got[c.Section+"/"+c.Change+"/"+c.Key] = c
		if c.Section == "mounts" {
			t.Errorf("a per-container mount was compared: %+v", c)
		}
		if c.Change == "removed" {
			t.Errorf("nothing was removed, yet: %+v", c)
		}
	}
	for _, want := range []string{"interfaces/added/tun0", "addresses/added/tun0 10.20.30.40/16", "routes/added/10.20.0.0/16",
		"routes/added/10.30.0.0/24", "networks/added/vpn_test", "routes/added/172.29.0.0/16"} {
		if _, ok := got[want]; !ok {
			t.Errorf("missing %s", want)
		}
	}
	if c := got["routes/added/10.30.0.0/24"]; !strings.Contains(c.After, "via 10.20.0.1 dev tun0") {
		t.Errorf("route: %+v", c)
	}
	if cs := Compare(after, after); len(cs) != 0 {
		t.Errorf("a real report differs from itself: %v", cs)
	}
}
