// Package netif reports the network interfaces, addresses and routes of a
// target process's network namespace, read over rtnetlink with
// github.com/vishvananda/netlink.
//
// Entering the namespace is the only Linux-specific, privileged step and
// lives in netif_linux.go. Turning netlink's structs into report records is
// pure and untagged (ConvertLink, ConvertAddr, ConvertRoute) so it is tested
// with hand-built structs; names for flags, scopes, protocols and route types
// come from this package's tables rather than netlink's String methods,
// which differ off Linux.
package netif

import (
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"

	"github.com/vishvananda/netlink"

	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// ErrUnsupported is returned off Linux.
var ErrUnsupported = fmt.Errorf("network namespaces are linux-only: %w", errors.ErrUnsupported)

// Address families as the kernel numbers them (AF_INET, AF_INET6).
const (
	afInet  = 2
	afInet6 = 10
)

// linkFlagNames are the IFF_* bits (linux/if.h) in the kernel's order, named
// as ip(8) names them, lower-cased and without underscores.
var linkFlagNames = []struct {
	bit  uint32
	name string
}{
	{1 << 0, "up"},
	{1 << 1, "broadcast"},
	{1 << 2, "debug"},
	{1 << 3, "loopback"},
	{1 << 4, "pointtopoint"},
	{1 << 5, "notrailers"},
	{1 << 6, "running"},
	{1 << 7, "noarp"},
	{1 << 8, "promisc"},
	{1 << 9, "allmulti"},
	{1 << 10, "master"},
	{1 << 11, "slave"},
	{1 << 12, "multicast"},
	{1 << 13, "portsel"},
	{1 << 14, "automedia"},
	{1 << 15, "dynamic"},
	{1 << 16, "lowerup"},
	{1 << 17, "dormant"},
	{1 << 18, "echo"},
}

// LinkFlags names the IFF_* bits set in raw.
func LinkFlags(raw uint32) []string {
	var out []string
	for _, f := range linkFlagNames {
		if raw&f.bit != 0 {
			out = append(out, f.name)
		}
	}
	return out
}

// operStates are IF_OPER_* (RFC 2863), named as ip(8) does, lower-cased.
var operStates = []string{"unknown", "notpresent", "down", "lowerlayerdown", "testing", "dormant", "up"}

// OperState names an IF_OPER_* value.
func OperState(s netlink.LinkOperState) string {
	if int(s) < len(operStates) {
		return operStates[s]
	}
	return strconv.Itoa(int(s))
}

// Scope names an RT_SCOPE_* value, for routes and addresses alike.
func Scope(s int) string {
	switch s {
	case 0:
		return "universe"
	case 200:
		return "site"
	case 253:
		return "link"
	case 254:
		return "host"
	case 255:
		return "nowhere"
	}
	return strconv.Itoa(s)
}

// protocols are the RTPROT_* values of linux/rtnetlink.h and iproute2's
// rt_protos.
var protocols = map[int]string{
	0: "unspec", 1: "redirect", 2: "kernel", 3: "boot", 4: "static",
	8: "gated", 9: "ra", 10: "mrt", 11: "zebra", 12: "bird", 13: "dnrouted",
	14: "xorp", 15: "ntk", 16: "dhcp", 17: "mrouted", 18: "keepalived",
	42: "babel", 99: "openr", 186: "bgp", 187: "isis", 188: "ospf", 189: "rip",
	192: "eigrp",
}

// Protocol names an RTPROT_* value.
func Protocol(p int) string {
	if name, ok := protocols[p]; ok {
		return name
	}
	return strconv.Itoa(p)
}

// routeTypes are the RTN_* values.
var routeTypes = []string{"unspec", "unicast", "local", "broadcast", "anycast", "multicast",
	"blackhole", "unreachable", "prohibit", "throw", "nat", "xresolve"}

// RouteType names an RTN_* value.
func RouteType(t int) string {
	if t >= 0 && t < len(routeTypes) {
		return routeTypes[t]
	}
	return strconv.Itoa(t)
}

// routeFlagNames are the RTNH_F_* next-hop bits and RTM_F_* route bits that
// a route dump can carry in rtm_flags.
var routeFlagNames = []struct {
	bit  int
	name string
}{
	{0x1, "dead"},
	{0x2, "pervasive"},
	{0x4, "onlink"},
	{0x8, "offload"},
	{0x10, "linkdown"},
	{0x20, "unresolved"},
	{0x40, "trap"},
	{0x100, "notify"},
	{0x200, "cloned"},
	{0x400, "equalize"},
	{0x800, "prefix"},
	{0x1000, "lookup-table"},
	{0x2000, "fib-match"},
	{0x4000, "rt-offload"},
	{0x8000, "rt-trap"},
	{0x20000000, "rt-offload-failed"},
}

// RouteFlags names the bits set in a route's flags.
func RouteFlags(flags int) []string {
	var out []string
	for _, f := range routeFlagNames {
		if flags&f.bit != 0 {
			out = append(out, f.name)
		}
	}
	return out
}

// ConvertLink turns a link and the addresses on it into an Interface. names
// maps ifindex to name in the same namespace, for the master. A veth's
// peer_index is its IFLA_LINK; link_netnsid is the peer's namespace id as
// this namespace knows it, or -1 for a veth whose peer is in this same
// namespace (the kernel then sends no IFLA_LINK_NETNSID).
func ConvertLink(link netlink.Link, addrs []netlink.Addr, names map[int]string) *probev1.Interface {
	a := link.Attrs()
	out := &probev1.Interface{
		Name:        a.Name,
		Index:       int32(a.Index),
		Flags:       LinkFlags(a.RawFlags),
		Mtu:         int32(a.MTU),
		Kind:        link.Type(),
		MasterIndex: int32(a.MasterIndex),
		OperState:   OperState(a.OperState),
		Alias:       a.Alias,
	}
	if len(a.HardwareAddr) > 0 {
		out.Mac = a.HardwareAddr.String()
	}
	if a.MasterIndex > 0 {
		out.Master = names[a.MasterIndex]
	}
	if a.NetNsID >= 0 {
		out.LinkNetnsid = int32(a.NetNsID)
	}
	if out.Kind == "veth" && a.ParentIndex > 0 {
		out.PeerIndex = int32(a.ParentIndex)
		if a.NetNsID < 0 {
			out.LinkNetnsid = -1
		}
	}
	for _, addr := range addrs {
		if addr.LinkIndex == a.Index {
			if conv := ConvertAddr(addr); conv != nil {
				out.Addresses = append(out.Addresses, conv)
			}
		}
	}
	return out
}

// ConvertAddr turns one address into an Address; nil for an empty one.
// IPv4 addresses get a dotted netmask; broadcast is the kernel's
// IFA_BROADCAST, left empty when the kernel has none (it is not derived).
func ConvertAddr(a netlink.Addr) *probev1.Address {
	if a.IPNet == nil || a.IP == nil {
		return nil
	}
	ones, _ := a.Mask.Size()
	out := &probev1.Address{
		Address:      a.IP.String(),
		PrefixLength: int32(ones),
		Scope:        Scope(a.Scope),
		Label:        a.Label,
	}
	out.Cidr = out.Address + "/" + strconv.Itoa(ones)
	if a.IP.To4() != nil {
		out.Family = "inet"
		out.Netmask = net.IP(net.CIDRMask(ones, 32)).String()
	} else {
		out.Family = "inet6"
	}
	if a.Broadcast != nil {
		out.Broadcast = a.Broadcast.String()
	}
	if a.Peer != nil && a.Peer.IP != nil {
		pones, _ := a.Peer.Mask.Size()
		out.Peer = a.Peer.IP.String() + "/" + strconv.Itoa(pones)
	}
	return out
}

// ConvertRoute turns a route into a Route. names maps ifindex to name. A
// multipath route shows its first next hop and the flag "multipath".
func ConvertRoute(r netlink.Route, names map[int]string) *probev1.Route {
	out := &probev1.Route{
		Family:   family(r),
		Protocol: Protocol(int(r.Protocol)),
		Scope:    Scope(int(r.Scope)),
		Type:     RouteType(r.Type),
		Table:    int32(r.Table),
		Metric:   int32(r.Priority),
		Flags:    RouteFlags(r.Flags),
	}
	if r.Dst == nil || r.Dst.IP == nil {
		out.Destination = "default"
	} else if ones, _ := r.Dst.Mask.Size(); ones == 0 && r.Dst.IP.IsUnspecified() {
		out.Destination = "default"
	} else {
		out.Destination = r.Dst.IP.String() + "/" + strconv.Itoa(ones)
	}
	gw, ifindex := r.Gw, r.LinkIndex
	if len(r.MultiPath) > 0 {
		out.Flags = append(out.Flags, "multipath")
		if gw == nil {
			gw = r.MultiPath[0].Gw
		}
		if ifindex == 0 {
			ifindex = r.MultiPath[0].LinkIndex
		}
	}
	if gw != nil {
		out.Gateway = gw.String()
	}
	if ifindex > 0 {
		out.Device = names[ifindex]
		if out.Device == "" {
			out.Device = "if" + strconv.Itoa(ifindex)
		}
	}
	if r.Src != nil {
		out.Source = r.Src.String()
	}
	return out
}

func family(r netlink.Route) string {
	switch r.Family {
	case afInet:
		return "inet"
	case afInet6:
		return "inet6"
	}
	for _, ip := range []net.IP{ipOf(r.Dst), r.Gw, r.Src} {
		if ip != nil {
			if ip.To4() != nil {
				return "inet"
			}
			return "inet6"
		}
	}
	return strconv.Itoa(r.Family)
}

func ipOf(n *net.IPNet) net.IP {
	if n == nil {
		return nil
	}
	return n.IP
}

// ConvertLinks converts every link, in ifindex order, with its addresses.
func ConvertLinks(links []netlink.Link, addrs []netlink.Addr) []*probev1.Interface {
	names := Names(links)
	out := make([]*probev1.Interface, 0, len(links))
	for _, l := range links {
		if l == nil || l.Attrs() == nil {
			continue
		}
		out = append(out, ConvertLink(l, addrs, names))
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Index < out[j].Index })
	return out
}

// Names maps ifindex to interface name.
func Names(links []netlink.Link) map[int]string {
	names := make(map[int]string, len(links))
	for _, l := range links {
		if l != nil && l.Attrs() != nil {
			names[l.Attrs().Index] = l.Attrs().Name
		}
	}
	return names
}
