package netif

import (
	"net"
	"reflect"
	"testing"

	"github.com/vishvananda/netlink"
	"google.golang.org/protobuf/proto"

	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

func cidr(s string) *net.IPNet {
	ip, n, err := net.ParseCIDR(s)
	if err != nil {
		panic(err)
	}
	n.IP = ip // netlink reports the address itself, not the network
	return n
}

func mac(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

const (
	iffUp        = 1 << 0
	iffBroadcast = 1 << 1
	iffLoopback  = 1 << 3
	iffRunning   = 1 << 6
	iffMulticast = 1 << 12
	iffLowerUp   = 1 << 16
)

// A Docker Desktop VM as the kernel reports it: lo, eth0 (192.168.65.3),
// docker0 with one container's veth enslaved, and a "services1" veth whose
// address has no broadcast.
var (
	lo = &netlink.Device{LinkAttrs: netlink.LinkAttrs{
		Index: 1, Name: "lo", MTU: 65536, RawFlags: iffUp | iffLoopback | iffRunning | iffLowerUp,
		HardwareAddr: mac("00:00:00:00:00:00"), OperState: netlink.OperUnknown, NetNsID: -1,
	}}
	eth0 = &netlink.Device{LinkAttrs: netlink.LinkAttrs{
		Index: 2, Name: "eth0", MTU: 65535, RawFlags: iffUp | iffBroadcast | iffRunning | iffMulticast | iffLowerUp,
		HardwareAddr: mac("02:50:00:00:00:01"), OperState: netlink.OperUp, NetNsID: -1,
	}}
	docker0 = &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{
		Index: 5, Name: "docker0", MTU: 1500, RawFlags: iffUp | iffBroadcast | iffRunning | iffMulticast | iffLowerUp,
		HardwareAddr: mac("02:42:5d:1e:8a:3c"), OperState: netlink.OperUp, NetNsID: -1,
	}}
	vethC = &netlink.Veth{LinkAttrs: netlink.LinkAttrs{
		Index: 7, Name: "veth3b1c2d4", MTU: 1500, RawFlags: iffUp | iffBroadcast | iffRunning | iffMulticast | iffLowerUp,
		HardwareAddr: mac("6e:1f:0a:22:33:44"), OperState: netlink.OperUp, MasterIndex: 5, ParentIndex: 6, NetNsID: 0,
		Alias: "container web-1",
	}}
	services1 = &netlink.Veth{LinkAttrs: netlink.LinkAttrs{
		Index: 9, Name: "services1", MTU: 65535, RawFlags: iffUp | iffBroadcast | iffRunning | iffMulticast | iffLowerUp,
		HardwareAddr: mac("fa:2b:3c:4d:5e:6f"), OperState: netlink.OperUp, ParentIndex: 8, NetNsID: -1,
	}}
	vpn = &netlink.GenericLink{LinkAttrs: netlink.LinkAttrs{
		Index: 11, Name: "tun0", MTU: 1420, RawFlags: iffUp | 1<<4 | iffRunning | 1<<7, OperState: netlink.OperUnknown, NetNsID: -1,
	}, LinkType: "tun"}

	addrs = []netlink.Addr{
		{IPNet: cidr("127.0.0.1/8"), Label: "lo", Scope: 254, LinkIndex: 1},
		{IPNet: cidr("::1/128"), Scope: 254, LinkIndex: 1},
		{IPNet: cidr("192.168.65.3/24"), Label: "eth0", Broadcast: net.ParseIP("192.168.65.255"), LinkIndex: 2},
		{IPNet: cidr("fe80::50:ff:fe00:1/64"), Scope: 253, LinkIndex: 2},
		{IPNet: cidr("172.17.0.1/16"), Label: "docker0", Broadcast: net.ParseIP("172.17.255.255"), LinkIndex: 5},
		{IPNet: cidr("192.168.65.6/24"), Label: "services1", LinkIndex: 9},
		{IPNet: cidr("10.8.0.2/32"), Peer: cidr("10.8.0.1/32"), Label: "tun0", LinkIndex: 11},
	}
)

func TestConvertLinks(t *testing.T) {
	got := ConvertLinks([]netlink.Link{docker0, eth0, lo, vethC, services1, vpn}, addrs)
	want := []*probev1.Interface{
		{
			Name: "lo", Index: 1, Flags: []string{"up", "loopback", "running", "lowerup"}, Mtu: 65536,
			Mac: "00:00:00:00:00:00", Kind: "device", OperState: "unknown",
			Addresses: []*probev1.Address{
				{Family: "inet", Cidr: "127.0.0.1/8", Address: "127.0.0.1", PrefixLength: 8, Netmask: "255.0.0.0", Scope: "host", Label: "lo"},
				{Family: "inet6", Cidr: "::1/128", Address: "::1", PrefixLength: 128, Scope: "host"},
			},
		},
		{
			Name: "eth0", Index: 2, Flags: []string{"up", "broadcast", "running", "multicast", "lowerup"}, Mtu: 65535,
			Mac: "02:50:00:00:00:01", Kind: "device", OperState: "up",
			Addresses: []*probev1.Address{
				{Family: "inet", Cidr: "192.168.65.3/24", Address: "192.168.65.3", PrefixLength: 24, Netmask: "255.255.255.0", Broadcast: "192.168.65.255", Scope: "universe", Label: "eth0"},
				{Family: "inet6", Cidr: "fe80::50:ff:fe00:1/64", Address: "fe80::50:ff:fe00:1", PrefixLength: 64, Scope: "link"},
			},
		},
		{
			Name: "docker0", Index: 5, Flags: []string{"up", "broadcast", "running", "multicast", "lowerup"}, Mtu: 1500,
			Mac: "02:42:5d:1e:8a:3c", Kind: "bridge", OperState: "up",
			Addresses: []*probev1.Address{
				{Family: "inet", Cidr: "172.17.0.1/16", Address: "172.17.0.1", PrefixLength: 16, Netmask: "255.255.0.0", Broadcast: "172.17.255.255", Scope: "universe", Label: "docker0"},
			},
		},
		{
			Name: "veth3b1c2d4", Index: 7, Flags: []string{"up", "broadcast", "running", "multicast", "lowerup"}, Mtu: 1500,
			Mac: "6e:1f:0a:22:33:44", Kind: "veth", Master: "docker0", MasterIndex: 5, PeerIndex: 6, LinkNetnsid: 0,
			OperState: "up", Alias: "container web-1",
		},
		{
			Name: "services1", Index: 9, Flags: []string{"up", "broadcast", "running", "multicast", "lowerup"}, Mtu: 65535,
			Mac: "fa:2b:3c:4d:5e:6f", Kind: "veth", PeerIndex: 8, LinkNetnsid: -1, OperState: "up",
			Addresses: []*probev1.Address{
				// No IFA_BROADCAST from the kernel: left empty, not derived.
				{Family: "inet", Cidr: "192.168.65.6/24", Address: "192.168.65.6", PrefixLength: 24, Netmask: "255.255.255.0", Scope: "universe", Label: "services1"},
			},
		},
		{
			Name: "tun0", Index: 11, Flags: []string{"up", "pointtopoint", "running", "noarp"}, Mtu: 1420,
			Kind: "tun", OperState: "unknown",
			Addresses: []*probev1.Address{
				{Family: "inet", Cidr: "10.8.0.2/32", Address: "10.8.0.2", PrefixLength: 32, Netmask: "255.255.255.255", Scope: "universe", Label: "tun0", Peer: "10.8.0.1/32"},
			},
		},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d interfaces, want %d", len(got), len(want))
	}
	for i := range want {
		if !proto.Equal(got[i], want[i]) {
			t.Errorf("interface %d =\n%v\nwant\n%v", i, got[i], want[i])
		}
	}
}

func TestConvertRoute(t *testing.T) {
	names := map[int]string{1: "lo", 2: "eth0", 5: "docker0"}
	tests := []struct {
		name  string
		route netlink.Route
		want  *probev1.Route
	}{
		{
			name:  "default v4",
			route: netlink.Route{Family: afInet, LinkIndex: 2, Gw: net.ParseIP("192.168.65.1"), Protocol: 3, Table: 254, Type: 1},
			want:  &probev1.Route{Family: "inet", Destination: "default", Gateway: "192.168.65.1", Device: "eth0", Protocol: "boot", Scope: "universe", Type: "unicast", Table: 254},
		},
		{
			name:  "explicit 0.0.0.0/0",
			route: netlink.Route{Family: afInet, LinkIndex: 2, Dst: cidr("0.0.0.0/0"), Gw: net.ParseIP("192.168.65.1"), Table: 254, Type: 1},
			want:  &probev1.Route{Family: "inet", Destination: "default", Gateway: "192.168.65.1", Device: "eth0", Protocol: "unspec", Scope: "universe", Type: "unicast", Table: 254},
		},
		{
			name:  "connected docker0, link down",
			route: netlink.Route{Family: afInet, LinkIndex: 5, Dst: cidr("172.17.0.0/16"), Src: net.ParseIP("172.17.0.1"), Protocol: 2, Scope: 253, Table: 254, Type: 1, Flags: 0x10},
			want:  &probev1.Route{Family: "inet", Destination: "172.17.0.0/16", Device: "docker0", Source: "172.17.0.1", Protocol: "kernel", Scope: "link", Type: "unicast", Table: 254, Flags: []string{"linkdown"}},
		},
		{
			name:  "local table",
			route: netlink.Route{Family: afInet, LinkIndex: 1, Dst: cidr("127.0.0.1/32"), Src: net.ParseIP("127.0.0.1"), Protocol: 2, Scope: 254, Table: 255, Type: 2},
			want:  &probev1.Route{Family: "inet", Destination: "127.0.0.1/32", Device: "lo", Source: "127.0.0.1", Protocol: "kernel", Scope: "host", Type: "local", Table: 255},
		},
		{
			name:  "v6 with metric",
			route: netlink.Route{Family: afInet6, LinkIndex: 2, Dst: cidr("fe80::/64"), Protocol: 2, Table: 254, Type: 1, Priority: 256},
			want:  &probev1.Route{Family: "inet6", Destination: "fe80::/64", Device: "eth0", Protocol: "kernel", Scope: "universe", Type: "unicast", Table: 254, Metric: 256},
		},
		{
			name:  "unknown device and protocol, policy table",
			route: netlink.Route{LinkIndex: 42, Dst: cidr("10.9.0.0/16"), Protocol: 77, Table: 1000, Type: 6},
			want:  &probev1.Route{Family: "inet", Destination: "10.9.0.0/16", Device: "if42", Protocol: "77", Scope: "universe", Type: "blackhole", Table: 1000},
		},
		{
			name: "multipath",
			route: netlink.Route{Family: afInet, Dst: cidr("10.0.0.0/8"), Table: 254, Type: 1, MultiPath: []*netlink.NexthopInfo{
				{LinkIndex: 2, Gw: net.ParseIP("192.168.65.1")}, {LinkIndex: 5, Gw: net.ParseIP("172.17.0.2")},
			}},
			want: &probev1.Route{Family: "inet", Destination: "10.0.0.0/8", Gateway: "192.168.65.1", Device: "eth0", Protocol: "unspec", Scope: "universe", Type: "unicast", Table: 254, Flags: []string{"multipath"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ConvertRoute(tt.route, names); !proto.Equal(got, tt.want) {
				t.Errorf("ConvertRoute =\n%v\nwant\n%v", got, tt.want)
			}
		})
	}
}

func TestNames(t *testing.T) {
	if got := LinkFlags(0); got != nil {
		t.Errorf("LinkFlags(0) = %q", got)
	}
	if got := RouteFlags(0x4 | 0x200); !reflect.DeepEqual(got, []string{"onlink", "cloned"}) {
		t.Errorf("RouteFlags = %q", got)
	}
	if OperState(netlink.OperLowerLayerDown) != "lowerlayerdown" || OperState(99) != "99" {
		t.Error("OperState names")
	}
	if Scope(17) != "17" || RouteType(99) != "99" || RouteType(-1) != "-1" {
		t.Error("numbers for unknown values")
	}
	if ConvertAddr(netlink.Addr{}) != nil {
		t.Error("ConvertAddr of an empty address is not nil")
	}
}

func BenchmarkConvertLinks(b *testing.B) {
	links := []netlink.Link{lo, eth0, docker0, vethC, services1, vpn}
	b.ReportAllocs()
	for b.Loop() {
		ConvertLinks(links, addrs)
	}
}

// FuzzConvert feeds the converters the odd shapes a kernel or a bug could
// hand them (truncated addresses, non-canonical masks, unknown numbers).
func FuzzConvert(f *testing.F) {
	f.Add([]byte{192, 168, 65, 3}, []byte{255, 255, 255, 0}, uint32(iffUp|iffLowerUp), 0, 2, 1, 0x10)
	f.Add([]byte(net.ParseIP("fe80::1")), []byte(net.CIDRMask(64, 128)), uint32(0), 253, 3, 6, 0)
	f.Add([]byte{}, []byte{255, 0, 255, 0}, ^uint32(0), 300, 255, 99, -1)
	f.Fuzz(func(t *testing.T, ip, mask []byte, flags uint32, scope, proto, typ, rflags int) {
		n := &net.IPNet{IP: net.IP(ip), Mask: net.IPMask(mask)}
		ConvertAddr(netlink.Addr{IPNet: n, Scope: scope, Broadcast: net.IP(ip), Peer: n})
		ConvertRoute(netlink.Route{Dst: n, Gw: net.IP(ip), Src: net.IP(mask), Protocol: netlink.RouteProtocol(proto), Scope: netlink.Scope(uint8(scope)), Type: typ, Flags: rflags, LinkIndex: scope}, nil)
		link := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Index: 1, RawFlags: flags, ParentIndex: proto, NetNsID: typ, MasterIndex: scope, HardwareAddr: net.HardwareAddr(mask)}}
		ConvertLinks([]netlink.Link{link, nil}, []netlink.Addr{{IPNet: n, LinkIndex: 1}})
	})
}
