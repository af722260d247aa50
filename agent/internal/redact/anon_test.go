package redact

import (
	"net/netip"
	"strings"
	"testing"

	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

func vpnReport() *probev1.Report {
	return &probev1.Report{
		Engine: &probev1.Engine{Name: "corp-laptop-42", Networks: []*probev1.Network{
			{Name: "bridge", Subnets: []*probev1.Subnet{{Subnet: "172.17.0.0/16", Gateway: "172.17.0.1"}}},
			{Name: "compose_default", Subnets: []*probev1.Subnet{{Subnet: "192.168.0.0/20", Gateway: "192.168.0.1"}}},
		}},
		Target: &probev1.Target{Hostname: "corp-laptop-42", KernelRelease: "5.15.133.1-microsoft-standard-WSL2"},
		Interfaces: []*probev1.Interface{
			{Name: "eth0", Mac: "02:50:00:00:00:01", Addresses: []*probev1.Address{{Cidr: "192.168.65.3/24", Broadcast: "192.168.65.255"}}},
			{Name: "tun0", Mac: "5c:26:0a:11:22:33", Addresses: []*probev1.Address{{Cidr: "10.20.30.40/16", Broadcast: "10.20.255.255", Netmask: "255.255.0.0"}}},
			{Name: "cni0", Addresses: []*probev1.Address{{Cidr: "10.1.0.1/16"}}},
		},
		Routes: []*probev1.Route{
			{Destination: "10.20.0.0/16", Device: "tun0", Source: "10.20.30.40"},
			{Destination: "10.30.0.0/24", Gateway: "10.20.0.1", Device: "tun0"},
			{Destination: "default", Gateway: "192.168.65.1"},
		},
		Mounts:    []*probev1.Mount{{MountPoint: "/run/desktop/mnt/host/c/Users/alice/src", Source: `C:\Users\alice\src`}},
		Processes: []*probev1.Process{{Argv: []string{"vpnd", "--peer", "203.0.113.7", "--mac", "5C:26:0A:11:22:33", "--host", "corp-laptop-42.corp.example"}}},
	}
}

func TestAnonymizeKeepsRelationships(t *testing.T) {
	a := NewAnonymizer()
	s := New(a)
	r := s.Report(vpnReport())

	// Docker's ranges stay readable.
	if got := r.GetInterfaces()[0].GetAddresses()[0].GetCidr(); got != "192.168.65.3/24" {
		t.Errorf("the Docker subnet changed: %s", got)
	}
	if got := r.GetInterfaces()[2].GetAddresses()[0].GetCidr(); got != "10.1.0.1/16" {
		t.Errorf("cni0 changed: %s", got)
	}
	if got := r.GetRoutes()[2].GetGateway(); got != "192.168.65.1" {
		t.Errorf("the VM gateway changed: %s", got)
	}
	if got := r.GetTarget().GetKernelRelease(); got != "5.15.133.1-microsoft-standard-WSL2" {
		t.Errorf("a version string was taken for an address: %s", got)
	}
	// The VPN subnet maps into one fake subnet: the address, its route,
	// its broadcast and the gateway of another route all stay inside it.
	tun := r.GetInterfaces()[1].GetAddresses()[0]
	p, err := netip.ParsePrefix(tun.GetCidr())
	if err != nil || strings.HasPrefix(tun.GetCidr(), "10.20.") {
		t.Fatalf("tun0 address not anonymized: %s", tun.GetCidr())
	}
	subnet := p.Masked()
	if r.GetRoutes()[0].GetDestination() != subnet.String() {
		t.Errorf("route %s does not match the address's fake subnet %s", r.GetRoutes()[0].GetDestination(), subnet)
	}
	for _, ip := range []string{r.GetRoutes()[0].GetSource(), r.GetRoutes()[1].GetGateway(), tun.GetBroadcast()} {
		if !subnet.Contains(netip.MustParseAddr(ip)) {
			t.Errorf("%s is outside the fake subnet %s", ip, subnet)
		}
	}
	if r.GetRoutes()[0].GetSource() != p.Addr().String() {
		t.Errorf("the same address got two pseudonyms: %s and %s", r.GetRoutes()[0].GetSource(), p.Addr())
	}
	if tun.GetNetmask() != "255.255.0.0" {
		t.Errorf("netmask changed: %s", tun.GetNetmask())
	}
	// Host part kept: .1 stays .1.
	if !strings.HasSuffix(r.GetRoutes()[1].GetGateway(), ".0.1") {
		t.Errorf("gateway lost its host part: %s", r.GetRoutes()[1].GetGateway())
	}
	// Hostname, user, MAC (any case), public IP.
	text := r.String()
	for _, leak := range []string{"corp-laptop-42", "alice", "5c:26:0a", "5C:26:0A", "203.0.113.7", "10.20.30.40", "10.30.0"} {
		if strings.Contains(text, leak) {
			t.Errorf("%q survived anonymization", leak)
		}
	}
	if r.GetEngine().GetName() != r.GetTarget().GetHostname() || r.GetEngine().GetName() != "host-1" {
		t.Errorf("hostnames not consistent: %s %s", r.GetEngine().GetName(), r.GetTarget().GetHostname())
	}
	if !strings.Contains(r.GetMounts()[0].GetMountPoint(), "/Users/user-1/") || !strings.Contains(r.GetMounts()[0].GetSource(), `\Users\user-1\`) {
		t.Errorf("user not pseudonymized consistently: %s %s", r.GetMounts()[0].GetMountPoint(), r.GetMounts()[0].GetSource())
	}
	if r.GetInterfaces()[1].GetMac() != strings.ToLower(r.GetProcesses()[0].GetArgv()[4]) {
		t.Errorf("MAC pseudonyms differ by case: %s %s", r.GetInterfaces()[1].GetMac(), r.GetProcesses()[0].GetArgv()[4])
	}
	// The mapping knows it all, and scrubbing twice changes nothing.
	m := a.Mapping()
	if m["subnets"]["10.20.0.0/16"] != subnet.String() || m["hostnames"]["corp-laptop-42"] != "host-1" || m["users"]["alice"] != "user-1" {
		t.Errorf("mapping: %v", m)
	}
	if again := s.Report(r); again.String() != r.String() {
		t.Error("anonymizing twice changed the report")
	}
}
